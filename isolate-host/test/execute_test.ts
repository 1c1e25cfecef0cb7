/** The workload contract, through a real host on a real socket. */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { startHost } from "./host.ts";

Deno.test("workload contract", async (t) => {
  const host = await startHost();
  try {
    await t.step("a sync default export's return value is the output", async () => {
      const result = await host.execute("export default (input) => ({ sum: input.a + input.b })", {
        input: { a: 2, b: 3 },
      });
      assertEquals(result.status, "succeeded");
      assertEquals(result.output, { sum: 5 });
      assertEquals(result.error, null);
      assertEquals(result.poisoned, false);
    });

    await t.step("an async default export is awaited", async () => {
      const code = "export default async (n) => { await new Promise((r) => setTimeout(r, 20)); " +
        "return n * 2; }";
      const result = await host.execute(code, { input: 21 });
      assertEquals([result.status, result.output], ["succeeded", 42]);
    });

    await t.step("undefined becomes null and a missing input is null", async () => {
      const result = await host.execute(
        "export default (input) => { if (input !== null) throw 1; }",
      );
      assertEquals([result.status, result.output], ["succeeded", null]);
    });

    await t.step("the module's name in errors is the one the agent gives", async () => {
      const code = "export default () => {\n  throw new RangeError('bad');\n};";
      const failed = await host.execute(code, { module_name: "workload.ts" });
      assertEquals(failed.error?.name, "RangeError");
      assertEquals([failed.error?.line, failed.error?.column], [2, 9]);
      assertMatch(failed.error?.stack ?? "", /at default \(workload\.ts:2:9\)/);
    });

    await t.step("top-level await is awaited before the call", async () => {
      const result = await host.execute("const n = await 20;\nexport default () => n + 1;");
      assertEquals([result.status, result.output], ["succeeded", 21]);
    });

    await t.step("top-level await on a timer is awaited before the call", async () => {
      const code = "const n = await new Promise((r) => setTimeout(() => r(20), 5));\n" +
        "export default () => n + 2;";
      const result = await host.execute(code);
      assertEquals([result.status, result.output], ["succeeded", 22]);
    });

    await t.step("promise jobs the module body started run before the call", async () => {
      const code = "let steps = 0;\n" +
        "Promise.resolve().then(() => steps++).then(() => steps++).then(() => steps++);\n" +
        "queueMicrotask(() => steps++);\n" +
        "export default () => steps;";
      const result = await host.execute(code);
      assertEquals([result.status, result.output], ["succeeded", 4]);
    });

    await t.step(
      "small code from a data: URL, large from a blob: URL, errors read the same",
      async () => {
        const body = "const f = (x) => x.y.z;\nexport default () => [1].map(f);";
        const small = await host.execute(body);
        const large = await host.execute(`${body}\n// ${"padding ".repeat(5000)}`);
        assertEquals(small.error?.name, "TypeError");
        assertEquals([small.error?.line, small.error?.column], [1, 22]);
        assertEquals(large.error, small.error);
        assertMatch(small.error?.stack ?? "", /^TypeError: .*\n {4}at f \(workload\.js:1:22\)\n/);
      },
    );

    await t.step("a dynamic import of a Node built-in works", async () => {
      const code = "export default async () => (await import('node:path')).sep;";
      const result = await host.execute(code);
      assertEquals([result.status, result.output], ["succeeded", "/"]);
    });

    await t.step("a syntax error is a SyntaxError at its line and column", async () => {
      const js = await host.execute("export default () => {\n  let x = 1;\n  x = x +;\n};");
      assertEquals(js.status, "error");
      assertEquals(js.error?.name, "SyntaxError");
      assertEquals(js.error?.message, "Expression expected");
      assertEquals([js.error?.line, js.error?.column], [3, 10]);
    });

    await t.step("V8's early errors are SyntaxErrors at their position too", async () => {
      const result = await host.execute("export default () => 1;\nlet x = 1; let x = 2;");
      assertEquals(result.error?.name, "SyntaxError");
      assertEquals(result.error?.message, "Identifier 'x' has already been declared");
      assertEquals([result.error?.line, result.error?.column], [2, 16]);
    });

    await t.step("an error thrown while the module loads has its position", async () => {
      const result = await host.execute("\n\nthrow new TypeError('top');\nexport default () => 1;");
      assertEquals(result.error?.name, "TypeError");
      assertEquals(result.error?.message, "top");
      assertEquals([result.error?.line, result.error?.column], [3, 7]);
    });

    await t.step("a thrown non-error is an Error with its string form", async () => {
      const result = await host.execute("export default () => { throw 'plain'; }");
      assertEquals(result.error, {
        name: "Error",
        message: "plain",
        line: null,
        column: null,
        stack: null,
      });
    });

    await t.step("no default export is a ContractError", async () => {
      const result = await host.execute("export const x = 1;");
      assertEquals(result.status, "error");
      assertEquals(result.error?.name, "ContractError");
      assertEquals(result.error?.message, "module has no default export");
    });

    await t.step("a default export that is not a function is a ContractError", async () => {
      const result = await host.execute("export default 42;");
      assertEquals(result.error?.name, "ContractError");
      assertEquals(result.error?.message, "default export is not a function (got number)");
    });

    await t.step("a BigInt or a cycle in the output is an OutputError", async () => {
      const bigint = await host.execute("export default () => ({ n: 1n })");
      assertEquals(bigint.status, "error");
      assertEquals(bigint.error?.name, "OutputError");
      assertEquals(
        bigint.error?.message,
        "output is not JSON-serialisable: Do not know how to serialize a BigInt",
      );
      const cycle = await host.execute("export default () => { const a = {}; a.a = a; return a; }");
      assertEquals(cycle.error?.name, "OutputError");
      assertMatch(cycle.error?.message ?? "", /^output is not JSON-serialisable: .*circular/);
    });

    await t.step("output over max_output_bytes is output_limit", async () => {
      const code = "export default () => 'é'.repeat(10)"; // "…" in JSON: 2 + 10 × 2 bytes
      const fits = await host.execute(code, { max_output_bytes: 22 });
      assertEquals([fits.status, fits.output], ["succeeded", "é".repeat(10)]);
      const over = await host.execute(code, { max_output_bytes: 21 });
      assertEquals([over.status, over.output], ["output_limit", null]);
      assertEquals(over.error?.name, "OutputLimit");
      assertEquals(over.error?.message, "output is 22 bytes of JSON, over the limit of 21 bytes");
    });

    await t.step("an exception in a timer fails the workload", async () => {
      const code = "export default () => new Promise(() => {\n" +
        "  setTimeout(() => { throw new Error('late'); }, 5);\n});";
      const result = await host.execute(code);
      assertEquals(result.status, "error");
      assertEquals([result.error?.name, result.error?.message], ["Error", "late"]);
      assertEquals(result.error?.line, 2);
    });

    await t.step(
      "an unhandled rejection in the module body fails it unless it answers in that same turn",
      async () => {
        const body = "Promise.reject(new RangeError('body'));\n";
        const later = await host.execute(
          `${body}export default async () => { await new Promise((r) => setTimeout(r, 1)); }`,
        );
        assertEquals(later.status, "error");
        assertEquals([later.error?.name, later.error?.message], ["RangeError", "body"]);
        // Rejections are reported at the end of a turn of the event loop; by then this one
        // has answered (as on the wasm tier, which reports none).
        const atOnce = await host.execute(`${body}export default () => 1;`);
        assertEquals([atOnce.status, atOnce.output], ["succeeded", 1]);
      },
    );

    await t.step("an unhandled rejection fails the workload", async () => {
      const code = "export default () => { Promise.reject(new TypeError('nobody')); " +
        "return new Promise(() => {}); }";
      const result = await host.execute(code);
      assertEquals([result.error?.name, result.error?.message], ["TypeError", "nobody"]);
    });

    await t.step("console calls are captured with their level and formatting", async () => {
      const code = [
        "export default () => {",
        "  console.log('text', 1, { a: [1, 'x'] }, null, undefined);",
        "  console.info(new RangeError('r'));",
        "  console.warn(10n, Symbol('s'));",
        "  const c = {}; c.c = c; console.error(c);",
        "  console.debug();",
        "}",
      ].join("\n");
      const result = await host.execute(code);
      assertEquals(result.logs, [
        { level: "log", message: 'text 1 {"a":[1,"x"]} null undefined' },
        { level: "info", message: "RangeError: r" },
        { level: "warn", message: "10 Symbol(s)" },
        { level: "error", message: "[object Object]" },
        { level: "debug", message: "" },
      ]);
      assertEquals(result.logs_truncated, false);
    });

    await t.step("a log flood is capped by lines and bytes, in the worker", async () => {
      const flood =
        "export default () => { for (let i = 0; i < 1e6; i++) console.log('line ' + i); " +
        "return 'done'; }";
      const byLines = await host.execute(flood, { max_log_lines: 3 });
      assertEquals(byLines.output, "done");
      assertEquals(byLines.logs.map((l) => l.message), ["line 0", "line 1", "line 2"]);
      assertEquals(byLines.logs_truncated, true);
      const byBytes = await host.execute(flood, { max_log_bytes: 13 }); // "line 0" + "line 1" = 12
      assertEquals(byBytes.logs.map((l) => l.message), ["line 0", "line 1"]);
      assertEquals(byBytes.logs_truncated, true);
    });

    await t.step("globals set by one workload are not seen by the next", async () => {
      await host.execute(
        "export default () => { globalThis.leak = 'secret'; Array.prototype.x = 1; }",
      );
      const result = await host.execute(
        "export default () => [typeof globalThis.leak, typeof [].x]",
      );
      assertEquals(result.output, ["undefined", "undefined"]);
    });

    await t.step("Math.random is seeded differently in each workload", async () => {
      const code = "export default () => [Math.random(), Math.random()]";
      const [a, b] = [await host.execute(code), await host.execute(code)];
      assert(JSON.stringify(a.output) !== JSON.stringify(b.output));
    });

    await t.step("a workload gets the warm worker, made before it came", async () => {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const result = await host.execute("export default () => 1");
      assert(result.metadata.worker_create_ms > 0, `${result.metadata.worker_create_ms}`);
      assert(result.metadata.warm_age_ms >= 1_000, `warm_age_ms ${result.metadata.warm_age_ms}`);
      assert(result.metadata.heap_used_bytes > 0);
      assert(result.metadata.heap_total_bytes >= result.metadata.heap_used_bytes);
      assert(result.duration_ms > 0);
    });

    await t.step("a promise that never settles times out without poisoning", async () => {
      const result = await host.execute(
        "export default () => { console.log('waiting'); return new Promise(() => {}); }",
        { timeout_ms: 300 },
      );
      assertEquals(result.status, "timeout");
      assertEquals(result.error?.name, "Timeout");
      assertEquals(result.error?.message, "workload exceeded its timeout of 300 ms");
      assertEquals(result.logs, [{ level: "log", message: "waiting" }]);
      assertEquals(result.poisoned, false);
      assertEquals((await host.health()).poisoned, false);
    });
  } finally {
    await host.stop();
  }
});

Deno.test("a workload that exits its worker", async (t) => {
  const host = await startHost();
  try {
    await t.step("is a ContractError, answered at once", async () => {
      const started = performance.now();
      const result = await host.execute("export default () => { Deno.exit(7); }");
      assertEquals(result.status, "error");
      assertEquals(result.error?.name, "ContractError");
      assertEquals(result.error?.message, "workload exited its worker (code 7)");
      assert(performance.now() - started < 5_000);
    });

    await t.step("leaves a host that cannot tell its worker ended: poisoned", async () => {
      // A closed Web Worker gives its host no event, and cannot answer `stop` either.
      const health = await host.health();
      assertEquals([health.poisoned, health.warm], [true, false]);
      const refused = await host.request({ type: "prepare" });
      assertEquals((refused.head.error as { code: string }).code, "poisoned");
    });
  } finally {
    await host.stop();
  }
});
