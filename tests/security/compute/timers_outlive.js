// A timer set to fire after the workload has answered.
// expect: {"status": "succeeded", "output": "answered"}
export default () => {
  setTimeout(() => {
    globalThis.__vulcan_leak = "late";
  }, 50);
  return "answered";
};
