/**
 * Builds the URL every workload worker starts from.
 *
 * Once the host has revoked its permissions, neither it nor a worker can read a file, and a
 * worker loads even its static imports with its own (empty) permissions. So the worker's modules
 * (`worker/`) are read here, at start, and each becomes a `data:` URL in which its sibling imports
 * (`from "./x.ts"`) are rewritten to the siblings' `data:` URLs. A module imported twice gets the
 * same URL, so it is one module instance in the worker. `import type` lines need no rewriting
 * (Deno erases them), nor do `node:` imports; any other import would fail in the worker.
 */

const SIBLING_IMPORT = /from "\.\/([\w-]+\.ts)"/g;

export function workerEntryUrl(entry = new URL("../worker/main.ts", import.meta.url)): URL {
  const linked = new Map<string, string>();
  const linking = new Set<string>();
  const link = (file: URL): string => {
    const known = linked.get(file.href);
    if (known) return known;
    if (linking.has(file.href)) throw new Error(`import cycle through ${file.href}`);
    linking.add(file.href);
    const source = Deno.readTextFileSync(file).replace(
      SIBLING_IMPORT,
      (_, name: string) => `from "${link(new URL(name, file))}"`,
    );
    const url = `data:application/typescript,${encodeURIComponent(source)}`;
    linked.set(file.href, url);
    return url;
  };
  return new URL(link(entry));
}
