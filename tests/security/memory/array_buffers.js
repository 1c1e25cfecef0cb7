// Off-heap memory: the isolate host's memory cgroup, the wasm tier's memory cap.
// expect: {"status": "memory_limit"}
// limits: {"timeout_ms": 20000}
export default () => {
  const hoard = [];
  for (;;) hoard.push(new Uint8Array(1 << 24).fill(1));
};
