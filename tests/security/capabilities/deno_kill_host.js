// Killing its own host process (the seccomp filter turns kill(2) into EPERM).
// expect: {"status": "succeeded", "output": "contained"}
export default () => {
  try {
    Deno.kill(Deno.pid, "SIGKILL");
    return "killed";
  } catch {
    return "contained";
  }
};
