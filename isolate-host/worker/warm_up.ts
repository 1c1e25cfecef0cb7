/**
 * Rehearses, before any workload, the paths workloads take: V8 compiles a function the first
 * time it is called, and Deno sets up lazily `node:vm` modules, type stripping, the import of a
 * `blob:` module, `setImmediate`, intervals and heap statistics. A rehearsal is a complete run
 * (console, module, call, result, error description) of code of the worker's own, whose
 * messages go nowhere; the worker is still never used by a workload. Measured on this machine:
 * these first-time costs were ~1 ms of a trivial workload's time in the host before any warm-up,
 * and ~0.6 ms more were saved by rehearsing whole runs instead of only their Deno parts.
 */
import type { RunMessage } from "../src/protocol.ts";

const LIMITS = { max_output_bytes: 1024, max_log_bytes: 1024, max_log_lines: 10 };

/**
 * A success with a log line, TypeScript that throws (its description is compiled too), both
 * compiled in place, and a module that mentions `import`, which goes through Deno's loader.
 */
const REHEARSALS: RunMessage[] = [
  {
    type: "run",
    code: "export default (input) => { console.log('warm', input); return [input]; }",
    language: "javascript",
    input: { n: 1 },
    ...LIMITS,
  },
  {
    type: "run",
    code: "export default (): never => { throw new TypeError('warm' as string); }",
    language: "typescript",
    input: null,
    ...LIMITS,
  },
  {
    type: "run",
    code: "export default () => typeof import.meta;",
    language: "javascript",
    input: null,
    ...LIMITS,
  },
];

export async function warmUp(rehearse: (job: RunMessage) => Promise<void>): Promise<void> {
  for (const job of REHEARSALS) await rehearse(job);
}
