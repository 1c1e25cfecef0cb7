// Writes to globalThis and built-in prototypes; the sentinel run after every case checks
// that none of it is visible to the next workload.
// expect: {"status": "succeeded", "output": "polluted"}
export default () => {
  globalThis.__vulcan_leak = "secret";
  Object.prototype.__vulcan_polluted = true;
  Array.prototype.map = () => "hijacked";
  JSON.stringify = () => "hijacked";
  return "polluted";
};
