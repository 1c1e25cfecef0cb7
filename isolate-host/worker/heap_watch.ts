/**
 * Notices the worker reaching its heap limit when Deno does not report it.
 *
 * `resourceLimits` installs V8's near-heap-limit callback, which raises the limit (so the
 * termination can finish) and terminates the running JavaScript. In a task (a timer,
 * `setImmediate`, the module's first call) Deno then ends the worker with
 * `ERR_WORKER_OUT_OF_MEMORY`. In a promise job it does not: the termination is swallowed, the
 * workload's promise chain is simply dead, and the worker idles on (measured on Deno 2.9). The
 * raised `heap_size_limit` is the trace it leaves, and this watch looks for it between tasks.
 */
import { getHeapStatistics } from "node:v8";

/** How often the limit is compared, in ms: the delay before such a failure is reported. */
const CHECK_EVERY_MS = 10;

// Captured before any workload code runs, so a workload that replaces them breaks only itself.
const setIntervalBuiltin = setInterval;
const clearIntervalBuiltin = clearInterval;

/**
 * Calls `onReached` once, soon after V8 raised the heap limit it had when this was called.
 * Returns what stops the watch.
 */
export function watchHeapLimit(onReached: () => void): () => void {
  const initial = getHeapStatistics().heap_size_limit;
  const timer = setIntervalBuiltin(() => {
    if (getHeapStatistics().heap_size_limit <= initial) return;
    clearIntervalBuiltin(timer);
    onReached();
  }, CHECK_EVERY_MS);
  return () => clearIntervalBuiltin(timer);
}
