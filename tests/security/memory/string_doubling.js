// expect: {"status": "memory_limit"}
// limits: {"memory_mb": 32, "timeout_ms": 10000}
export default () => {
  const hoard = [];
  for (let i = 0;; i++) hoard.push("x".repeat(1 << 20) + i);
};
