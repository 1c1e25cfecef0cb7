/**
 * The entry of every workload worker (a `node:worker_threads` worker made by the host's warm
 * pool; it holds no permissions because the host revoked all of its own before creating it).
 *
 * On start it seals the global scope (`seal.ts`), rehearses a run on code of its own
 * (`warm_up.ts`), posts `ready` and waits. It runs exactly one `run` message: installs the
 * capped console, runs the workload, and posts one `result`. Kept log lines are posted as they
 * happen. An exception thrown later by a timer, or a rejection nobody handled, fails the workload
 * the same way a thrown one does; the heap limit reached in a promise job (which Deno does not
 * report) is a `memory_limit` result. A `stop` message (sent at the deadline) exits the worker at
 * once, which is how the host learns its event loop was free.
 */
import { getHeapStatistics } from "node:v8";
import { parentPort } from "node:worker_threads";
import type { HeapStats, HostMessage, RunMessage, WorkerMessage } from "../src/protocol.ts";
import { installConsole } from "./console.ts";
import { describeError } from "./error_info.ts";
import { watchHeapLimit } from "./heap_watch.ts";
import { LogBudget } from "./log_budget.ts";
import { failed, type Outcome, runWorkload, workloadModule } from "./run.ts";
import { seal } from "./seal.ts";
import { warmUp } from "./warm_up.ts";

if (!parentPort) throw new Error("worker/main.ts runs only as a node:worker_threads worker");
// Captured before any workload code runs, so a workload that replaces them breaks only itself.
const port = parentPort;
const exit = Deno.exit;
const addEventListenerBuiltin = addEventListener;

seal();
const pointConsole = installConsole();

/** How the run in progress fails on an uncaught exception; `null` between runs. */
let failCurrent: ((thrown: unknown) => void) | null = null;
addEventListenerBuiltin("error", (event) => {
  event.preventDefault();
  failCurrent?.(event.error);
});
addEventListenerBuiltin("unhandledrejection", (event) => {
  event.preventDefault();
  failCurrent?.(event.reason);
});

// A run that arrives while the worker still warms up waits for the warm-up to finish.
let warm = false;
const warming = warmUp(async (job) => (await run(job, () => {}))())
  .catch(() => {})
  .then(() => {
    warm = true;
    post({ type: "ready" });
  });
let started = false;
port.on("message", (message: HostMessage) => {
  if (message.type === "stop") exit(0);
  if (message.type === "run" && !started) {
    started = true;
    // `run` only sets up and hands the module to a task of its own: no workload code runs
    // inside this listener, where V8 reaching the heap limit would freeze the worker.
    if (warm) run(message, post);
    else warming.then(() => run(message, post));
  }
});

/**
 * Runs `job`, sending its logs and one result. Resolves, once the result is sent, with what ends
 * the run's watches: only a rehearsal (whose messages go nowhere) uses it, since a workload's
 * worker is discarded after it.
 */
async function run(
  job: RunMessage,
  send: (message: WorkerMessage) => void,
): Promise<() => void> {
  const budget = new LogBudget(job.max_log_bytes, job.max_log_lines);
  pointConsole((level, message) => {
    if (budget.admit(message)) {
      send({ type: "log", level, message });
      return true;
    }
    send({ type: "logs_truncated" });
    return false;
  });

  const module = workloadModule(job);
  let finished = false;
  const finish = (outcome: Outcome) => {
    if (finished) return;
    finished = true;
    send({ type: "result", ...outcome, heap: heapStats() });
  };
  const stopWatch = watchHeapLimit(() =>
    finish({ status: "memory_limit", output_json: null, output_bytes: null, error: null })
  );
  failCurrent = (thrown) => {
    if (!finished) finish(failed(describeError(thrown, module)));
  };
  finish(await runWorkload(job, module));
  return () => {
    stopWatch();
    failCurrent = null;
  };
}

/** The worker isolate's own heap (no system call, unlike `Deno.memoryUsage`). */
function heapStats(): HeapStats {
  const heap = getHeapStatistics();
  return {
    heap_used_bytes: heap.used_heap_size,
    heap_total_bytes: heap.total_heap_size,
    external_bytes: heap.external_memory,
  };
}

function post(message: WorkerMessage): void {
  port.postMessage(message);
}
