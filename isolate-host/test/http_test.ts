/** The host's HTTP surface and process lifecycle, on a real socket. */
import { assert, assertEquals } from "./assert.ts";
import { DEFAULT_LIMITS, startHost } from "./host.ts";

Deno.test("http surface", async (t) => {
  const host = await startHost();
  try {
    await t.step("health answers after permissions were revoked", async () => {
      const health = await host.health();
      assertEquals([health.ok, health.pid, health.poisoned], [true, host.pid, false]);
      assert(health.rss_bytes > 10_000_000, `rss_bytes ${health.rss_bytes}`);
      assertEquals(typeof health.active, "number");
      assertEquals(typeof health.served, "number");
    });

    await t.step("served counts finished workloads", async () => {
      const before = (await host.health()).served;
      await host.execute("export default () => 1");
      assertEquals((await host.health()).served, before + 1);
    });

    const errorOf = async (
      response: Response,
    ) => [response.status, (await response.json()).error.code];

    await t.step("unknown paths are 404 and wrong methods 405", async () => {
      assertEquals(await errorOf(await host.request("/nope")), [404, "not_found"]);
      assertEquals(await errorOf(await host.request("/execute")), [405, "method_not_allowed"]);
      assertEquals(
        await errorOf(await host.request("/health", { method: "POST" })),
        [405, "method_not_allowed"],
      );
    });

    await t.step("a body that is not JSON is 400 invalid_json", async () => {
      const response = await host.request("/execute", { method: "POST", body: "{nope" });
      assertEquals(await errorOf(response), [400, "invalid_json"]);
    });

    await t.step("a request of the wrong shape is 400 invalid_request", async () => {
      const valid = { code: "export default () => 1", ...DEFAULT_LIMITS };
      for (
        const body of [
          [],
          { ...valid, code: 1 },
          { ...valid, language: "python" },
          { ...valid, timeout_ms: 0 },
          { ...valid, timeout_ms: 2 ** 31 },
          { ...valid, max_log_lines: -1 },
          { ...valid, max_output_bytes: 1.5 },
          { ...valid, memory_mb: 0 },
          { ...valid, surprise: true },
          { code: "export default () => 1" },
        ]
      ) {
        assertEquals(await errorOf(await host.post(body)), [400, "invalid_request"]);
      }
    });
  } finally {
    await host.stop();
  }
});

Deno.test("SIGTERM lets the workload in flight finish, then the host exits 0", async () => {
  const host = await startHost();
  try {
    const slow = host.execute(
      "export default () => new Promise((r) => setTimeout(() => r('done'), 800))",
    );
    while ((await host.health()).active === 0) {
      // the slow workload has not reached its worker yet
    }
    host.child.kill("SIGTERM");
    assertEquals((await slow).output, "done");
    const status = await host.child.status;
    assertEquals([status.success, status.code], [true, 0]);
  } finally {
    await host.stop();
  }
});

Deno.test("with --exit-on-stdin-eof the host outlives a workload closing its stdin, not its own", async () => {
  const host = await startHost({ exitOnStdinEof: true });
  try {
    const closing = await host.execute("export default () => { Deno.stdin.close(); return 1; }");
    assertEquals([closing.status, closing.output], ["succeeded", 1]);
    assertEquals((await host.execute("export default () => 2")).output, 2);
    await host.child.stdin.close();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<null>((resolve) =>
      timer = setTimeout(() => resolve(null), 10_000)
    );
    const status = await Promise.race([host.child.status, deadline]);
    clearTimeout(timer);
    assert(status !== null, "the host was still running 10 s after its stdin closed");
    assertEquals([status.success, status.code], [true, 0]);
  } finally {
    await host.stop();
  }
});
