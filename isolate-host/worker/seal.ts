/**
 * Closes the channels through which one workload could reach another, or the host, inside the
 * process they share. Runs once, when the worker starts, before it is handed a workload.
 *
 * - The Cache API (`caches`) is process-wide: with `DENO_CACHE_DB_MODE=memory` every worker shares
 *   one in-memory store, so a workload could read what an earlier one cached, or plant entries.
 * - `BroadcastChannel` (the global one and `node:worker_threads`' subclass) reaches every worker
 *   and the host. Sending is refused on both prototypes: a workload can build a channel but can
 *   never deliver a message on it.
 * - `Deno[Deno.internal]` exposes Deno's internals, raw ops included (the ones behind the two
 *   channels above need no permission).
 * - The global `Worker`: a nested Web Worker has no heap limit of its own and, when it reaches
 *   V8's default one, aborts the whole process. (`node:worker_threads`' `Worker` cannot be taken
 *   away; its workers inherit no permissions either, but neither do they inherit the heap limit:
 *   see README.md.)
 *
 * Everything else a workload could reach is gated by permissions, and the host holds none.
 */
import { BroadcastChannel as NodeBroadcastChannel } from "node:worker_threads";

export function seal(): void {
  refuseSending(globalThis.BroadcastChannel.prototype);
  refuseSending(NodeBroadcastChannel.prototype);
  const global = globalThis as Record<string, unknown>;
  for (const name of ["caches", "CacheStorage", "Cache", "BroadcastChannel", "Worker"]) {
    delete global[name];
  }
  const deno = Deno as unknown as Record<symbol, unknown> & { internal: symbol };
  delete deno[deno.internal];
}

function refuseSending(prototype: object): void {
  Object.defineProperty(prototype, "postMessage", {
    value: function postMessage() {
      throw new DOMException("BroadcastChannel is not available to workloads", "NotSupportedError");
    },
    writable: false,
    configurable: false,
  });
}
