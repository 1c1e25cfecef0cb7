// expect: {"status": "memory_limit"}
// limits: {"memory_mb": 32, "timeout_ms": 10000}
export default () => {
  const hoard = [];
  for (;;) hoard.push(new Array(1e5).fill(1));
};
