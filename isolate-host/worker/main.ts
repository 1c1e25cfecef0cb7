/**
 * The entry of every workload worker (a `node:worker_threads` worker made by the host's warm
 * pool; it holds no permissions because the host revoked all of its own before creating it).
 *
 * On start it seals the global scope (`seal.ts`), warms up (`warm_up.ts`) and waits. It runs exactly one `run` message:
 * installs the capped console, runs the workload, and posts one `result`. Kept log lines are
 * posted as they happen. An exception thrown later by a timer, or a rejection nobody handled,
 * fails the workload the same way a thrown one does; the heap limit reached in a promise job
 * (which Deno does not report) is a `memory_limit` result. A `stop` message (sent at the deadline)
 * exits the worker at once, which is how the host learns its event loop was free.
 */
import { parentPort } from "node:worker_threads";
import type { HostMessage, RunMessage, WorkerMessage } from "../src/protocol.ts";
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
const memoryUsage = Deno.memoryUsage;
const setImmediateBuiltin = setImmediate;
const addEventListenerBuiltin = addEventListener;

seal();

// A run that arrives while the worker still warms up waits for the warm-up to finish.
const warm = warmUp().catch(() => {});
let started = false;
port.on("message", (message: HostMessage) => {
  if (message.type === "stop") exit(0);
  if (message.type === "run" && !started) {
    started = true;
    // Out of the message listener: V8 reaching the heap limit inside it freezes the worker.
    warm.then(() => setImmediateBuiltin(() => start(message)));
  }
});

async function start(job: RunMessage): Promise<void> {
  const budget = new LogBudget(job.max_log_bytes, job.max_log_lines);
  installConsole((level, message) => {
    if (budget.admit(message)) {
      post({ type: "log", level, message });
      return true;
    }
    post({ type: "logs_truncated" });
    return false;
  });

  const module = workloadModule(job);
  let finished = false;
  const finish = (outcome: Outcome) => {
    if (finished) return;
    finished = true;
    const heap = memoryUsage();
    post({
      type: "result",
      ...outcome,
      heap: {
        heap_used_bytes: heap.heapUsed,
        heap_total_bytes: heap.heapTotal,
        external_bytes: heap.external,
      },
    });
  };
  watchHeapLimit(() =>
    finish({ status: "memory_limit", output_json: null, output_bytes: null, error: null })
  );
  addEventListenerBuiltin("error", (event) => {
    event.preventDefault();
    finish(failed(describeError(event.error, module)));
  });
  addEventListenerBuiltin("unhandledrejection", (event) => {
    event.preventDefault();
    finish(failed(describeError(event.reason, module)));
  });
  finish(await runWorkload(job, module));
}

function post(message: WorkerMessage): void {
  port.postMessage(message);
}
