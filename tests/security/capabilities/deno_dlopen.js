// Loading a native library (FFI).
// expect: {"status": "succeeded", "output": "contained"}
export default () => {
  try {
    Deno.dlopen("libc.so.6", {});
    return "loaded";
  } catch {
    return "contained";
  }
};
