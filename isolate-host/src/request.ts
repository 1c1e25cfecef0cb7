/**
 * Validates the head of a `run` frame.
 *
 * Required: `timeout_ms` (1 to 2^31-1, the longest `setTimeout` delay), `max_output_bytes`,
 * `max_log_bytes`, `max_log_lines` (integers ≥ 0) and `module_name` (`workload.js` or
 * `workload.ts`). Unknown fields are refused, as the agent's own API refuses them. The payload
 * (code and input) is the worker's to read.
 */
import type { ModuleDisplayName, RunHead } from "./protocol.ts";

export type Parsed = { ok: true; head: RunHead } | { ok: false; message: string };

const MAX_TIMEOUT_MS = 2 ** 31 - 1;
const FIELDS = new Set([
  "type",
  "timeout_ms",
  "max_output_bytes",
  "max_log_bytes",
  "max_log_lines",
  "module_name",
]);
const MODULE_NAMES: readonly unknown[] = ["workload.js", "workload.ts"];

export function parseRunHead(head: unknown): Parsed {
  const fields = head as Record<string, unknown>;
  const unknown = Object.keys(fields).find((name) => !FIELDS.has(name));
  if (unknown !== undefined) return refuse(`unknown field ${JSON.stringify(unknown)}`);
  if (!MODULE_NAMES.includes(fields.module_name)) {
    return refuse("module_name must be workload.js or workload.ts");
  }
  const limits: [string, number, number][] = [
    ["timeout_ms", 1, MAX_TIMEOUT_MS],
    ["max_output_bytes", 0, Number.MAX_SAFE_INTEGER],
    ["max_log_bytes", 0, Number.MAX_SAFE_INTEGER],
    ["max_log_lines", 0, Number.MAX_SAFE_INTEGER],
  ];
  for (const [name, min, max] of limits) {
    const value = fields[name];
    if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
      return refuse(`${name} must be an integer from ${min} to ${max}`);
    }
  }
  return {
    ok: true,
    head: {
      type: "run",
      timeout_ms: fields.timeout_ms as number,
      max_output_bytes: fields.max_output_bytes as number,
      max_log_bytes: fields.max_log_bytes as number,
      max_log_lines: fields.max_log_lines as number,
      module_name: fields.module_name as ModuleDisplayName,
    },
  };
}

function refuse(message: string): Parsed {
  return { ok: false, message };
}
