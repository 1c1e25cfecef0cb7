import { bundle } from "../../build/bundle.ts";
import { assert, assertEquals } from "../assert.ts";

/** Writes `files` into a fresh directory and bundles its `main.ts`. */
async function bundled(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir();
  try {
    for (const [name, text] of Object.entries(files)) {
      const file = `${dir}/${name}`;
      await Deno.mkdir(file.slice(0, file.lastIndexOf("/")), { recursive: true });
      await Deno.writeTextFile(file, text);
    }
    return bundle(new URL(`file://${dir}/main.ts`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("relative imports are bundled once each, in order, into one module", async () => {
  const text = await bundled({
    "lib/shared.ts": "export const seen: string[] = [];",
    "a.ts": 'import { seen } from "./lib/shared.ts";\nseen.push("a");\nexport const a = 1;',
    "main.ts": 'import type { Never } from "../elsewhere.ts";\nimport { a } from "./a.ts";\n' +
      'import { seen } from "./lib/shared.ts";\n' +
      "// The bundle's value, read below.\nglobalThis.value = [a, seen.length, await 3];",
  });
  assert(!text.includes("The bundle's value"), "comments are dropped");
  await import(`data:text/javascript,${encodeURIComponent(text)}`);
  assertEquals((globalThis as Record<string, unknown>).value, [1, 1, 3]);
});

Deno.test("what the bundle cannot take is refused, not mangled", async () => {
  for (
    const main of [
      'import x from "./x.ts";\nexport const y = x;',
      'import { a as b } from "./x.ts";\nexport const y = b;',
      'import { a } from "https://example.com/x.ts";\nexport const y = a;',
      "export default 1;",
    ]
  ) {
    let refused = "";
    try {
      await bundled({ "main.ts": main, "x.ts": "export const a = 1;" });
    } catch (error) {
      refused = (error as Error).message;
    }
    assert(/cannot (take|bundle)/.test(refused), `${JSON.stringify(main)}: ${refused}`);
  }
});
