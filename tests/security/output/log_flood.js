// Logs beyond the caps are dropped; the workload still succeeds.
// expect: {"status": "succeeded", "output": "done", "logs_truncated": true}
export default () => {
  for (let i = 0; i < 100000; i++) console.log("flood", i);
  return "done";
};
