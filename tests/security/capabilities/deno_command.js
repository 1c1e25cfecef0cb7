// Starting a process.
// expect: {"status": "succeeded", "output": "contained"}
export default async () => {
  try {
    const out = await new Deno.Command("id").output();
    return new TextDecoder().decode(out.stdout);
  } catch {
    return "contained";
  }
};
