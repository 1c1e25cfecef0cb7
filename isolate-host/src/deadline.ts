/**
 * Whether a worker whose deadline passed can still be stopped.
 *
 * Deno cannot stop a worker whose thread never returns to its event loop: `terminate()`
 * resolves and even emits `exit`, yet the thread spins on at 100% of a core (measured on Deno
 * 2.9; Web Workers behave the same). So the host asks first: the worker's `stop` handler exits
 * at once if its event loop is free (a promise that never settles, timers, waiting), and then
 * nothing of it is left running. A worker that has not exited within the grace period is busy
 * (or blocked) and may never stop: the host must count itself poisoned.
 */
import type { Worker } from "node:worker_threads";
import type { StopMessage } from "./protocol.ts";

/** How long a worker has to exit after `stop`: how late a poisoning timeout is answered. */
export const STOP_GRACE_MS = 10;

/** True when the worker exited on request; false when it must be presumed still running. */
export async function stopsWhenAsked(worker: Worker): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const exited = new Promise<boolean>((resolve) => worker.once("exit", () => resolve(true)));
  const gaveUp = new Promise<boolean>((resolve) =>
    timer = setTimeout(() => resolve(false), STOP_GRACE_MS)
  );
  worker.postMessage({ type: "stop" } satisfies StopMessage);
  const stopped = await Promise.race([exited, gaveUp]);
  clearTimeout(timer);
  return stopped;
}
