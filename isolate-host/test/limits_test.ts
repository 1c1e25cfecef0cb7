/** Heap limits, busy timeouts and admission, on real hosts. */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { startHost } from "./host.ts";

const GROW_SYNC = "export default () => { const a = []; while (true) a.push({ n: a.length }); }";

/** A complete, valid request for a trivial workload. */
const TRIVIAL_REQUEST = {
  code: "export default () => 1",
  timeout_ms: 1000,
  max_output_bytes: 100,
  max_log_bytes: 100,
  max_log_lines: 10,
};

Deno.test("the heap limit", async (t) => {
  const host = await startHost({ heapMb: 32 });
  try {
    await t.step(
      "synchronous allocation past it is memory_limit, and the host lives on",
      async () => {
        const result = await host.execute(GROW_SYNC);
        assertEquals(result.status, "memory_limit");
        assertEquals(result.error?.name, "MemoryLimit");
        assertEquals(
          result.error?.message,
          "memory limit of 32 MiB reached (JS heap out of memory)",
        );
        assertEquals(result.poisoned, false);
        assertEquals((await host.execute("export default () => 'next'")).output, "next");
      },
    );

    await t.step(
      "allocation in promise jobs is memory_limit too, before the deadline",
      async () => {
        const code = "export default async () => { const a = []; " +
          "while (true) { for (let i = 0; i < 1e4; i++) a.push({ i }); await null; } }";
        const result = await host.execute(code, { timeout_ms: 60_000 });
        assertEquals(result.status, "memory_limit");
        assertEquals(
          result.error?.message,
          "memory limit of 32 MiB reached (JS heap out of memory)",
        );
        assert(result.duration_ms < 30_000, `took ${result.duration_ms} ms`);
        assertEquals(result.poisoned, false);
        assertEquals((await host.execute("export default () => 'next'")).output, "next");
      },
    );

    await t.step(
      "synchronous allocation after a top-level await on a timer is memory_limit",
      async () => {
        const code = "await new Promise((r) => setTimeout(r, 5));\n" +
          GROW_SYNC;
        const result = await host.execute(code, { timeout_ms: 60_000 });
        assertEquals(result.status, "memory_limit");
        assertEquals(result.poisoned, false);
        assertEquals((await host.execute("export default () => 'next'")).output, "next");
      },
    );

    await t.step("allocation while the module loads is memory_limit", async () => {
      const code = "const a = []; while (true) a.push({ n: a.length });\nexport default () => 1;";
      const result = await host.execute(code, { timeout_ms: 60_000 });
      assertEquals(result.status, "memory_limit");
      assertEquals(result.poisoned, false);
    });

    await t.step("a request's memory_mb gets a worker with that limit", async () => {
      const code =
        "export default () => { const a = []; for (let i = 0; i < 1e6; i++) a.push({ i }); " +
        "return a.length; }"; // about 40 MiB of objects
      const small = await host.execute(code);
      assertEquals(small.status, "memory_limit");
      const large = await host.execute(code, { memory_mb: 256 });
      assertEquals([large.status, large.output], ["succeeded", 1e6]);
      assert(large.metadata.worker_create_ms > 0, "a 256 MiB worker is not the warm one");
      assertEquals(large.metadata.warm_age_ms, 0);
    });
  } finally {
    await host.stop();
  }
});

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
      const response = await host.post({ code: "export default () => 1", timeout_ms: 1000 });
      assertEquals(response.status, 400); // still validated first
      await response.body?.cancel();
      const refused = await host.post(TRIVIAL_REQUEST);
      assertEquals(refused.status, 503);
      assertEquals((await refused.json()).error.code, "poisoned");
      const health = await host.health();
      assertEquals([health.ok, health.poisoned, health.active], [true, true, 0]);
    });
  } finally {
    await host.stop();
  }
});

Deno.test("admission", async (t) => {
  const host = await startHost({ maxConcurrent: 1 });
  try {
    await t.step("a workload past --max-concurrent is refused with 429", async () => {
      const slow = host.execute("export default () => new Promise((r) => setTimeout(r, 1500))");
      while ((await host.health()).active === 0) {
        // the slow workload has not reached its worker yet
      }
      assertEquals((await host.health()).active, 1);
      const refused = await host.post(TRIVIAL_REQUEST);
      assertEquals(refused.status, 429);
      assertMatch((await refused.json()).error.code, /^overloaded$/);
      assertEquals((await slow).status, "succeeded");
      const health = await host.health();
      assertEquals([health.active, health.served], [0, 1]);
    });
  } finally {
    await host.stop();
  }
});
