// Node built-ins may load on the isolate tier (they are part of Deno), but what they reach
// outside is denied; the wasm tier has none.
// expect: {"status": "succeeded", "output": ["contained", "contained", "contained"]}
export default async () => {
  const attempts = [
    async () => (await import("node:fs")).readFileSync("/etc/passwd", "utf8"),
    async () => (await import("node:child_process")).execSync("id").toString(),
    async () => (await import("node:os")).userInfo().username,
  ];
  const outcomes = [];
  for (const attempt of attempts) {
    try {
      outcomes.push(`escaped: ${await attempt()}`);
    } catch {
      outcomes.push("contained");
    }
  }
  return outcomes;
};
