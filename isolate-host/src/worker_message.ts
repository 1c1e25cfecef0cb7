/**
 * Checks a message from a worker before the host uses it.
 *
 * The workload shares its worker's isolate and can post anything to the host, so no message is
 * trusted: one of the wrong shape is dropped (`null`) and strings are cut. The output's bytes
 * are passed on as they are; the agent parses them. A well-formed result the workload forged is
 * no worse than the workload returning that value; every limit still applies to it.
 */
import { MAX_TEXT_CHARS } from "../worker/error_info.ts";
import type {
  ErrorInfo,
  ExitedMessage,
  HeapStats,
  LogLevel,
  LogMessage,
  LogsTruncatedMessage,
} from "./protocol.ts";

/** A result whose shape has been checked. */
export type CheckedResult =
  & { type: "result"; heap: HeapStats }
  & (
    | { status: "succeeded"; output: Uint8Array }
    | { status: "output_limit"; output_bytes: number }
    | { status: "error"; error: ErrorInfo }
  );

export type CheckedMessage = LogMessage | LogsTruncatedMessage | ExitedMessage | CheckedResult;

const LOG_LEVELS: readonly unknown[] = ["log", "info", "warn", "error", "debug"];

export function checkWorkerMessage(value: unknown): CheckedMessage | null {
  if (!isRecord(value)) return null;
  switch (value.type) {
    case "log":
      if (!LOG_LEVELS.includes(value.level) || typeof value.message !== "string") return null;
      return { type: "log", level: value.level as LogLevel, message: value.message };
    case "logs_truncated":
      return { type: "logs_truncated" };
    case "exited":
      return Number.isSafeInteger(value.code)
        ? { type: "exited", code: value.code as number }
        : null;
    case "result":
      return checkResult(value.outcome, value.heap);
    default:
      return null;
  }
}

function checkResult(outcome: unknown, heapValue: unknown): CheckedResult | null {
  const heap = checkHeap(heapValue);
  if (!heap || !isRecord(outcome)) return null;
  switch (outcome.status) {
    case "succeeded":
      return outcome.output instanceof Uint8Array
        ? { type: "result", heap, status: "succeeded", output: outcome.output }
        : null;
    case "output_limit":
      return isCount(outcome.output_bytes)
        ? { type: "result", heap, status: "output_limit", output_bytes: outcome.output_bytes }
        : null;
    case "error": {
      const error = checkError(outcome.error);
      return error ? { type: "result", heap, status: "error", error } : null;
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
