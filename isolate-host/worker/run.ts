/**
 * Runs one workload inside its worker: loads the code as an ES module, checks the contract,
 * calls the default export with the input, and serialises what it returns.
 *
 * The code is imported from a `blob:` URL whose media type tells Deno's own loader to
 * type-strip TypeScript; Deno maps stack positions back to the submitted source, so lines and
 * columns are the user's for both languages.
 */
import type { ErrorInfo, Language, ResultMessage, RunMessage } from "../src/protocol.ts";
import { describeError, type ModuleName } from "./error_info.ts";
import { utf8Length } from "./log_budget.ts";

/** What the worker reports, less what it adds itself (`type`, `heap`). */
export type Outcome = Omit<ResultMessage, "type" | "heap">;

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

/** Where the workload's module will be loaded from, and what errors call it. */
export function workloadModule(job: RunMessage): ModuleName {
  const blob = new BlobCtor([job.code], { type: MEDIA_TYPES[job.language] });
  return {
    url: createObjectURL(blob),
    display: job.language === "typescript" ? "workload.ts" : "workload.js",
  };
}

export async function runWorkload(job: RunMessage, module: ModuleName): Promise<Outcome> {
  let namespace: Record<string, unknown>;
  try {
    namespace = await import(module.url);
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

/**
 * Calls `main(input)` from a task of its own (`setImmediate`) and settles with what it returns
 * or throws. The module was evaluated in a promise job, and so would be code after an `await`:
 * V8 reaching the heap limit in a task ends the worker with ERR_WORKER_OUT_OF_MEMORY at once,
 * while in a promise job it is only noticed by `heap_watch.ts`. Synchronous workload code, where
 * most allocation happens, thus gets the direct path. (`setImmediate` costs 0.3 ms;
 * `setTimeout(0)`, 2.3 ms; a MessageChannel callback behaves like a promise job.)
 */
function callInTask(main: (input: unknown) => unknown, input: unknown): Promise<unknown> {
  return new PromiseCtor((resolve, reject) =>
    setImmediateBuiltin(() => {
      try {
        resolve(main(input));
      } catch (thrown) {
        reject(thrown);
      }
    })
  );
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
