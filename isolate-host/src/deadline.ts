/**
 * Whether an isolate is really done: asked to stop, does it?
 *
 * Deno cannot stop a worker whose thread never returns to its event loop: `terminate()`
 * returns, yet the thread spins on at 100% of a core (measured on Deno 2.9). So the host asks:
 * the worker's `stop` handler (registered before any workload code) posts `stopped` with the
 * request's nonce and closes the worker at once, which it can only do if its event loop is free
 * (a promise that never settles, timers, waiting); then nothing of it is left running. A worker
 * that has not answered within the grace period is busy (or blocked) and may never stop: the
 * host must count itself poisoned.
 *
 * The nonce is fresh for each request, so a workload cannot answer for its worker in advance
 * (a busy worker cannot read the request at all). Asked at the deadline, and after every
 * workload's answer too: a workload may leave a timer behind that starts spinning later.
 */
import type { SingleUseIsolate } from "./isolate.ts";

/** How long a worker has at its deadline to answer `stop`: how late a poisoning timeout is. */
export const DEADLINE_GRACE_MS = 10;
/**
 * How long a worker has to answer `stop` after its workload was answered: off the workload's
 * path, so generous enough that a busy machine's scheduling delay does not cost a host.
 */
export const AFTER_ANSWER_GRACE_MS = 250;

/** True when the isolate stopped on request; false when it must be presumed still running. */
export async function stopsWhenAsked(isolate: SingleUseIsolate, graceMs: number): Promise<boolean> {
  const nonce = crypto.randomUUID();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stopped = await new Promise<boolean>((resolve) => {
    isolate.onMessage((data) => {
      const message = data as { type?: unknown; nonce?: unknown } | null;
      if (message?.type === "stopped" && message.nonce === nonce) resolve(true);
    });
    timer = setTimeout(() => resolve(false), graceMs);
    isolate.post({ type: "stop", nonce });
  });
  clearTimeout(timer);
  isolate.terminate();
  return stopped;
}
