/**
 * Builds `dist/host.js`, what the agent runs: the host (`main.ts`) bundled, with the workers'
 * runtime (`worker/main.ts`) bundled into the `data:` URL each worker starts from
 * (`WORKER_URL`). `deno task build`; `make setup` (and so `make run` and `make test`) runs it
 * when a source is newer than the build.
 */
import { bundle } from "./bundle.ts";

const root = new URL("../", import.meta.url);
// `text/javascript`: workloads' modules are `application/javascript` (`worker/intrinsics.ts`),
// so a stack frame tells the two apart.
const workerUrl = `data:text/javascript,${
  encodeURIComponent(bundle(new URL("worker/main.ts", root)))
}`;
const host = bundle(new URL("main.ts", root));
Deno.mkdirSync(new URL("dist/", root), { recursive: true });
Deno.writeTextFileSync(
  new URL("dist/host.js", root),
  `const WORKER_URL = ${JSON.stringify(workerUrl)};\n${host}`,
);
