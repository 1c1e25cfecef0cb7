/**
 * The built-ins the worker's runtime uses once workload code may have run, captured when the
 * worker starts (before any workload code) and called only from here.
 *
 * A workload may replace any built-in it can reach (`Array.prototype[Symbol.iterator]`,
 * `Promise.prototype.then`, `JSON.stringify`, `String.prototype.slice`, getters on
 * `Error.prototype`, …). That must break only the workload itself, never the answer the
 * runtime gives about it. So the runtime's code that runs after the workload started (loading
 * its module, calling it, serialising its value, describing its errors, its console, its
 * messages to the host) calls methods through these uncurried copies (`apply` takes the
 * argument list by index, not by iterator), and avoids iteration protocols, spread of arrays
 * and array destructuring altogether. The same discipline as Deno's own `primordials`.
 */

const { apply } = Reflect;

// deno-lint-ignore no-explicit-any
type Method = (this: any, ...args: any[]) => any;

/** `method` as a function of its receiver and arguments, immune to later replacement. */
function uncurry<M extends Method>(
  method: M,
): (self: ThisParameterType<M>, ...args: Parameters<M>) => ReturnType<M> {
  return (self, ...args) => apply(method, self, args);
}

export const JSONStringify = JSON.stringify;
export const JSONParse = JSON.parse;
export const StringCtor = String;
export const NumberCtor = Number;
export const ErrorPrototype = Error.prototype;
export const ObjectPrototypeIsPrototypeOf = uncurry(Object.prototype.isPrototypeOf);
export const ObjectDefineProperty = Object.defineProperty;

export const StringPrototypeSlice = uncurry(String.prototype.slice);
export const StringPrototypeIndexOf = uncurry(String.prototype.indexOf);
export const StringPrototypeLastIndexOf = uncurry(String.prototype.lastIndexOf);
export const StringPrototypeStartsWith = uncurry(String.prototype.startsWith);
export const StringPrototypeIncludes = uncurry(String.prototype.includes);
export const StringPrototypeCharCodeAt = uncurry(String.prototype.charCodeAt);
export const StringPrototypeTrimEnd = uncurry(String.prototype.trimEnd);

const typedArrayLength = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype),
  "length",
)!.get!;
/** The length of `bytes` (a typed array's `length` is a replaceable getter). */
export function byteCount(bytes: Uint8Array): number {
  return apply(typedArrayLength, bytes, []);
}

const encoder = new TextEncoder();
const encode = TextEncoder.prototype.encode;
/** UTF-8 bytes of `text`; lone surrogates become U+FFFD. */
export function encodeUtf8(text: string): Uint8Array {
  return apply(encode, encoder, [text]);
}

/** The runtime's own module (a `blob:` URL in a worker), which its stack frames name. */
export const RUNTIME_URL = import.meta.url;

/** How frames of a workload's module loaded from a `data:` URL begin (Deno abbreviates long ones). */
export const DATA_MODULE_PREFIX = "data:application/javascript,";
/**
 * Code up to this many UTF-16 units is loaded from a `data:` URL, longer code from a `blob:`
 * one. Deno loads a `data:` module ~0.4 ms faster (measured here), but its URL is the whole
 * code, percent-encoded, and load errors quote it in full.
 */
const DATA_URL_MAX_CHARS = 32_768;
const encodeURIComponentBuiltin = encodeURIComponent;
const BlobCtor = Blob;
const createObjectURL = URL.createObjectURL;
const revokeObjectURL = URL.revokeObjectURL;

/** A URL holding `text` as a JavaScript module; only before workload code runs. */
export function moduleUrl(text: string): string {
  if (text.length <= DATA_URL_MAX_CHARS) {
    return DATA_MODULE_PREFIX + encodeURIComponentBuiltin(text);
  }
  return createObjectURL(new BlobCtor([text], { type: "application/javascript" }));
}

/** Releases a URL made by `moduleUrl` (a `data:` URL holds nothing). */
export function revokeModuleUrl(url: string): void {
  if (!StringPrototypeStartsWith(url, DATA_MODULE_PREFIX)) revokeObjectURL(url);
}

/** How the frames of the module at `url` (made by `moduleUrl`) begin. */
export function moduleFramePrefix(url: string): string {
  return StringPrototypeStartsWith(url, DATA_MODULE_PREFIX) ? DATA_MODULE_PREFIX : url;
}

const memoryUsage = Deno.memoryUsage;
/** This isolate's heap (and the process's resident memory). */
export function isolateMemory(): Deno.MemoryUsage {
  return memoryUsage();
}

const preventDefault = Event.prototype.preventDefault;
export function EventPrototypePreventDefault(event: Event): void {
  apply(preventDefault, event, []);
}
const errorOf = Object.getOwnPropertyDescriptor(ErrorEvent.prototype, "error")!.get!;
export function ErrorEventError(event: ErrorEvent): unknown {
  return apply(errorOf, event, []);
}
const reasonOf = Object.getOwnPropertyDescriptor(PromiseRejectionEvent.prototype, "reason")!.get!;
export function PromiseRejectionEventReason(event: PromiseRejectionEvent): unknown {
  return apply(reasonOf, event, []);
}
