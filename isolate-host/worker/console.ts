/**
 * The workload's `console`: `log`, `info`, `warn`, `error` and `debug`, each call one entry
 * (arguments joined by a space; strings as they are, errors as `name: message`, anything else
 * as JSON when it has a JSON form, else `String(value)`). The same object as the wasm tier's.
 *
 * Each entry goes to `emit` as it happens; once `emit` refuses one (the log budget closed),
 * later calls return before formatting anything, so a flood costs neither memory nor time.
 */
import type { LogLevel } from "../src/protocol.ts";

const LEVELS: readonly LogLevel[] = ["log", "info", "warn", "error", "debug"];

// Captured before any workload code runs, so a workload that replaces them breaks only itself.
const stringify = JSON.stringify;
const ErrorCtor = Error;
const StringCtor = String;
const defineProperty = Object.defineProperty;

/** Takes one entry; returns whether it was kept. */
export type Emit = (level: LogLevel, message: string) => boolean;

/**
 * Replaces `globalThis.console`, once per worker (redefining a global is slow in V8), and
 * returns what points it at a run's `emit`. Entries made before that are dropped.
 */
export function installConsole(): (emit: Emit) => void {
  let emit: Emit | null = null;
  let open = true;
  const console = {};
  for (const level of LEVELS) {
    define(console, level, (...args: unknown[]) => {
      if (!open || !emit) return;
      let message = "";
      for (let i = 0; i < args.length; i++) message += (i ? " " : "") + show(args[i]);
      open = emit(level, message);
    });
  }
  define(globalThis, "console", console);
  return (next) => {
    emit = next;
    open = true;
  };
}

/** How one argument of a `console.*` call reads. */
export function show(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    if (value instanceof ErrorCtor) return `${value.name}: ${value.message}`;
    const json = stringify(value);
    if (json !== undefined) return json;
  } catch {
    // Not JSON-serialisable (BigInt, a cycle) or a throwing getter: String below.
  }
  try {
    return StringCtor(value);
  } catch {
    return "[unprintable]";
  }
}

function define(target: object, name: string, value: unknown): void {
  defineProperty(target, name, { value, writable: true, configurable: true, enumerable: false });
}
