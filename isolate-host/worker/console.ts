/**
 * The workload's `console`: `log`, `info`, `warn`, `error` and `debug`, each call one entry
 * (arguments joined by a space; strings as they are, errors as `name: message`, anything else
 * as JSON when it has a JSON form, else `String(value)`). The same object as the wasm tier's.
 *
 * Each entry goes to `emit` as it happens; once `emit` refuses one (the log budget closed),
 * later calls return before formatting anything, so a flood costs neither memory nor time.
 * Workload code calls it, so it uses only captured built-ins.
 */
import type { LogLevel } from "../src/protocol.ts";
import {
  ErrorPrototype,
  JSONStringify,
  ObjectDefineProperty,
  ObjectPrototypeIsPrototypeOf,
  StringCtor,
} from "./intrinsics.ts";

const LEVELS: readonly LogLevel[] = ["log", "info", "warn", "error", "debug"];

/** Takes one entry; returns whether it was kept. */
export type Emit = (level: LogLevel, message: string) => boolean;

/**
 * Replaces `globalThis.console`, once per worker (before any workload code; the warm-up uses it
 * too), and returns what points it at a run's `emit`. Entries made before that are dropped.
 */
export function installConsole(): (emit: Emit) => void {
  let emit: Emit | null = null;
  let open = true;
  const console = {};
  for (let i = 0; i < LEVELS.length; i++) {
    const level = LEVELS[i];
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
    if (isObject(value) && ObjectPrototypeIsPrototypeOf(ErrorPrototype, value)) {
      const error = value as Error;
      return `${error.name}: ${error.message}`;
    }
    const json = JSONStringify(value);
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

function isObject(value: unknown): value is object {
  return (typeof value === "object" && value !== null) || typeof value === "function";
}

function define(target: object, name: string, value: unknown): void {
  ObjectDefineProperty(target, name, {
    value,
    writable: true,
    configurable: true,
    enumerable: false,
  });
}
