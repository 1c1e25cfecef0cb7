/** Deadlines, the heap limit and leftovers, on real hosts. */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { startHost } from "./host.ts";

Deno.test("a busy loop past the deadline", async (t) => {
  const host = await startHost();
  try {
    await t.step("is a timeout that poisons the host", async () => {
      const started = performance.now();
      const result = await host.execute(
        "export default () => { console.log('spinning'); while (true) {} }",
        { timeout_ms: 300 },
      );
      const elapsed = performance.now() - started;
      assertEquals(result.status, "timeout");
      assertEquals(result.error?.message, "workload exceeded its timeout of 300 ms");
      assertEquals(result.logs, [{ level: "log", message: "spinning" }]);
      assertEquals(result.poisoned, true);
      assert(elapsed < 3_000, `answered after ${elapsed} ms`);
    });

    await t.step("after which the host refuses work and reports itself poisoned", async () => {
      const refused = await host.request({ type: "prepare" });
      assertEquals((refused.head.error as { code: string }).code, "poisoned");
      const health = await host.health();
      assertEquals([health.pid, health.poisoned, health.served], [host.pid, true, 1]);
    });
  } finally {
    await host.stop();
  }
});

Deno.test("a timer left spinning after the answer poisons the host", async () => {
  const host = await startHost();
  try {
    // Serialising the big output takes long enough for the timer to be due by the answer.
    const code = "export default () => { setTimeout(() => { while (true) {} }, 0); " +
      "return 'x'.repeat(1 << 22); }";
    const result = await host.execute(code);
    // The answer itself is the workload's; its leftover shows when the next worker is asked for.
    assertEquals([result.status, result.poisoned], ["output_limit", false]);
    assertEquals((await host.health()).poisoned, true);
  } finally {
    await host.stop();
  }
});

Deno.test("the heap limit (V8's flag) aborts the host, which says why on stderr", async () => {
  const host = await startHost({ heapMb: 32 });
  try {
    const grow = "export default () => { const a = []; while (true) a.push({ n: a.length }); }";
    const job = new TextEncoder().encode(JSON.stringify({ code: grow, input: null }));
    let failure = "";
    try {
      await host.request({
        type: "run",
        timeout_ms: 60_000,
        max_output_bytes: 100,
        max_log_bytes: 100,
        max_log_lines: 10,
        module_name: "workload.js",
      }, job);
    } catch (error) {
      failure = (error as Error).message;
    }
    assert(failure !== "", "the host answered instead of dying");
    const status = await host.child.status;
    assertEquals(status.success, false);
    assertMatch(host.stderr(), /Fatal JavaScript out of memory/);
  } finally {
    await host.stop();
  }
});
