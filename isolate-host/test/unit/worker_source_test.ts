import { workerSource } from "../../src/worker_source.ts";
import { assert, assertEquals } from "../assert.ts";

/** Writes `files` into a fresh directory and bundles its `main.ts`. */
async function bundle(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir();
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    return workerSource(new URL(`file://${dir}/main.ts`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("sibling modules are bundled once each, in order, into one data: module", async () => {
  const url = await bundle({
    "shared.ts": "export const seen: string[] = [];",
    "a.ts": 'import { seen } from "./shared.ts";\nseen.push("a");\nexport const a = 1;',
    "main.ts": 'import type { Never } from "../elsewhere.ts";\nimport { a } from "./a.ts";\n' +
      'import { seen } from "./shared.ts";\n' +
      "// The bundle's value, read below.\nglobalThis.value = [a, seen.length, await 3];",
  });
  assert(url.startsWith("data:text/javascript,"), url.slice(0, 40));
  const text = decodeURIComponent(url.slice(url.indexOf(",") + 1));
  assert(!text.includes("The bundle's value"), "comments are dropped");
  await import(url);
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
      await bundle({ "main.ts": main, "x.ts": "export const a = 1;" });
    } catch (error) {
      refused = (error as Error).message;
    }
    assert(/cannot (take|bundle)/.test(refused), `${JSON.stringify(main)}: ${refused}`);
  }
});
