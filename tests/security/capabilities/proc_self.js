// The host process's own secrets through /proc/self (environment, memory map, command line).
// expect: {"status": "succeeded", "output": ["contained", "contained", "contained"]}
export default () =>
  ["/proc/self/environ", "/proc/self/maps", "/proc/self/cmdline"].map((path) => {
    try {
      return `read: ${Deno.readTextFileSync(path).slice(0, 20)}`;
    } catch {
      return "contained";
    }
  });
