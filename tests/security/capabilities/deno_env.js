// Reading the environment.
// expect: {"status": "succeeded", "output": "contained"}
export default () => {
  try {
    return Deno.env.toObject();
  } catch {
    return "contained";
  }
};
