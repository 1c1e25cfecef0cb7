// A nested worker with its own permissions.
// expect: {"status": "succeeded", "output": "contained"}
export default () => {
  try {
    new Worker("data:text/javascript,postMessage(1)", {
      type: "module",
      deno: { permissions: "inherit" },
    });
    return "started";
  } catch {
    return "contained";
  }
};
