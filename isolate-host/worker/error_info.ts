/**
 * What a workload threw, as the `ErrorInfo` the host reports: name, message, and the 1-based
 * line and column in the submitted source.
 *
 * Two shapes reach here. An exception the workload raised carries its position in its stack
 * (`at f (vm:workload.js:4:27)`, or `blob:null/…:4:27` when Deno's loader loaded it; TypeScript
 * positions are the source's either way). An error that stopped the module from loading (always
 * by Deno's loader, see `run.ts`) carries it at the end of its message instead: a V8 early error
 * is a `SyntaxError` ending `at blob:null/…:1:40`; Deno's own parse errors and refused imports
 * are a `TypeError` whose message ends with a line `    at blob:null/…:3:10`, and a parse
 * error's message starts with `SyntaxError: `, so it is reported under that name.
 *
 * Reading a thrown value may run workload code (getters, `toString`); whatever that code does,
 * the description degrades to fewer fields instead of failing. Message and stack are cut at
 * `MAX_TEXT_CHARS`, and the module's URL is replaced by `workload.js` / `workload.ts`.
 */
import type { ErrorInfo } from "../src/protocol.ts";

/** Longest message or stack kept, in UTF-16 code units. */
export const MAX_TEXT_CHARS = 16_384;

/** The workload module as errors name it. */
export interface ModuleName {
  /** The URL it was imported from. */
  url: string;
  /** What to call it instead: `workload.js` or `workload.ts`. */
  display: string;
}

const ErrorCtor = Error;
const StringCtor = String;
// deno-lint-ignore no-control-regex -- Deno colours load errors with ANSI escapes; they go.
const ANSI_ESCAPES = /\u001b\[[0-9;]*m/g;
/**
 * A frame of the worker's own code: its modules are `blob:` URLs (`src/worker_source.ts`), as is
 * the workload when Deno's loader loads it (its frames are kept), and `run.ts` evaluates modules
 * in place through Deno's `node:vm`.
 */
const RUNTIME_FRAME = /^\s+at .*(blob:|ext:deno_node\/vm\.js)/;

export function describeError(thrown: unknown, module: ModuleName): ErrorInfo {
  if (!isError(thrown)) {
    return info("Error", text(() => StringCtor(thrown)) ?? "unprintable value", null, null);
  }
  const error = thrown as Error;
  const name = text(() => error.name) ?? "Error";
  const message = text(() => error.message) ?? "";
  const stack = text(() => error.stack);
  const loadFailure = splitLoadFailure(message, module);
  if (loadFailure) {
    const { line, column } = loadFailure;
    const [realName, realMessage] = loadFailure.message.startsWith("SyntaxError: ")
      ? ["SyntaxError", loadFailure.message.slice("SyntaxError: ".length)]
      : [name, loadFailure.message];
    const at = `    at ${module.display}:${line}:${column}`;
    return info(realName, realMessage, { line, column }, `${realName}: ${realMessage}\n${at}`);
  }
  const shownStack = stack === null ? null : cleanStack(stack, module);
  return info(name, message, firstPosition(stack ?? "", module.url), shownStack);
}

interface Position {
  line: number;
  column: number;
}

/**
 * A message that ends with `at <module url>:L:C`: its first line, without that suffix, and the
 * position. Deno's parser puts the position on a line of its own after a code frame; V8's
 * early errors (`Unexpected reserved word at …`) append it to the message.
 */
function splitLoadFailure(
  message: string,
  module: ModuleName,
): (Position & { message: string }) | null {
  const plain = message.replace(ANSI_ESCAPES, "");
  const marker = ` at ${module.url}:`;
  const at = plain.lastIndexOf(marker);
  if (at < 0) return null;
  const position = parsePosition(plain.slice(at + marker.length));
  if (!position) return null;
  return { ...position, message: plain.slice(0, at).trimEnd().split("\n")[0] };
}

/** The position in the first stack frame that is in the workload's module. */
function firstPosition(stack: string, url: string): Position | null {
  let from = 0;
  while (true) {
    const at = stack.indexOf(`${url}:`, from);
    if (at < 0) return null;
    const position = parsePosition(stack.slice(at + url.length + 1));
    if (position) return position;
    from = at + 1;
  }
}

/** `12:34…` → line 12, column 34. */
function parsePosition(text: string): Position | null {
  const match = /^(\d+):(\d+)/.exec(text);
  return match ? { line: Number(match[1]), column: Number(match[2]) } : null;
}

function cleanStack(stack: string, module: ModuleName): string {
  return stack
    .replace(ANSI_ESCAPES, "")
    .split("\n")
    .filter((line) => !RUNTIME_FRAME.test(line) || line.includes(`${module.url}:`))
    .join("\n")
    .replaceAll(module.url, module.display);
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

/** `instanceof Error`, which a proxy's traps could make throw. */
function isError(value: unknown): boolean {
  try {
    return value instanceof ErrorCtor;
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
  return value.length > MAX_TEXT_CHARS ? value.slice(0, MAX_TEXT_CHARS) : value;
}
