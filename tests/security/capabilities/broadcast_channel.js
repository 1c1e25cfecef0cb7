// A channel to other workloads.
// expect: {"status": "succeeded", "output": "contained"}
export default () => {
  try {
    new BroadcastChannel("vulcan").postMessage("hello");
    return "sent";
  } catch {
    return "contained";
  }
};
