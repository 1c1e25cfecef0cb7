// import() of every kind of outside module (node: built-ins are in node_builtins.js).
// expect: {"status": "succeeded", "output": ["contained", "contained", "contained", "contained"]}
export default async () => {
  const specifiers = [
    "file:///etc/passwd",
    "http://AGENT_ADDR/",
    "npm:left-pad",
    "jsr:@std/path",
  ];
  const outcomes = [];
  for (const specifier of specifiers) {
    try {
      const module = await import(specifier);
      outcomes.push(Object.keys(module).length ? "loaded" : "contained");
    } catch {
      outcomes.push("contained");
    }
  }
  return outcomes;
};
