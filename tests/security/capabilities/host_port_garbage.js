// The isolate worker's own port to its host (node:worker_threads' parentPort) fed with
// messages that are not the protocol's; the host must ignore them and still read the
// workload's real answer. The wasm tier has no such module.
// expect: {"status": "succeeded", "output": "real answer"}
export default async () => {
  try {
    const { parentPort } = await import("node:worker_threads");
    for (const junk of [null, 42, "result", { type: "result" }, { type: "log", level: "x" }]) {
      parentPort?.postMessage(junk);
    }
  } catch {
    // no port: nothing to forge
  }
  return "real answer";
};
