// Writing a file.
// expect: {"status": "succeeded", "output": "contained"}
export default async () => {
  try {
    await Deno.writeTextFile("/tmp/vulcan-escape", "x");
    return "escaped";
  } catch {
    return "contained";
  }
};
