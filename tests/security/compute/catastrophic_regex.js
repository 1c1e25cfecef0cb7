// Exponential backtracking.
// expect: {"status": "timeout"}
// limits: {"timeout_ms": 300}
export default () => /^(a+)+$/.test("a".repeat(40) + "b");
