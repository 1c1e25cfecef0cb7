/**
 * Runs, once and before any workload, the paths every workload takes that V8 and Deno set up
 * lazily: importing a `blob:` module, a `setImmediate` task, an interval, heap statistics, JSON.
 * The worker is still never used by a workload; it only stops paying these first-time costs on
 * the workload's clock (measured on this machine: 6.6 → 3.7 ms p50 inside the host for a
 * trivial workload).
 */
import { getHeapStatistics } from "node:v8";

// Captured before any workload code runs, so a workload that replaces them breaks only itself.
const BlobBuiltin = Blob;
const createObjectURL = URL.createObjectURL;
const revokeObjectURL = URL.revokeObjectURL;
const setImmediateBuiltin = setImmediate;
const setIntervalBuiltin = setInterval;
const clearIntervalBuiltin = clearInterval;
const memoryUsage = Deno.memoryUsage;
const stringify = JSON.stringify;
const PromiseCtor = Promise;

export async function warmUp(): Promise<void> {
  const blob = new BlobBuiltin(["export default (i) => i;"], { type: "application/javascript" });
  const url = createObjectURL(blob);
  try {
    const module = await import(url);
    await new PromiseCtor((resolve) => setImmediateBuiltin(() => resolve(module.default(1))));
  } finally {
    revokeObjectURL(url);
  }
  getHeapStatistics();
  clearIntervalBuiltin(setIntervalBuiltin(() => {}, 1000));
  memoryUsage();
  stringify({ a: [1, "x"] });
}
