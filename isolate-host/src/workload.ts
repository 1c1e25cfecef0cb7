/**
 * Runs one workload on a leased worker and answers how it ended.
 *
 * Each way a run can end is an `Ending`; the worker's listeners and the deadline only pick the
 * first one, and `answer` alone turns it into the response:
 *
 * | ending                                     | status                     | poisoned |
 * |--------------------------------------------|----------------------------|----------|
 * | the worker's result                        | its status, re-checked     | no       |
 * | `ERR_WORKER_OUT_OF_MEMORY`                 | `memory_limit`             | no       |
 * | the worker exited (`Deno.exit`, …)         | `error` (`ContractError`)  | no       |
 * | another worker error                       | `error` (`WorkerError`)    | no       |
 * | deadline, the worker stops when asked      | `timeout`                  | no       |
 * | deadline, it does not (busy, never yields) | `timeout`                  | yes      |
 *
 * Log lines arrive as the workload prints them and are re-checked against the caps here, so a
 * timeout keeps the lines printed before it. The worker is terminated whatever the ending, in a
 * task after the answer: `terminate()` can hold the host's thread for a millisecond or more while
 * the worker winds down (p90 1.5 ms measured on this machine), which the answer need not wait
 * for. Nothing is lost by the delay: the worker's messages are no longer read.
 */
import { LogBudget } from "../worker/log_budget.ts";
import { stopsWhenAsked } from "./deadline.ts";
import type {
  ErrorInfo,
  ExecuteRequest,
  ExecuteResponse,
  HeapStats,
  LogEntry,
  RunMessage,
  Status,
} from "./protocol.ts";
import type { Lease } from "./warm_pool.ts";
import { type CheckedResult, checkWorkerMessage } from "./worker_message.ts";

type Ending =
  | { kind: "result"; result: CheckedResult }
  | { kind: "out_of_memory" }
  | { kind: "crashed"; message: string }
  | { kind: "exited"; code: number }
  | { kind: "deadline"; stopped: boolean };

/** What the host needs besides the response: whether it must now consider itself poisoned. */
export interface Finished {
  response: ExecuteResponse;
  poisoned: boolean;
}

const NO_HEAP: HeapStats = { heap_used_bytes: 0, heap_total_bytes: 0, external_bytes: 0 };

export async function runOnWorker(lease: Lease, request: ExecuteRequest): Promise<Finished> {
  const { worker } = lease;
  const budget = new LogBudget(request.max_log_bytes, request.max_log_lines);
  const logs: LogEntry[] = [];
  let logsTruncated = false;
  let open = true;

  const started = performance.now();
  // Posted first: the worker's thread wakes up while the listeners are being registered (no
  // message can be delivered before this function returns to the event loop).
  worker.postMessage(runMessage(request));
  const ending = await new Promise<Ending | "deadline">((resolve) => {
    const timer = setTimeout(() => resolve("deadline"), request.timeout_ms);
    const end = (ending: Ending) => {
      clearTimeout(timer);
      resolve(ending);
    };
    worker.on("message", (value: unknown) => {
      const message = open ? checkWorkerMessage(value) : null;
      if (message?.type === "log") {
        if (budget.admit(message.message)) {
          logs.push({ level: message.level, message: message.message });
        } else logsTruncated = true;
      } else if (message?.type === "logs_truncated") logsTruncated = true;
      else if (message?.type === "result") end({ kind: "result", result: message });
    });
    worker.once("error", (error: { code?: unknown; message?: unknown }) => {
      const outOfMemory = error?.code === "ERR_WORKER_OUT_OF_MEMORY";
      end(
        outOfMemory
          ? { kind: "out_of_memory" }
          : { kind: "crashed", message: String(error?.message ?? error) },
      );
    });
    worker.once("exit", (code: number) => end({ kind: "exited", code }));
  });
  const duration_ms = performance.now() - started;
  open = false;
  const final: Ending = ending === "deadline"
    ? { kind: "deadline", stopped: await stopsWhenAsked(worker) }
    : ending;
  setTimeout(() => void worker.terminate(), 0);

  const { status, output, error, heap, poisoned } = answer(final, request);
  const response: ExecuteResponse = {
    status,
    output,
    error,
    logs,
    logs_truncated: logsTruncated || budget.truncated,
    duration_ms,
    poisoned,
    metadata: { worker_create_ms: lease.createMs, warm_age_ms: lease.warmAgeMs, ...heap },
  };
  return { response, poisoned };
}

interface Answer {
  status: Status;
  output: unknown;
  error: ErrorInfo | null;
  heap: HeapStats;
  poisoned: boolean;
}

function answer(ending: Ending, request: ExecuteRequest): Answer {
  const failure = (status: Status, name: string, message: string, poisoned = false): Answer => ({
    status,
    output: null,
    error: { name, message, line: null, column: null, stack: null },
    heap: NO_HEAP,
    poisoned,
  });
  const timeout = `workload exceeded its timeout of ${request.timeout_ms} ms`;
  const memory = `memory limit of ${request.memory_mb} MiB reached (JS heap out of memory)`;
  switch (ending.kind) {
    case "result":
      return fromResult(ending.result, request, failure("memory_limit", "MemoryLimit", memory));
    case "out_of_memory":
      return failure("memory_limit", "MemoryLimit", memory);
    case "exited":
      return failure("error", "ContractError", `workload exited its worker (code ${ending.code})`);
    case "crashed":
      return failure("error", "WorkerError", `worker failed: ${ending.message}`);
    case "deadline":
      return failure("timeout", "Timeout", timeout, !ending.stopped);
  }
}

function fromResult(result: CheckedResult, request: ExecuteRequest, outOfMemory: Answer): Answer {
  const { heap } = result;
  if (result.status === "memory_limit") return { ...outOfMemory, heap };
  if (result.status === "error") {
    return { status: "error", output: null, error: result.error, heap, poisoned: false };
  }
  if (result.status === "output_limit" || result.output_bytes > request.max_output_bytes) {
    const message = `output is ${result.output_bytes} bytes of JSON, over the limit of ` +
      `${request.max_output_bytes} bytes`;
    const error = { name: "OutputLimit", message, line: null, column: null, stack: null };
    return { status: "output_limit", output: null, error, heap, poisoned: false };
  }
  return { status: "succeeded", output: result.output, error: null, heap, poisoned: false };
}

function runMessage(request: ExecuteRequest): RunMessage {
  const { code, language, input, max_output_bytes, max_log_bytes, max_log_lines } = request;
  return { type: "run", code, language, input, max_output_bytes, max_log_bytes, max_log_lines };
}
