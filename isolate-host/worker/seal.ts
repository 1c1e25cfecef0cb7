/**
 * Closes the channels through which a workload could reach beyond its own isolate, and makes
 * its own way out of the worker visible. Runs once, when the worker starts, before any
 * workload code.
 *
 * - The Cache API (`caches`) is process-wide: with `DENO_CACHE_DB_MODE=memory` every worker of
 *   a host shares one in-memory store.
 * - `BroadcastChannel` (the global one, and `node:worker_threads`' subclass of it) reaches every
 *   worker of the process and the host. Sending is refused on its prototype: a workload can
 *   build a channel but never deliver a message on it.
 * - `Deno[Deno.internal]` exposes Deno's internals (the ops behind the channels above need no
 *   permission).
 * - The global `Worker`: a nested worker would outlive its workload's answer.
 * - `Deno.exit()` and `close()` end the worker without an event the host can see; they now say
 *   so first (`onExit`), so the host answers at once instead of at the deadline.
 *
 * Everything else a workload could reach is gated by permissions, and its worker holds none.
 */
import { ObjectDefineProperty } from "./intrinsics.ts";

export function seal(onExit: (code: number) => void): void {
  refuseSending(globalThis.BroadcastChannel.prototype);
  const global = globalThis as Record<string, unknown>;
  for (const name of ["caches", "CacheStorage", "Cache", "BroadcastChannel", "Worker"]) {
    delete global[name];
  }
  const deno = Deno as unknown as Record<symbol, unknown> & { internal: symbol };
  delete deno[deno.internal];

  const exit = Deno.exit;
  const close = globalThis.close;
  const announced = {
    exit(code?: number): never {
      onExit(typeof code === "number" ? code : 0);
      return exit(code);
    },
    close(): void {
      onExit(0);
      close();
    },
  };
  replace(Deno, "exit", announced.exit);
  replace(globalThis, "close", announced.close);
}

function replace(target: object, name: string, value: unknown): void {
  ObjectDefineProperty(target, name, {
    value,
    writable: true,
    configurable: true,
    enumerable: true,
  });
}

function refuseSending(prototype: object): void {
  ObjectDefineProperty(prototype, "postMessage", {
    value: function postMessage() {
      throw new DOMException("BroadcastChannel is not available to workloads", "NotSupportedError");
    },
    writable: false,
    configurable: false,
  });
}
