import { workerEntryUrl } from "../../src/worker_source.ts";
import { assertEquals } from "../assert.ts";

Deno.test("sibling imports are linked into data: URLs, shared modules once", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/shared.ts`, "export const seen: string[] = [];");
    await Deno.writeTextFile(
      `${dir}/a.ts`,
      'import { seen } from "./shared.ts";\nseen.push("a");\nexport const a = 1;',
    );
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      'import type { Never } from "../elsewhere.ts";\nimport { a } from "./a.ts";\n' +
        'import { seen } from "./shared.ts";\nexport default [a, seen.length];',
    );
    const url = workerEntryUrl(new URL(`file://${dir}/main.ts`));
    assertEquals(url.protocol, "data:");
    assertEquals((await import(url.href)).default, [1, 1]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an import cycle is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.ts`, 'import "./b.ts";\nexport {} from "./b.ts";');
    await Deno.writeTextFile(`${dir}/b.ts`, 'export {} from "./a.ts";');
    let message = "";
    try {
      workerEntryUrl(new URL(`file://${dir}/a.ts`));
    } catch (error) {
      message = (error as Error).message;
    }
    assertEquals(message, `import cycle through file://${dir}/a.ts`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
