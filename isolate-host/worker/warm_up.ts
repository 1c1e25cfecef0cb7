/**
 * Rehearses, before the worker is offered to a workload, the path a workload takes: Deno sets
 * up lazily the import of a module (~1.5 ms the first time), and V8 compiles each function of
 * the runtime the first time it runs. A fresh worker pays these costs once whatever it does (it
 * runs exactly one workload), so paying them here moves them off the workload's path at little
 * extra cost. A rehearsal is a complete run (console, module, call, result) of code of the
 * runtime's own, whose messages go nowhere.
 *
 * Only a success is rehearsed. Rehearsing a thrown error too (Deno formats its stack) cost
 * ~3 ms more per worker, measured here, for the benefit of the workloads that fail.
 */
import type { Job } from "./run.ts";

const MAX_OUTPUT_BYTES = 1024;

/** A success that logs. */
const REHEARSALS: Job[] = [
  {
    code: "export default (input) => { console.log('warm', input); return [input]; }",
    input: { n: 1 },
    max_output_bytes: MAX_OUTPUT_BYTES,
  },
];

export async function warmUp(rehearse: (job: Job) => Promise<void>): Promise<void> {
  for (const job of REHEARSALS) await rehearse(job);
}
