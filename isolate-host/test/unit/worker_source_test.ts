import { WorkerSource } from "../../src/worker_source.ts";
import { assert, assertEquals } from "../assert.ts";

Deno.test("sibling imports are linked into blob: URLs, shared modules once", async () => {
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
        'import { seen } from "./shared.ts";\nexport const value = [a, seen.length];',
    );
    const entry = new WorkerSource(new URL(`file://${dir}/main.ts`)).entry();
    assertEquals(entry.url.protocol, "data:");
    assert(entry.url.href.length < 200, `entry URL of ${entry.url.href.length} characters`);
    const main = decodeURIComponent(entry.url.pathname).match(/"(blob:[^"]+)"/)![1];
    assertEquals((await import(main)).value, [1, 1]);
    entry.revoke();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("each worker gets URLs of its own, and revoking them frees them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/main.ts`, "export const value = 1;");
    const source = new WorkerSource(new URL(`file://${dir}/main.ts`));
    const [first, second] = [source.entry(), source.entry()];
    assert(first.url.href !== second.url.href, "two workers share a URL");
    const main = decodeURIComponent(first.url.pathname).match(/"(blob:[^"]+)"/)![1];
    first.revoke();
    let message = "";
    try {
      await import(main);
    } catch (error) {
      message = (error as Error).message;
    }
    assert(message !== "", "a revoked URL still loads");
    second.revoke();
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
      new WorkerSource(new URL(`file://${dir}/a.ts`));
    } catch (error) {
      message = (error as Error).message;
    }
    assertEquals(message, `import cycle through file://${dir}/a.ts`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
