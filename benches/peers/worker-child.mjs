/**
 * One workload in a `node:worker_threads` worker, used once (Node, and Deno's node:worker_threads
 * for the isolate-tier lower bound): import the code as a module, call its default export with
 * the parsed input, post back `JSON.stringify` of the result. Nothing else: no console capture,
 * no sealing, no heap watch (Vulcan's host does all of that; this is the bare mechanism).
 */
import { parentPort, workerData } from "node:worker_threads";

const MEDIA_TYPES = { javascript: "application/javascript", typescript: "application/typescript" };

/** Deno imports a `blob:` URL typed as TypeScript with type-stripping; Node 20 only data: JS. */
function moduleUrl(code, language) {
  if (typeof Deno !== "undefined") {
    return URL.createObjectURL(new Blob([code], { type: MEDIA_TYPES[language] }));
  }
  return `data:text/javascript,${encodeURIComponent(code)}`;
}

parentPort.once("message", async ({ code, language, input }) => {
  const { default: main } = await import(moduleUrl(code, language));
  parentPort.postMessage(JSON.stringify(await main(JSON.parse(input))) ?? "null");
});
// For the idle-isolate measurement: say when the worker has booted and waits.
if (workerData?.announce) parentPort.postMessage("ready");
