/** What a workload must not reach, tried from inside a real worker of a real host. */
import { assertEquals, assertMatch } from "./assert.ts";
import { startHost } from "./host.ts";

/** A workload that runs `attempt` and reports `{name, message}` of what it threw, or "allowed". */
function probe(attempt: string): string {
  return `export default async () => {
  try { await (async () => { ${attempt} })(); return "allowed"; }
  catch (e) { return { name: e?.name, message: String(e?.message) }; }
};`;
}

Deno.test("workload isolation", async (t) => {
  const host = await startHost();
  const denied = async (attempt: string, name: string, message: RegExp) => {
    const result = await host.execute(probe(attempt));
    assertEquals(result.status, "succeeded", JSON.stringify(result.error));
    const { name: thrown, message: text } = result.output as { name: string; message: string };
    assertEquals(thrown, name, `${attempt} threw ${text}`);
    assertMatch(text, message);
  };
  try {
    await t.step("no file system", async () => {
      await denied("await Deno.readTextFile('/etc/passwd')", "NotCapable", /read access/);
      await denied("Deno.writeTextFileSync('/tmp/x', 'x')", "NotCapable", /write access/);
      await denied("(await import('node:fs')).readFileSync('/etc/passwd')", "NotCapable", /read/);
    });

    await t.step("no network, including the host's own socket and loopback", async () => {
      await denied(`await fetch("http://127.0.0.1:8080/")`, "NotCapable", /net access/);
      const client =
        `Deno.createHttpClient({ proxy: { transport: "unix", path: "${host.socket}" } })`;
      await denied(`await fetch("http://h/health", { client: ${client} })`, "NotCapable", /access/);
      await denied(
        `await Deno.connect({ transport: "unix", path: "${host.socket}" })`,
        "NotCapable",
        /access/,
      );
      await denied("Deno.listen({ port: 0 })", "NotCapable", /net access/);
    });

    await t.step("no environment, subprocesses, FFI or system information", async () => {
      await denied("Deno.env.get('HOME')", "NotCapable", /env access/);
      await denied("(await import('node:process')).env.HOME", "NotCapable", /env access/);
      await denied("await new Deno.Command('/bin/sh').output()", "NotCapable", /run access/);
      await denied("Deno.dlopen('libc.so.6', {})", "NotCapable", /ffi access/);
      await denied("Deno.hostname()", "NotCapable", /sys access/);
      await denied("Deno.kill(1, 'SIGTERM')", "NotCapable", /run access/);
    });

    await t.step("no npm, jsr or remote imports", async () => {
      await denied("await import('npm:left-pad')", "TypeError", /--no-npm/);
      await denied("await import('jsr:@std/path')", "TypeError", /import access/);
      await denied(
        "await import('https://deno.land/std/path/mod.ts')",
        "TypeError",
        /import access/,
      );
    });

    await t.step("a static npm import fails the workload at its line", async () => {
      const result = await host.execute("export default () => 1;\nimport pad from 'npm:left-pad';");
      assertEquals(result.status, "error");
      assertEquals(result.error?.name, "TypeError");
      assertMatch(result.error?.message ?? "", /--no-npm/);
      assertEquals(result.error?.line, 2);
    });

    await t.step("no key-value store, Cache API or BroadcastChannel", async () => {
      const result = await host.execute(
        "export default () => [typeof Deno.openKv, typeof caches, typeof BroadcastChannel]",
      );
      assertEquals(result.output, ["undefined", "undefined", "undefined"]);
      await denied(
        "const { BroadcastChannel } = await import('node:worker_threads');" +
          "new BroadcastChannel('x').postMessage('leak')",
        "NotSupportedError",
        /not available/,
      );
    });

    await t.step("Deno's internals are out of reach", async () => {
      const result = await host.execute("export default () => typeof Deno[Deno.internal]");
      assertEquals(result.output, "undefined");
    });

    await t.step(
      "a nested worker has no permissions either, and no Web Worker exists",
      async () => {
        const code = `import { Worker } from "node:worker_threads";
export default () => new Promise((resolve) => {
  const source = "import { parentPort } from 'node:worker_threads';" +
    "Deno.readTextFile('/etc/passwd').then(() => parentPort.postMessage('read it'), " +
    "(e) => parentPort.postMessage(e.name));";
  new Worker(new URL("data:text/javascript," + encodeURIComponent(source)))
    .on("message", (name) => resolve([typeof globalThis.Worker, name]));
});`;
        const result = await host.execute(code);
        assertEquals(result.output, ["undefined", "NotCapable"]);
      },
    );

    await t.step("messages a workload forges to its host are checked", async () => {
      const code = `export default () => {
  postMessage("garbage");
  postMessage({ type: "result", outcome: { status: "succeeded", output: "{bad" } });
  postMessage({ type: "log", level: "log", message: "x".repeat(100) });
  postMessage({ type: "stopped", nonce: "guessed" });
  return "real";
};`;
      const result = await host.execute(code, { max_log_bytes: 10 });
      assertEquals([result.status, result.output], ["succeeded", "real"]);
      assertEquals([result.logs, result.logs_truncated], [[], true]);
    });

    await t.step("permissions cannot be requested", async () => {
      const result = await host.execute(
        "export default async () => (await Deno.permissions.request({ name: 'read' })).state",
      );
      assertEquals(result.output, "denied");
    });
  } finally {
    await host.stop();
  }
});
