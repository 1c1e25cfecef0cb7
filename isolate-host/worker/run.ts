/**
 * Runs one workload inside its worker: loads the code as an ES module, checks the contract,
 * calls the default export with the input, and serialises what it returns.
 *
 * The module is loaded one of two ways, with the same semantics (a V8 source text module in the
 * worker's own context) and the same error positions:
 *
 * - **in place** (`vm.SourceTextModule`, compiled, linked and evaluated in a task of its own)
 *   when the code, TypeScript types stripped, does not contain the word `import`: it then has
 *   no static or dynamic import and no `import.meta`, the only things the two ways differ in.
 *   Types are stripped in place (`stripTypeScriptTypes`), so every line and column stays where
 *   it was. This skips Deno's module loader: ~0.5 ms of a trivial workload (measured, Deno 2.9).
 * - **by Deno's loader** otherwise: `import()` of a `blob:` URL whose media type makes Deno
 *   type-strip TypeScript (and transform what stripping cannot: enums, namespaces), mapping
 *   stack positions back to the source. A syntax error found by V8 in the direct way is also
 *   left to the loader: only Deno's parser reports its position.
 */
import { stripTypeScriptTypes } from "node:module";
import { constants as vmConstants, type DynamicModuleLoader, SourceTextModule } from "node:vm";
import type { ErrorInfo, Language, ResultMessage, RunMessage } from "../src/protocol.ts";
import { describeError, type ModuleName } from "./error_info.ts";
import { utf8Length } from "./log_budget.ts";

/** What the worker reports, less what it adds itself (`type`, `heap`). */
export type Outcome = Omit<ResultMessage, "type" | "heap">;

type Namespace = Record<string, unknown>;

const MEDIA_TYPES: Record<Language, string> = {
  javascript: "application/javascript",
  typescript: "application/typescript",
};

// Captured before any workload code runs, so a workload that replaces them breaks only itself.
const stringify = JSON.stringify;
const BlobCtor = Blob;
const createObjectURL = URL.createObjectURL;
const setImmediateBuiltin = setImmediate;
const PromiseCtor = Promise;
const SourceTextModuleCtor = SourceTextModule;
// @types/node has this constant as a number (Deno's is a symbol) and leaves it out of the
// option's type, which takes it.
const DEFAULT_LOADER = vmConstants
  .USE_MAIN_CONTEXT_DEFAULT_LOADER as unknown as DynamicModuleLoader<SourceTextModule>;
const stripTypes = stripTypeScriptTypes;

/**
 * What errors call the workload's module. `url` is the name its frames carry: first the one it
 * is compiled in place under, replaced by the blob: URL if the loader takes over.
 */
export function workloadModule(job: RunMessage): ModuleName {
  const display = job.language === "typescript" ? "workload.ts" : "workload.js";
  return { url: `vm:${display}`, display };
}

export async function runWorkload(job: RunMessage, module: ModuleName): Promise<Outcome> {
  let namespace: Namespace;
  try {
    namespace = await load(job, module);
  } catch (thrown) {
    return failed(describeError(thrown, module));
  }
  if (!("default" in namespace)) return failed(contractError("module has no default export"));
  const main = namespace.default;
  if (typeof main !== "function") {
    return failed(contractError(`default export is not a function (got ${typeof main})`));
  }
  let value: unknown;
  try {
    value = await callInTask(main as (input: unknown) => unknown, job.input);
  } catch (thrown) {
    return failed(describeError(thrown, module));
  }
  return serialise(value, job.max_output_bytes, module);
}

/** The module's namespace once it has been evaluated (top-level `await` included). */
async function load(job: RunMessage, module: ModuleName): Promise<Namespace> {
  const inPlace = await inTask(() => evaluateInPlace(job, module.url));
  if (inPlace) {
    await inPlace.evaluated;
    return inPlace.namespace;
  }
  module.url = createObjectURL(new BlobCtor([job.code], { type: MEDIA_TYPES[job.language] }));
  return await import(module.url);
}

/** The in-place way; `null` when the code must go to Deno's loader. */
function evaluateInPlace(
  job: RunMessage,
  identifier: string,
): { namespace: Namespace; evaluated: Promise<unknown> } | null {
  let source = job.code;
  if (job.language === "typescript") {
    try {
      source = stripTypes(source, { mode: "strip" });
    } catch {
      return null; // TypeScript beyond types, or a syntax error
    }
  }
  if (source.includes("import")) return null;
  let module: SourceTextModule;
  try {
    // A dynamic import the word check cannot see (`eval("imp" + "ort(…)")`) goes to Deno's
    // loader, as it would from a module Deno loaded.
    module = new SourceTextModuleCtor(source, {
      identifier,
      importModuleDynamically: DEFAULT_LOADER,
    });
  } catch {
    return null; // a syntax error, reported with its position by the loader
  }
  module.linkRequests([]);
  module.instantiate();
  // Runs the module's body now, up to its first top-level `await`.
  const evaluated = module.evaluate();
  evaluated.catch(() => {}); // awaited by the caller; not an unhandled rejection meanwhile
  return { namespace: module.namespace as Namespace, evaluated };
}

/** Settles with what `f` returns or throws, run from a task of its own (see `callInTask`). */
function inTask<T>(f: () => T): Promise<T> {
  return new PromiseCtor((resolve, reject) =>
    setImmediateBuiltin(() => {
      try {
        resolve(f());
      } catch (thrown) {
        reject(thrown);
      }
    })
  );
}

/**
 * Calls `main(input)` from a task of its own (`setImmediate`) and settles with what it returns
 * or throws. The loader evaluates the module in a promise job, and code after an `await` runs in
 * one too:
 * V8 reaching the heap limit in a task ends the worker with ERR_WORKER_OUT_OF_MEMORY at once,
 * while in a promise job it is only noticed by `heap_watch.ts`. Synchronous workload code, where
 * most allocation happens, thus gets the direct path. (A `setImmediate` turn costs ~0.05 ms,
 * the first in a fresh worker ~0.07 ms, but two queued in the same tick delay the first by
 * ~0.2 ms on Deno 2.9; `setTimeout(0)`, 2.3 ms; a MessageChannel callback behaves like a
 * promise job.)
 */
function callInTask(main: (input: unknown) => unknown, input: unknown): Promise<unknown> {
  return inTask(() => main(input));
}

/** `JSON.stringify` (`undefined` becomes `null`), checked against the output cap. */
function serialise(value: unknown, maxOutputBytes: number, module: ModuleName): Outcome {
  let json: string | undefined;
  try {
    json = stringify(value);
  } catch (thrown) {
    const inner = describeError(thrown, module);
    return failed(bare("OutputError", `output is not JSON-serialisable: ${inner.message}`));
  }
  json ??= "null";
  const bytes = utf8Length(json);
  if (bytes > maxOutputBytes) {
    return { status: "output_limit", output_json: null, output_bytes: bytes, error: null };
  }
  return { status: "succeeded", output_json: json, output_bytes: null, error: null };
}

export function failed(error: ErrorInfo): Outcome {
  return { status: "error", output_json: null, output_bytes: null, error };
}

function contractError(message: string): ErrorInfo {
  return bare("ContractError", message);
}

function bare(name: string, message: string): ErrorInfo {
  return { name, message, line: null, column: null, stack: null };
}
