import { compact } from "../../build/compact.ts";
import { assertEquals } from "../assert.ts";

Deno.test("comments go, strings and templates stay, line breaks are kept", () => {
  const source = [
    "/** A doc",
    " * comment. */",
    "const a = 'x // not a comment';   // a comment",
    'const b = "/* nor this */";',
    "const c = `t ${a /* inside */ + `n ${b}`} // kept`;",
    "",
    "",
    "let d = a",
    "/* spans\nlines */ ++b",
  ].join("\n");
  const expected = [
    "\nconst a = 'x // not a comment';",
    'const b = "/* nor this */";',
    "const c = `t ${a + `n ${b}`} // kept`;",
    "let d = a",
    "++b",
  ].join("\n");
  assertEquals(compact(source), expected);
});

Deno.test("the compacted code means the same", () => {
  const source = "const f = (x) => {\n  // double it\n  return x * 2; /* done */\n};\nf(21)";
  assertEquals((0, eval)(compact(source)), 42);
});
