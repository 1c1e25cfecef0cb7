/**
 * The shapes that cross a boundary: the agent's frames (`frames.ts`) and the messages between
 * the host and a workload's worker. Types only, so `worker/` can import them too (a type import
 * is erased before the worker loads).
 *
 * Every message from a worker is hostile input: the workload shares the worker's isolate and can
 * post anything to the host. `src/worker_message.ts` checks each one before it is used.
 */

export type Status = "succeeded" | "error" | "timeout" | "output_limit";

export type LogLevel = "log" | "info" | "warn" | "error" | "debug";

// --- agent → host: frame heads -----------------------------------------------------------

/**
 * Run one workload on the warm worker. The payload is the UTF-8 JSON text of
 * `{"code": <JavaScript>, "input": <any JSON value>}`, handed to the worker unread.
 */
export interface RunHead {
  type: "run";
  /** Wall-clock budget from the moment the worker is handed the workload. */
  timeout_ms: number;
  /** Cap on the UTF-8 bytes of the output's JSON text. */
  max_output_bytes: number;
  /** Cap on the UTF-8 bytes of all kept log messages. */
  max_log_bytes: number;
  /** Cap on the number of kept log entries. */
  max_log_lines: number;
  /** What errors call the module: `workload.js`, or `workload.ts` for stripped TypeScript. */
  module_name: ModuleDisplayName;
}

export type ModuleDisplayName = "workload.js" | "workload.ts";

/** Make the next warm worker (the agent asks once it has reset the host's memory cap). */
export interface PrepareHead {
  type: "prepare";
}

export interface HealthHead {
  type: "health";
}

export type RequestHead = RunHead | PrepareHead | HealthHead;

// --- host → agent: answer heads ----------------------------------------------------------

export interface ErrorInfo {
  name: string;
  message: string;
  /** 1-based, in the submitted source; `null` when unknown. */
  line: number | null;
  column: number | null;
  stack: string | null;
}

export interface LogEntry {
  level: LogLevel;
  message: string;
}

/** The worker isolate's own heap, measured when the workload ended (0 when it did not report). */
export interface HeapStats {
  heap_used_bytes: number;
  heap_total_bytes: number;
  external_bytes: number;
}

export interface RunMetadata extends HeapStats {
  /** How long the worker took to be created and warmed up, before it was offered. */
  worker_create_ms: number;
  /** How long the warm worker waited for this workload. */
  warm_age_ms: number;
}

/**
 * The answer to `run`, whatever the status. Its payload is the output's JSON text when
 * `succeeded` (the workload's own bytes, checked by the agent), and empty otherwise.
 */
export interface RunAnswer {
  status: Status;
  error: ErrorInfo | null;
  logs: LogEntry[];
  logs_truncated: boolean;
  duration_ms: number;
  /** A worker the host could not stop may still run: the agent must replace the host. */
  poisoned: boolean;
  metadata: RunMetadata;
}

/** The answer to `prepare`: the warm worker is ready. */
export interface PrepareAnswer {
  worker_create_ms: number;
}

/** The answer to `health`. */
export interface HealthAnswer {
  pid: number;
  served: number;
  poisoned: boolean;
  warm: boolean;
}

/** Any request the host refuses. */
export interface ErrorAnswer {
  error: { code: string; message: string };
}

// --- host → worker -----------------------------------------------------------------------

/** The one workload a worker runs. */
export interface RunMessage {
  type: "run";
  /**
   * The run frame's payload as text, unparsed by the host. Decoded here: a worker's first
   * `TextDecoder` call costs ~0.35 ms, on its workload's path.
   */
  job: string;
  module_name: ModuleDisplayName;
  max_output_bytes: number;
  max_log_bytes: number;
  max_log_lines: number;
}

/** Sent at the deadline and after an answer: the worker closes at once if its loop is free. */
export interface StopMessage {
  type: "stop";
  /** Echoed in `stopped`: fresh for each request, so no workload can answer in advance. */
  nonce: string;
}

/** Sent once the worker is created: its first message costs ~1.5 ms more than the next ones. */
export interface PingMessage {
  type: "ping";
}

/**
 * Sent when the worker has waited unused a while: it rehearses a run (the first module import
 * costs ~1.5 ms more than the next ones), off the path of the workload to come.
 */
export interface RehearseMessage {
  type: "rehearse";
}

export type HostMessage = PingMessage | RehearseMessage | RunMessage | StopMessage;

// --- worker → host -----------------------------------------------------------------------

/** The answer to `ping`: the worker may be offered to a workload. */
export interface ReadyMessage {
  type: "ready";
}

/** One kept `console.*` call, sent as it happens so a timeout still has the logs before it. */
export interface LogMessage {
  type: "log";
  level: LogLevel;
  message: string;
}

/** The worker's log budget closed: this and every later `console.*` call is dropped. */
export interface LogsTruncatedMessage {
  type: "logs_truncated";
}

/** How the workload ended, as far as the worker can tell. */
export interface ResultMessage {
  type: "result";
  outcome:
    | { status: "succeeded"; output: Uint8Array }
    | { status: "output_limit"; output_bytes: number }
    | { status: "error"; error: ErrorInfo };
  heap: HeapStats;
}

/** The workload called `Deno.exit()` or `close()`: the worker is ending. */
export interface ExitedMessage {
  type: "exited";
  code: number;
}

/** The answer to `stop`: the worker is closing with nothing of it left running. */
export interface StoppedMessage {
  type: "stopped";
  nonce: string;
}

export type WorkerMessage =
  | ReadyMessage
  | LogMessage
  | LogsTruncatedMessage
  | ResultMessage
  | ExitedMessage
  | StoppedMessage;
