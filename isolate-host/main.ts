/**
 * The isolate host: serves `POST /execute` and `GET /health` on a Unix socket and runs each
 * workload in a fresh `node:worker_threads` worker. Started and supervised by the agent; the
 * command line is in README.md.
 *
 * Start-up order is the security argument: read the worker's modules, bind the socket, revoke
 * every permission, and only then create the first worker and print the readiness line
 * `{"ready":true,"pid":N}` on stdout. Diagnostics go to stderr.
 *
 * # Layout
 * - `src/args.ts`           command-line flags
 * - `src/worker_source.ts`  the worker's modules, read before revoking, as fresh `blob:` URLs
 * - `src/permissions.ts`    revoking every permission
 * - `src/server.ts`         HTTP routes and error answers
 * - `src/request.ts`        validation of `POST /execute`
 * - `src/host.ts`           admission, counters, the poisoned flag
 * - `src/warm_pool.ts`      one warm, never-used worker
 * - `src/workload.ts`       one workload on one worker: every ending → one response
 * - `src/deadline.ts`       at the deadline: does the worker stop when asked? (else poisoned)
 * - `src/worker_message.ts` checks every message a worker sends
 * - `src/protocol.ts`       request, response and message shapes
 * - `worker/`               what runs inside each workload worker (entry `worker/main.ts`)
 */
import { type Args, parseArgs } from "./src/args.ts";
import { Host } from "./src/host.ts";
import { revokeAll } from "./src/permissions.ts";
import { handler } from "./src/server.ts";
import { WarmPool } from "./src/warm_pool.ts";
import { WorkerSource } from "./src/worker_source.ts";

let args: Args;
try {
  args = parseArgs(Deno.args);
} catch (error) {
  console.error(`isolate-host: ${(error as Error).message}`);
  Deno.exit(2);
}

if (args.exitOnStdinEof) exitOnStdinEof();

const pool = new WarmPool(new WorkerSource(), args.heapMb);
const host = new Host(pool, args.maxConcurrent);
const server = Deno.serve({
  path: args.socket,
  onListen() {},
  onError(error) {
    console.error("isolate-host: internal error:", error);
    return new Response(
      JSON.stringify({ error: { code: "internal", message: "internal error" } }),
      { status: 500, headers: { "content-type": "application/json" } },
    );
  },
}, handler(host, args.heapMb));
revokeAll();
pool.fill();

// SIGTERM: finish the workloads in flight, then exit (a busy worker would keep the process up).
Deno.addSignalListener("SIGTERM", async () => {
  await server.shutdown();
  Deno.exit(0);
});

console.log(JSON.stringify({ ready: true, pid: Deno.pid }));

/**
 * Exits once stdin reaches end of file: the agent holds the only other end and never writes,
 * so that is when the agent is gone. (A workload that closes its own `Deno.stdin` closes its
 * worker's handle, not this one.) Should reading fail instead, the host keeps serving.
 */
function exitOnStdinEof(): void {
  (async () => {
    for await (const _ of Deno.stdin.readable) {
      // Nothing is ever written.
    }
    Deno.exit(0);
  })().catch((error) => console.error("isolate-host: reading stdin:", error));
}
