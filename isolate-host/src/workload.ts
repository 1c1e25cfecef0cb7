/**
 * Runs one workload on the warm isolate and answers how it ended.
 *
 * Each way a run can end is an `Ending`; the isolate's messages and the deadline only pick the
 * first one, and `answer` alone turns it into the answer:
 *
 * | ending                                      | status                     | poisoned |
 * |---------------------------------------------|----------------------------|----------|
 * | the worker's result                         | its status                 | no       |
 * | the workload called `Deno.exit` / `close()` | `error` (`ContractError`)  | no       |
 * | the runtime itself failed                   | `error` (`WorkerError`)    | no       |
 * | deadline, the worker stops when asked       | `timeout`                  | no       |
 * | deadline, it does not (busy, never yields)  | `timeout`                  | yes      |
 *
 * After any ending but a deadline, the isolate is asked to stop once the answer is written, or
 * when the next worker is wanted if that comes first (`settle`): a workload may have left a timer behind that spins, or have closed its worker,
 * and either way the host cannot see that thread end; if it does not stop, the host is
 * poisoned from then on. Log lines arrive as the workload prints them and are re-checked
 * against the caps here, so a timeout keeps the lines printed before it.
 *
 * The output is the workload's own bytes, passed on unparsed: the agent checks them.
 */
import { LogBudget } from "../worker/log_budget.ts";
import { AFTER_ANSWER_GRACE_MS, DEADLINE_GRACE_MS, stopsWhenAsked } from "./deadline.ts";
import type { ErrorInfo, HeapStats, LogEntry, RunAnswer, RunHead, Status } from "./protocol.ts";
import type { WarmIsolate } from "./warm.ts";
import { type CheckedResult, checkWorkerMessage } from "./worker_message.ts";

type Ending =
  | { kind: "result"; result: CheckedResult }
  | { kind: "exited"; code: number }
  | { kind: "crashed"; message: string }
  | { kind: "deadline"; stopped: boolean };

export interface Finished {
  answer: RunAnswer;
  /** The output's JSON text when `succeeded`, else empty. */
  output: Uint8Array;
  /** Whether the isolate is really gone, asked after the answer (the same promise each call). */
  settle: () => Promise<boolean>;
}

const NO_HEAP: HeapStats = { heap_used_bytes: 0, heap_total_bytes: 0, external_bytes: 0 };
const NO_OUTPUT = new Uint8Array(0);

export async function runOnIsolate(
  warm: WarmIsolate,
  head: RunHead,
  job: string,
): Promise<Finished> {
  const { isolate } = warm;
  const warmAgeMs = performance.now() - warm.readyAt;
  const budget = new LogBudget(head.max_log_bytes, head.max_log_lines);
  const logs: LogEntry[] = [];
  let logsTruncated = false;

  const started = performance.now();
  isolate.post({
    type: "run",
    job,
    module_name: head.module_name,
    max_output_bytes: head.max_output_bytes,
    max_log_bytes: head.max_log_bytes,
    max_log_lines: head.max_log_lines,
  });
  const ending = await new Promise<Ending | "deadline">((resolve) => {
    const timer = setTimeout(() => resolve("deadline"), head.timeout_ms);
    const end = (ending: Ending) => {
      clearTimeout(timer);
      resolve(ending);
    };
    isolate.onMessage((data) => {
      const message = checkWorkerMessage(data);
      if (message?.type === "log") {
        if (budget.admit(message.message)) {
          logs.push({ level: message.level, message: message.message });
        } else logsTruncated = true;
      } else if (message?.type === "logs_truncated") logsTruncated = true;
      else if (message?.type === "result") end({ kind: "result", result: message });
      else if (message?.type === "exited") end({ kind: "exited", code: message.code });
    });
    isolate.onError((message) => end({ kind: "crashed", message }));
  });
  const duration_ms = performance.now() - started;
  isolate.onMessage(() => {});
  const final: Ending = ending === "deadline"
    ? { kind: "deadline", stopped: await stopsWhenAsked(isolate, DEADLINE_GRACE_MS) }
    : ending;
  const settle = final.kind === "deadline"
    ? () => Promise.resolve(final.stopped)
    : afterAnswer(() => stopsWhenAsked(isolate, AFTER_ANSWER_GRACE_MS));

  const { status, error, heap, output, poisoned } = answer(final, head);
  return {
    answer: {
      status,
      error,
      logs,
      logs_truncated: logsTruncated || budget.truncated,
      duration_ms,
      poisoned,
      metadata: { worker_create_ms: warm.createMs, warm_age_ms: warmAgeMs, ...heap },
    },
    output,
    settle,
  };
}

/**
 * `ask` run once: in a later task (once the answer is written), or when the result is wanted
 * if that is sooner. A message to a worker that has just posted its result can block the host's
 * thread ~1 ms (measured here, after the worker read `Deno.memoryUsage()`), so the stop request
 * waits for the answer to leave.
 */
function afterAnswer(ask: () => Promise<boolean>): () => Promise<boolean> {
  let asked: Promise<boolean> | null = null;
  const once = () => asked ??= ask();
  setTimeout(once, 0);
  return once;
}

interface Answer {
  status: Status;
  error: ErrorInfo | null;
  heap: HeapStats;
  output: Uint8Array;
  poisoned: boolean;
}

function answer(ending: Ending, head: RunHead): Answer {
  const failure = (status: Status, name: string, message: string, poisoned = false): Answer => ({
    status,
    error: { name, message, line: null, column: null, stack: null },
    heap: NO_HEAP,
    output: NO_OUTPUT,
    poisoned,
  });
  switch (ending.kind) {
    case "result":
      return fromResult(ending.result, head);
    case "exited":
      return failure("error", "ContractError", `workload exited its worker (code ${ending.code})`);
    case "crashed":
      return failure("error", "WorkerError", `worker failed: ${ending.message}`);
    case "deadline":
      return failure(
        "timeout",
        "Timeout",
        `workload exceeded its timeout of ${head.timeout_ms} ms`,
        !ending.stopped,
      );
  }
}

function fromResult(result: CheckedResult, head: RunHead): Answer {
  const { heap } = result;
  if (result.status === "error") {
    return { status: "error", error: result.error, heap, output: NO_OUTPUT, poisoned: false };
  }
  if (result.status === "output_limit" || result.output.length > head.max_output_bytes) {
    const bytes = result.status === "output_limit" ? result.output_bytes : result.output.length;
    const message = `output is ${bytes} bytes of JSON, over the limit of ` +
      `${head.max_output_bytes} bytes`;
    const error = { name: "OutputLimit", message, line: null, column: null, stack: null };
    return { status: "output_limit", error, heap, output: NO_OUTPUT, poisoned: false };
  }
  return { status: "succeeded", error: null, heap, output: result.output, poisoned: false };
}
