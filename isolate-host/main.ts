/**
 * The isolate host: runs workloads, one at a time, each in a fresh Web Worker (a fresh V8
 * isolate) that holds no permissions, for the agent that started it and talks to it over a
 * Unix socket (`src/frames.ts`). It runs as `dist/host.js`, this module bundled with the
 * workers' runtime by `build/main.ts`; the command line is in README.md.
 *
 * Start-up order is the security argument: bind the socket, revoke every permission, and only
 * then make the first warm worker and print the readiness line `{"ready":true,"pid":N}` on
 * stdout. Diagnostics go to stderr.
 *
 * # Layout
 * - `build/`                the bundler behind `dist/host.js` (build time only)
 * - `src/args.ts`           command-line flags
 * - `src/permissions.ts`    revoking every permission
 * - `src/frames.ts`         the socket's framing: a JSON head and raw payload bytes
 * - `src/server.ts`         the agent's connections, one request at a time
 * - `src/host.ts`           `run`, `prepare` and `health`; the poisoned flag
 * - `src/request.ts`        validation of a `run` head
 * - `src/warm.ts`           the one warm isolate
 * - `src/isolate.ts`        the single-use isolate (a Web Worker)
 * - `src/workload.ts`       one workload on one isolate: every ending → one answer
 * - `src/deadline.ts`       does an isolate stop when asked? (else poisoned)
 * - `src/worker_message.ts` checks every message a worker sends
 * - `src/protocol.ts`       frame and message shapes
 * - `worker/`               the runtime inside each isolate (entry `worker/main.ts`)
 */
import { type Args, parseArgs } from "./src/args.ts";
import { Host } from "./src/host.ts";
import { revokeAll } from "./src/permissions.ts";
import { serve } from "./src/server.ts";
import { Warm } from "./src/warm.ts";

/** The workers' runtime as one module's text, put in front of the bundle by `build/main.ts`. */
declare const WORKER_SOURCE: string;

let args: Args;
try {
  args = parseArgs(Deno.args);
} catch (error) {
  console.error(`isolate-host: ${(error as Error).message}`);
  Deno.exit(2);
}

if (args.exitOnStdinEof) exitOnStdinEof();

const warm = new Warm(runtimeUrl(WORKER_SOURCE));
const listener = Deno.listen({ transport: "unix", path: args.socket });
revokeAll();
await warm.prepare();
console.log(JSON.stringify({ ready: true, pid: Deno.pid }));
await serve(listener, new Host(warm));

/**
 * Exits once stdin reaches end of file: the agent holds the only other end and never writes,
 * so that is when the agent is gone. (A workload's `Deno.stdin` is the same file, but reading
 * it takes nothing from this one's end of file.) Should reading fail instead, the host keeps
 * serving.
 */
function exitOnStdinEof(): void {
  (async () => {
    for await (const _ of Deno.stdin.readable) {
      // Nothing is ever written.
    }
    Deno.exit(0);
  })().catch((error) => console.error("isolate-host: reading stdin:", error));
}

/**
 * The URL each worker starts from: a `blob:` URL, short whatever the runtime's size. Deno reads
 * the URL of the module that calls `import()` on every call, and a worker made from a `data:`
 * URL holding the runtime (24 K characters) cost ~7 ms more CPU to make and ~0.9 ms more per
 * workload's `import()` than one made from this, measured here.
 */
function runtimeUrl(source: string): string {
  return URL.createObjectURL(new Blob([source], { type: "application/javascript" }));
}
