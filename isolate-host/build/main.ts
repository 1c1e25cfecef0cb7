/**
 * Builds `dist/host.js`, what the agent runs: the host (`main.ts`) bundled, with the workers'
 * runtime (`worker/main.ts`) bundled into one module's text (`WORKER_SOURCE`), which the host
 * serves its workers from a `blob:` URL. `deno task build`; `make setup` (and so `make run` and
 * `make test`) runs it when a source is newer than the build.
 */
import { bundle } from "./bundle.ts";

const root = new URL("../", import.meta.url);
const worker = bundle(new URL("worker/main.ts", root));
const host = bundle(new URL("main.ts", root));
Deno.mkdirSync(new URL("dist/", root), { recursive: true });
Deno.writeTextFileSync(
  new URL("dist/host.js", root),
  `const WORKER_SOURCE = ${JSON.stringify(worker)};\n${host}`,
);
