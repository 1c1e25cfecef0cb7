/**
 * Runs one workload inside its worker: loads the code as an ES module, checks the contract,
 * calls the default export with the input, and serialises what it returns.
 *
 * The code is plain JavaScript (the agent strips TypeScript's types, keeping every position)
 * and is imported from a `blob:` URL, so Deno's loader parses it, refuses its imports by
 * permission, and reports syntax errors with their positions; stack frames name the short
 * blob URL, replaced by `workload.js` / `workload.ts` in what is reported.
 *
 * Everything after the import runs after workload code: captured built-ins only, and every
 * object this runtime resolves a promise with has no prototype, so a workload that makes
 * objects thenable (`Object.prototype.then = …`) cannot take over the runtime's own `await`s.
 */
import type { ErrorInfo } from "../src/protocol.ts";
import { describeError, type ModuleName } from "./error_info.ts";
import { byteCount, encodeUtf8, JSONStringify, moduleUrl, revokeModuleUrl } from "./intrinsics.ts";

/** What to run, as the host hands it over. */
export interface Job {
  code: string;
  input: unknown;
  max_output_bytes: number;
}

/** How the workload ended, as far as the worker can tell. */
export type Outcome =
  | { status: "succeeded"; output: Uint8Array }
  | { status: "output_limit"; output_bytes: number }
  | { status: "error"; error: ErrorInfo };

type Namespace = Record<string, unknown>;

export async function runWorkload(job: Job, module: ModuleName): Promise<Outcome> {
  let namespace: Namespace;
  try {
    namespace = await load(job.code, module);
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
    // `await` of a native promise does not look up its `then`, which the workload may have
    // replaced; a thenable it returns is awaited as one, as the contract says.
    value = await (main as (input: unknown) => unknown)(job.input);
  } catch (thrown) {
    return failed(describeError(thrown, module));
  }
  return serialise(value, job.max_output_bytes, module);
}

/** The module's namespace once it has been evaluated (top-level `await` included). */
async function load(code: string, module: ModuleName): Promise<Namespace> {
  module.url = moduleUrl(code);
  try {
    return await import(module.url);
  } finally {
    revokeModuleUrl(module.url);
  }
}

/** `JSON.stringify` (`undefined` becomes `null`) as UTF-8, checked against the output cap. */
function serialise(value: unknown, maxOutputBytes: number, module: ModuleName): Outcome {
  let json: string | undefined;
  try {
    json = JSONStringify(value);
  } catch (thrown) {
    const inner = describeError(thrown, module);
    return failed(bare("OutputError", `output is not JSON-serialisable: ${inner.message}`));
  }
  const output = encodeUtf8(json ?? "null");
  const bytes = byteCount(output);
  if (bytes > maxOutputBytes) {
    return { __proto__: null, status: "output_limit", output_bytes: bytes } as Outcome;
  }
  return { __proto__: null, status: "succeeded", output } as Outcome;
}

export function failed(error: ErrorInfo): Outcome {
  return { __proto__: null, status: "error", error } as Outcome;
}

function contractError(message: string): ErrorInfo {
  return bare("ContractError", message);
}

function bare(name: string, message: string): ErrorInfo {
  return { name, message, line: null, column: null, stack: null };
}
