/**
 * One workload in a fresh quickjs-emscripten runtime and context, disposed after: the shared
 * part of the peer's main thread and its pool threads. The same work as Vulcan's wasm guest:
 * evaluate the module, `JSON.parse` the input inside QuickJS, call the default export, settle
 * a returned promise, `JSON.stringify` inside QuickJS. Limits as the wasm tier's defaults:
 * 64 MiB of memory, 1 MiB of QuickJS stack.
 */
const GLUE = `{
  const value = globalThis.__namespace.default(JSON.parse(globalThis.__input));
  value instanceof Promise
    ? value.then((settled) => JSON.stringify(settled) ?? "null")
    : JSON.stringify(value) ?? "null";
}`;

export function runFresh(quickjs, code, input) {
  const runtime = quickjs.newRuntime();
  runtime.setMemoryLimit(64 << 20);
  runtime.setMaxStackSize(1 << 20);
  const vm = runtime.newContext();
  try {
    const namespace = vm.unwrapResult(vm.evalCode(code, "workload.js", { type: "module" }));
    vm.setProp(vm.global, "__namespace", namespace);
    namespace.dispose();
    const text = vm.newString(input);
    vm.setProp(vm.global, "__input", text);
    text.dispose();
    const result = vm.unwrapResult(vm.evalCode(GLUE, "glue.js", { type: "global" }));
    let value = result;
    const state = vm.getPromiseState(result);
    if (!state.notAPromise) {
      runtime.executePendingJobs().error?.dispose();
      const settled = vm.getPromiseState(result);
      result.dispose();
      if (settled.type !== "fulfilled") {
        const error = settled.type === "rejected" ? vm.dump(settled.error) : "never settled";
        settled.error?.dispose();
        throw new Error(`workload failed: ${JSON.stringify(error)}`);
      }
      value = settled.value;
    }
    const output = vm.getString(value);
    value.dispose();
    return output;
  } finally {
    vm.dispose();
    runtime.dispose();
  }
}
