/**
 * Checks the KEDA manifests of kubernetes/ against KEDA's own schemas (npm
 * `@kubernetes-models/keda`, generated from KEDA's CRDs): kubernetes-validate knows only the
 * core API.
 *
 *   node deploy/validate-keda.mjs kubernetes/scaledobject.yaml
 */
import { readFileSync } from "node:fs";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";
import { parseAllDocuments } from "yaml";

const kinds = { ScaledObject };
let failed = false;
for (const file of process.argv.slice(2)) {
  for (const document of parseAllDocuments(readFileSync(file, "utf8"))) {
    const manifest = document.toJS();
    const Kind = kinds[manifest.kind];
    try {
      if (!Kind) throw new Error(`no KEDA schema for kind ${manifest.kind}`);
      new Kind(manifest).validate();
      console.log(`deploy: ${file} (${manifest.kind}/${manifest.metadata.name}) is valid`);
    } catch (error) {
      console.error(`deploy: ${file}: ${error.message}`);
      failed = true;
    }
  }
}
process.exit(failed ? 1 : 0);
