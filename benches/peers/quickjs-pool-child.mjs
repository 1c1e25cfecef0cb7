/**
 * A pool thread of the quickjs-emscripten peer: its own QuickJS wasm module, one workload at a
 * time, a fresh runtime and context for each (quickjs-run.mjs).
 */
import { parentPort } from "node:worker_threads";
import { getQuickJS } from "quickjs-emscripten";
import { runFresh } from "./quickjs-run.mjs";

const quickjs = await getQuickJS();
parentPort.on("message", ({ id, code, input }) => {
  try {
    parentPort.postMessage({ id, output: runFresh(quickjs, code, input) });
  } catch (error) {
    parentPort.postMessage({ id, error: String(error?.stack ?? error) });
  }
});
parentPort.postMessage({ ready: true });
