/** The host's socket protocol and its answers to requests it cannot run, on a real host. */
import { assert, assertEquals } from "./assert.ts";
import { DEFAULT_LIMITS, startHost } from "./host.ts";

const code = (head: Record<string, unknown>) => (head.error as { code: string }).code;

Deno.test("socket protocol", async (t) => {
  const host = await startHost();
  try {
    await t.step("health answers after permissions were revoked, warm worker ready", async () => {
      const health = await host.health();
      assertEquals([health.pid, health.poisoned, health.warm, health.served], [
        host.pid,
        false,
        true,
        0,
      ]);
    });

    await t.step(
      "served counts finished workloads; the next worker is made on prepare",
      async () => {
        const job = new TextEncoder().encode(JSON.stringify({ code: "export default () => 1" }));
        const run = await host.request({ type: "run", ...DEFAULT_LIMITS }, job);
        assertEquals([run.head.status, new TextDecoder().decode(run.payload)], ["succeeded", "1"]);
        assertEquals((await host.health()).warm, false);
        const again = await host.request({ type: "run", ...DEFAULT_LIMITS }, job);
        assertEquals(code(again.head), "no_warm_isolate");
        const ready = await host.request({ type: "prepare" });
        assert((ready.head.worker_create_ms as number) > 0, JSON.stringify(ready.head));
        assertEquals((await host.health()).served, 1);
      },
    );

    await t.step("a request of the wrong shape is invalid_request", async () => {
      for (
        const head of [
          [],
          { type: "nope" },
          { type: "run", ...DEFAULT_LIMITS, timeout_ms: 0 },
          { type: "run", ...DEFAULT_LIMITS, timeout_ms: 2 ** 31 },
          { type: "run", ...DEFAULT_LIMITS, max_log_lines: -1 },
          { type: "run", ...DEFAULT_LIMITS, max_output_bytes: 1.5 },
          { type: "run", ...DEFAULT_LIMITS, module_name: "workload.py" },
          { type: "run", ...DEFAULT_LIMITS, extra: 1 },
        ]
      ) {
        const answer = await host.request(head);
        assertEquals(code(answer.head), "invalid_request", JSON.stringify(head));
      }
      assertEquals((await host.execute("export default () => 'fine'")).output, "fine");
    });

    await t.step("a frame that is not valid is answered, and its connection closed", async () => {
      host.disconnect();
      const conn = await Deno.connect({ transport: "unix", path: host.socket });
      const bad = new Uint8Array(12);
      new DataView(bad.buffer).setUint32(0, 8);
      new DataView(bad.buffer).setUint32(4, 100); // a head longer than the frame
      await conn.write(bad);
      const answer = new Uint8Array(4096);
      let read = 0;
      for (let n; (n = await conn.read(answer.subarray(read))) !== null;) read += n;
      conn.close();
      const text = new TextDecoder().decode(answer.subarray(8, read));
      assertEquals(JSON.parse(text).error.code, "invalid_frame");
      assertEquals((await host.execute("export default () => 'still'")).output, "still");
    });
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
