// Reading a file: denied on the isolate tier (no permissions), no API on the wasm tier.
// expect: {"status": "succeeded", "output": "contained"}
export default async () => {
  try {
    return (await Deno.readTextFile("/etc/passwd")).slice(0, 10);
  } catch {
    return "contained";
  }
};
