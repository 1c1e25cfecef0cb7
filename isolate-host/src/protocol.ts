/**
 * The shapes that cross a boundary: the agent's HTTP requests and answers, and the messages
 * between the host and a workload worker. Types only, so `worker/` can import them too (a type
 * import is erased before the worker loads).
 *
 * Every message from a worker is hostile input: the workload shares the worker's isolate and can
 * post anything on its port. `src/worker_message.ts` checks each one before it is used.
 */

export type Language = "javascript" | "typescript";

export type Status = "succeeded" | "error" | "timeout" | "memory_limit" | "output_limit";

export type LogLevel = "log" | "info" | "warn" | "error" | "debug";

/** `POST /execute`, after validation (`src/request.ts`). */
export interface ExecuteRequest {
  code: string;
  language: Language;
  /** Any JSON value; `null` when absent. */
  input: unknown;
  /** Wall-clock budget from the moment the worker is handed the workload. */
  timeout_ms: number;
  /** Cap on the UTF-8 bytes of the output's JSON text. */
  max_output_bytes: number;
  /** Cap on the UTF-8 bytes of all kept log messages. */
  max_log_bytes: number;
  /** Cap on the number of kept log entries. */
  max_log_lines: number;
  /** Heap limit of the worker; the host's `--heap-mb` when absent. */
  memory_mb: number;
}

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

export interface ExecuteMetadata extends HeapStats {
  /** Time the host's thread spent creating the worker for this request; 0 when it was warm. */
  worker_create_ms: number;
  /** How long the warm worker waited before this request took it; 0 when it was created for it. */
  warm_age_ms: number;
}

/** The answer to `POST /execute`, whatever the status. */
export interface ExecuteResponse {
  status: Status;
  output: unknown;
  error: ErrorInfo | null;
  logs: LogEntry[];
  logs_truncated: boolean;
  duration_ms: number;
  /** The host can no longer be trusted to stay healthy: replace it. */
  poisoned: boolean;
  metadata: ExecuteMetadata;
}

/** The answer to `GET /health`. */
export interface HealthResponse {
  ok: true;
  pid: number;
  active: number;
  served: number;
  poisoned: boolean;
  rss_bytes: number;
}

// --- host → worker ---------------------------------------------------------------------------

/** The one workload a worker runs. */
export interface RunMessage {
  type: "run";
  code: string;
  language: Language;
  input: unknown;
  max_output_bytes: number;
  max_log_bytes: number;
  max_log_lines: number;
}

/** Sent at the deadline: the worker exits at once if its event loop is free. */
export interface StopMessage {
  type: "stop";
}

/** Sent once a worker is created: its first message warms the message path up. */
export interface PingMessage {
  type: "ping";
}

export type HostMessage = RunMessage | StopMessage | PingMessage;

// --- worker → host ---------------------------------------------------------------------------

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
  status: "succeeded" | "error" | "output_limit" | "memory_limit";
  /** The output's JSON text, when `succeeded`. */
  output_json: string | null;
  /** UTF-8 bytes of the output's JSON text, when `output_limit`. */
  output_bytes: number | null;
  error: ErrorInfo | null;
  heap: HeapStats;
}

/**
 * Sent once, when the worker has loaded its modules and warmed up (before any workload): the
 * pool then releases the worker's module URLs. A workload's run ignores it.
 */
export interface ReadyMessage {
  type: "ready";
}

export type WorkerMessage = ReadyMessage | LogMessage | LogsTruncatedMessage | ResultMessage;
