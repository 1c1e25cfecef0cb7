/**
 * What a workload threw, as the `ErrorInfo` the host reports: name, message, and the 1-based
 * line and column in the submitted source.
 *
 * The module's URL is a `data:application/javascript,…` one (which Deno abbreviates in stack
 * frames) or a `blob:null/…` one (see `moduleUrl`); either way its frames start with a known
 * prefix, and the first `:` after it begins the position. Two shapes reach here. An exception
 * the workload raised carries its position in its stack (`at f (<module>:4:27)`). An error
 * that stopped the module from loading carries it at the end of its message instead: a V8 early
 * error is a `SyntaxError` ending `at <module>:1:40`; Deno's own parse errors and refused
 * imports are a `TypeError` whose message ends with a line `    at <module>:3:10`, and a parse
 * error's message starts with `SyntaxError: `, so it is reported under that name.
 *
 * This runs after workload code, which may have replaced any built-in, so it uses only the
 * captured ones (`intrinsics.ts`) and no regular expressions. Reading a thrown value may run
 * workload code (getters, `toString`); whatever that code does, the description degrades to
 * fewer fields instead of failing. Message and stack are cut at `MAX_TEXT_CHARS`, and the
 * module's name in frames is replaced by its display name (`workload.js` / `workload.ts`).
 */
import type { ErrorInfo } from "../src/protocol.ts";
import {
  ErrorPrototype,
  moduleFramePrefix,
  ObjectPrototypeIsPrototypeOf,
  RUNTIME_URL,
  StringCtor,
  StringPrototypeCharCodeAt,
  StringPrototypeIncludes,
  StringPrototypeIndexOf,
  StringPrototypeLastIndexOf,
  StringPrototypeSlice,
  StringPrototypeStartsWith,
  StringPrototypeTrimEnd,
} from "./intrinsics.ts";

/** Longest message or stack kept, in UTF-16 code units. */
export const MAX_TEXT_CHARS = 16_384;

/** The workload module as errors name it. */
export interface ModuleName {
  /** The URL it was imported from (`moduleUrl`). */
  url: string;
  /** What to call it instead: `workload.js` or `workload.ts`. */
  display: string;
}

interface Position {
  line: number;
  column: number;
}

/** What marks a frame of the runtime's own code (the worker's bundle, Deno's `ext:` modules). */
const RUNTIME_FRAMES = [`(${RUNTIME_URL}:`, "(ext:", `at ${RUNTIME_URL}:`, "at ext:"];

export function describeError(thrown: unknown, module: ModuleName): ErrorInfo {
  if (!isError(thrown)) {
    return info("Error", text(() => StringCtor(thrown)) ?? "unprintable value", null, null);
  }
  const error = thrown as Error;
  const name = text(() => error.name) ?? "Error";
  const message = text(() => error.message) ?? "";
  const stack = text(() => error.stack);
  // No URL yet: the error came before the module was imported, so it has no position in it.
  const prefix = module.url === "" ? null : moduleFramePrefix(module.url);
  const loadFailure = prefix === null ? null : splitLoadFailure(message, prefix);
  if (loadFailure) {
    const { line, column } = loadFailure;
    const prefix = "SyntaxError: ";
    const syntax = StringPrototypeStartsWith(loadFailure.message, prefix);
    const realName = syntax ? "SyntaxError" : name;
    const realMessage = syntax
      ? StringPrototypeSlice(loadFailure.message, prefix.length)
      : loadFailure.message;
    const at = `    at ${module.display}:${line}:${column}`;
    return info(realName, realMessage, { line, column }, `${realName}: ${realMessage}\n${at}`);
  }
  if (prefix === null) return info(name, message, null, stack);
  const shownStack = stack === null ? null : cleanStack(stack, prefix, module.display);
  return info(name, message, firstPosition(stack ?? "", prefix), shownStack);
}

/**
 * A message that ends with `at <module>:L:C`: its first line, without that suffix, and the
 * position. Deno's parser puts the position on a line of its own after a code frame; V8's
 * early errors (`Unexpected reserved word at …`) append it to the message.
 */
function splitLoadFailure(
  message: string,
  prefix: string,
): (Position & { message: string }) | null {
  const plain = withoutAnsiEscapes(message);
  const at = StringPrototypeLastIndexOf(plain, ` at ${prefix}`);
  if (at < 0) return null;
  const position = positionAfter(plain, at + 4 + prefix.length);
  if (!position) return null;
  const before = StringPrototypeTrimEnd(StringPrototypeSlice(plain, 0, at));
  const newline = StringPrototypeIndexOf(before, "\n");
  return { ...position, message: newline < 0 ? before : StringPrototypeSlice(before, 0, newline) };
}

