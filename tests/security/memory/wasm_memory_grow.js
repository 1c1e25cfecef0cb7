// WebAssembly memories: the isolate host's memory cgroup; the wasm tier's QuickJS has no
// WebAssembly at all.
// expect.isolate: {"status": "memory_limit"}
// expect.wasm: {"status": "error", "error": {"name": "ReferenceError"}}
// limits: {"timeout_ms": 20000}
export default () => {
  const memories = [];
  for (;;) {
    const memory = new WebAssembly.Memory({ initial: 1024 });
    new Uint8Array(memory.buffer).fill(1);
    memories.push(memory);
  }
};
