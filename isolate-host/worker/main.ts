/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * The runtime inside each workload's isolate: a Web Worker made from one module (this folder,
 * bundled by `build/main.ts`, served from a `blob:` URL), holding no permissions, used for one
 * workload and then terminated.
 *
 * A worker's life: its modules run (capturing every built-in the runtime needs later, see
 * `intrinsics.ts`; sealing the channels out; installing the console). It answers the host's
 * `ping` with `ready` (its first message costs ~1.5 ms more than the next ones), and, if the host
 * says `rehearse` (it stays unused a while), rehearses the path a workload takes
 * (`warm_up.ts`). `run` hands it its one workload (after the rehearsal, if one is going): its
 * logs are posted as they happen (so a timeout keeps the lines before it), then one `result`.
 * An exception thrown later by a timer, or a rejection nobody handled, fails the workload the
 * same way a thrown one does. `stop` (sent at the deadline) closes the worker at once if its
 * event loop is free, after posting `stopped`: that tells the host nothing of it runs on.
 *
 * Messages to the host go through the captured `postMessage` with one argument: its path
 * (structured clone, no transfer list) uses none of the built-ins a workload can replace.
 */
import type {
  HeapStats,
  HostMessage,
  LogLevel,
  RunMessage,
  WorkerMessage,
} from "../src/protocol.ts";
import { installConsole } from "./console.ts";
import { describeError, type ModuleName } from "./error_info.ts";
import {
  ErrorEventError,
  EventPrototypePreventDefault,
  isolateMemory,
  JSONParse,
  PromiseRejectionEventReason,
} from "./intrinsics.ts";
import { LogBudget } from "./log_budget.ts";
import { failed, type Job, type Outcome, runWorkload } from "./run.ts";
import { seal } from "./seal.ts";
import { warmUp } from "./warm_up.ts";

// Captured before any workload code runs, so a workload that replaces them breaks only itself.
const postToHost = globalThis.postMessage;
const close = globalThis.close;
const listen = globalThis.addEventListener;

function post(message: WorkerMessage): void {
  postToHost(message);
}

seal((code) => post({ type: "exited", code }));
const pointConsole = installConsole();

/** How the run in progress fails on an uncaught exception; `null` between runs. */
let failCurrent: ((thrown: unknown) => void) | null = null;
listen("error", (event) => {
  EventPrototypePreventDefault(event);
  failCurrent?.(ErrorEventError(event));
});
listen("unhandledrejection", (event) => {
  EventPrototypePreventDefault(event);
  failCurrent?.(PromiseRejectionEventReason(event));
});

let started = false;
/** The rehearsal in progress, if any: a run waits for it to end. */
let rehearsing: Promise<void> | null = null;
listen("message", (event: MessageEvent<HostMessage>) => {
  const message = event.data;
  if (message?.type === "stop") {
    post({ type: "stopped", nonce: message.nonce });
    close();
  } else if (message?.type === "ping" && !started) {
    post({ type: "ready" });
  } else if (message?.type === "rehearse" && !started && !rehearsing) {
    rehearsing = warmUp((job) => run(job, REHEARSAL, () => {})).then(() => {
      failCurrent = null;
    });
  } else if (message?.type === "run" && !started) {
    started = true;
    const job = JSONParse(message.job) as { code: string; input: unknown };
    const go = () =>
      run(
        { code: job.code, input: job.input, max_output_bytes: message.max_output_bytes },
        message,
        post,
      );
    void (rehearsing ? rehearsing.then(go) : go());
  }
});

/** A rehearsal's caps and module name. */
const REHEARSAL: Omit<RunMessage, "type" | "job"> = {
  module_name: "workload.js",
  max_output_bytes: 1024,
  max_log_bytes: 1024,
  max_log_lines: 10,
};

/**
 * Runs `job`, sending its logs and one result; resolves (with nothing, so that no workload's
 * `then` is looked up) once the result is sent.
 */
async function run(
  job: Job,
  caps: Omit<RunMessage, "type" | "job">,
  send: (message: WorkerMessage) => void,
): Promise<void> {
  const budget = new LogBudget(caps.max_log_bytes, caps.max_log_lines);
  pointConsole((level: LogLevel, message: string) => {
    if (budget.admit(message)) {
      send({ type: "log", level, message });
      return true;
    }
    send({ type: "logs_truncated" });
    return false;
  });
  const module: ModuleName = { url: "", display: caps.module_name };
  let finished = false;
  const finish = (outcome: Outcome) => {
    if (finished) return;
    finished = true;
    send({ type: "result", outcome, heap: heapStats() });
  };
  failCurrent = (thrown) => finish(failed(describeError(thrown, module)));
  finish(await runWorkload(job, module));
}

/** The worker isolate's own heap. */
function heapStats(): HeapStats {
  const usage = isolateMemory();
  return {
    heap_used_bytes: usage.heapUsed,
    heap_total_bytes: usage.heapTotal,
    external_bytes: usage.external,
  };
}