/** The position in the first stack frame that is in the workload's module. */
function firstPosition(stack: string, prefix: string): Position | null {
  for (
    let at = StringPrototypeIndexOf(stack, prefix);
    at >= 0;
    at = StringPrototypeIndexOf(stack, prefix, at + 1)
  ) {
    const position = positionAfter(stack, at + prefix.length);
    if (position) return position;
  }
  return null;
}

/** The `L:C` after the first `:` from `from` (the end of a module's name in a frame). */
function positionAfter(text: string, from: number): Position | null {
  const colon = StringPrototypeIndexOf(text, ":", from);
  return colon < 0 ? null : parsePosition(StringPrototypeSlice(text, colon + 1));
}

/** `12:34…` → line 12, column 34. */
function parsePosition(text: string): Position | null {
  const line = leadingNumber(text, 0);
  if (!line || StringPrototypeCharCodeAt(text, line.end) !== 0x3a /* : */) return null;
  const column = leadingNumber(text, line.end + 1);
  return column ? { line: line.value, column: column.value } : null;
}

/** The decimal number starting at `from`, and where it ends; null if there is none. */
function leadingNumber(text: string, from: number): { value: number; end: number } | null {
  let value = 0;
  let end = from;
  for (; end < text.length; end++) {
    const digit = StringPrototypeCharCodeAt(text, end) - 0x30;
    if (!(digit >= 0 && digit <= 9)) break;
    value = value * 10 + digit;
  }
  return end > from ? { value, end } : null;
}

/** Keeps the workload's frames (and any line that is not a runtime frame), named `display`. */
function cleanStack(stack: string, prefix: string, display: string): string {
  const plain = withoutAnsiEscapes(stack);
  let kept = "";
  for (let start = 0; start <= plain.length;) {
    let end = StringPrototypeIndexOf(plain, "\n", start);
    if (end < 0) end = plain.length;
    const line = StringPrototypeSlice(plain, start, end);
    start = end + 1;
    if (isRuntimeFrame(line) && !StringPrototypeIncludes(line, prefix)) continue;
    kept += (kept ? "\n" : "") + renameModule(line, prefix, display);
  }
  return kept;
}

/**
 * `line` with each name of the module (from `prefix` up to the `:` before its position)
 * replaced by `display`. (`String.prototype.replace` would look up a replaceable
 * `Symbol.replace`, even on a string pattern.)
 */
function renameModule(line: string, prefix: string, display: string): string {
  let result = "";
  let from = 0;
  for (let at = StringPrototypeIndexOf(line, prefix); at >= 0;) {
    const colon = StringPrototypeIndexOf(line, ":", at + prefix.length);
    if (colon < 0) break;
    result += StringPrototypeSlice(line, from, at) + display;
    from = colon;
    at = StringPrototypeIndexOf(line, prefix, from);
  }
  return result + StringPrototypeSlice(line, from);
}

function isRuntimeFrame(line: string): boolean {
  for (let i = 0; i < RUNTIME_FRAMES.length; i++) {
    if (StringPrototypeIncludes(line, RUNTIME_FRAMES[i])) return true;
  }
  return false;
}

/** `text` without terminal colour sequences (`ESC [ … m`), which some Deno errors carry. */
function withoutAnsiEscapes(text: string): string {
  let escape = StringPrototypeIndexOf(text, "\u001b[");
  if (escape < 0) return text;
  let plain = "";
  let from = 0;
  while (escape >= 0) {
    plain += StringPrototypeSlice(text, from, escape);
    const end = StringPrototypeIndexOf(text, "m", escape);
    if (end < 0) return plain;
    from = end + 1;
    escape = StringPrototypeIndexOf(text, "\u001b[", from);
  }
  return plain + StringPrototypeSlice(text, from);
}

function info(
  name: string,
  message: string,
  position: Position | null,
  stack: string | null,
): ErrorInfo {
  return {
    name: cut(name),
    message: cut(message),
    line: position?.line ?? null,
    column: position?.column ?? null,
    stack: stack === null ? null : cut(stack),
  };
}

/** Whether `value` is an `Error`, by its prototype chain (a proxy's traps may throw). */
function isError(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  try {
    return ObjectPrototypeIsPrototypeOf(ErrorPrototype, value);
  } catch {
    return false;
  }
}

/** Reads a string from workload-controlled values; `null` if reading throws or yields nothing. */
function text(read: () => unknown): string | null {
  try {
    const value = read();
    return value === undefined || value === null ? null : StringCtor(value);
  } catch {
    return null;
  }
}

function cut(value: string): string {
  return value.length > MAX_TEXT_CHARS ? StringPrototypeSlice(value, 0, MAX_TEXT_CHARS) : value;
}
