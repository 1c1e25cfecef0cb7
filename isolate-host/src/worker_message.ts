/**
 * Checks a message from a worker before the host uses it.
 *
 * The workload shares its worker's isolate and can post anything on the worker's port, so no
 * message is trusted: one of the wrong shape is dropped (`null`), strings are cut, and a result's
 * output must parse as JSON. A well-formed result the workload forged is no worse than the
 * workload returning that value; the host still applies every limit to it.
 */
import { utf8Length } from "../worker/log_budget.ts";
import { MAX_TEXT_CHARS } from "../worker/error_info.ts";
import type {
  ErrorInfo,
  HeapStats,
  LogLevel,
  LogMessage,
  LogsTruncatedMessage,
  ResultMessage,
} from "./protocol.ts";

/** A result whose output has been parsed and measured. */
export interface CheckedResult {
  type: "result";
  status: ResultMessage["status"];
  output: unknown;
  /** UTF-8 bytes of the output's JSON text. */
  output_bytes: number;
  error: ErrorInfo | null;
  heap: HeapStats;
}

export type CheckedMessage = LogMessage | LogsTruncatedMessage | CheckedResult;

const LOG_LEVELS: readonly unknown[] = ["log", "info", "warn", "error", "debug"];

export function checkWorkerMessage(value: unknown): CheckedMessage | null {
  if (!isRecord(value)) return null;
  switch (value.type) {
    case "log":
      if (!LOG_LEVELS.includes(value.level) || typeof value.message !== "string") return null;
      return { type: "log", level: value.level as LogLevel, message: value.message };
    case "logs_truncated":
      return { type: "logs_truncated" };
    case "result":
      return checkResult(value);
    default:
      return null;
  }
}

function checkResult(value: Record<string, unknown>): CheckedResult | null {
  const heap = checkHeap(value.heap);
  if (!heap) return null;
  const result = { type: "result", output: null, output_bytes: 0, error: null, heap } as const;
  switch (value.status) {
    case "succeeded": {
      if (typeof value.output_json !== "string") return null;
      try {
        const output = JSON.parse(value.output_json);
        const output_bytes = utf8Length(value.output_json);
        return { ...result, status: "succeeded", output, output_bytes };
      } catch {
        return null;
      }
    }
    case "output_limit":
      if (!isCount(value.output_bytes)) return null;
      return { ...result, status: "output_limit", output_bytes: value.output_bytes };
    case "memory_limit":
      return { ...result, status: "memory_limit" };
    case "error": {
      const error = checkError(value.error);
      return error ? { ...result, status: "error", error } : null;
    }
    default:
      return null;
  }
}

function checkError(value: unknown): ErrorInfo | null {
  if (!isRecord(value) || typeof value.name !== "string" || typeof value.message !== "string") {
    return null;
  }
  const position = (field: unknown) => isCount(field) ? field : null;
  return {
    name: cut(value.name),
    message: cut(value.message),
    line: position(value.line),
    column: position(value.column),
    stack: typeof value.stack === "string" ? cut(value.stack) : null,
  };
}

function checkHeap(value: unknown): HeapStats | null {
  if (!isRecord(value)) return null;
  const { heap_used_bytes, heap_total_bytes, external_bytes } = value;
  if (!isCount(heap_used_bytes) || !isCount(heap_total_bytes) || !isCount(external_bytes)) {
    return null;
  }
  return { heap_used_bytes, heap_total_bytes, external_bytes };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function cut(text: string): string {
  return text.length > MAX_TEXT_CHARS ? text.slice(0, MAX_TEXT_CHARS) : text;
}
