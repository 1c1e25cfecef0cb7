/**
 * Validates the body of `POST /execute`.
 *
 * Required: `code` (string), `timeout_ms` (1 to 2^31-1, the longest `setTimeout` delay),
 * `max_output_bytes`, `max_log_bytes`, `max_log_lines` (integers ≥ 0). Optional: `language`
 * (`javascript`, the default, or `typescript`), `input` (any JSON value, default `null`),
 * `memory_mb` (the worker's heap limit, 1 to 65536; default the host's `--heap-mb`).
 * Unknown fields are refused, as the agent's own API refuses them.
 */
import type { ExecuteRequest, Language } from "./protocol.ts";

export type Parsed = { ok: true; request: ExecuteRequest } | { ok: false; message: string };

const MAX_TIMEOUT_MS = 2 ** 31 - 1;
const MAX_MEMORY_MB = 65_536;
const FIELDS = new Set([
  "code",
  "language",
  "input",
  "timeout_ms",
  "max_output_bytes",
  "max_log_bytes",
  "max_log_lines",
  "memory_mb",
]);
const LANGUAGES: readonly unknown[] = ["javascript", "typescript"];

export function parseExecuteRequest(body: unknown, defaultMemoryMb: number): Parsed {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return refuse("the body must be a JSON object");
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).find((name) => !FIELDS.has(name));
  if (unknown !== undefined) return refuse(`unknown field ${JSON.stringify(unknown)}`);
  if (typeof fields.code !== "string") return refuse("code must be a string");
  const language = fields.language ?? "javascript";
  if (!LANGUAGES.includes(language)) return refuse("language must be javascript or typescript");

  const limits: [string, number, number][] = [
    ["timeout_ms", 1, MAX_TIMEOUT_MS],
    ["max_output_bytes", 0, Number.MAX_SAFE_INTEGER],
    ["max_log_bytes", 0, Number.MAX_SAFE_INTEGER],
    ["max_log_lines", 0, Number.MAX_SAFE_INTEGER],
    ["memory_mb", 1, MAX_MEMORY_MB],
  ];
  const values = { ...fields, memory_mb: fields.memory_mb ?? defaultMemoryMb };
  for (const [name, min, max] of limits) {
    const value = values[name as keyof typeof values];
    if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
      return refuse(`${name} must be an integer from ${min} to ${max}`);
    }
  }
  return {
    ok: true,
    request: {
      code: fields.code,
      language: language as Language,
      input: fields.input ?? null,
      timeout_ms: fields.timeout_ms as number,
      max_output_bytes: fields.max_output_bytes as number,
      max_log_bytes: fields.max_log_bytes as number,
      max_log_lines: fields.max_log_lines as number,
      memory_mb: values.memory_mb as number,
    },
  };
}

function refuse(message: string): Parsed {
  return { ok: false, message };
}
