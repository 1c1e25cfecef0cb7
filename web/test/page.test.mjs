// The web page in a real browser (Debian's chromium through playwright-core) against real
// agents: one with both tiers, one whose isolate tier cannot start.

import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { buildAgent, startAgent } from "./agent.mjs";
import { launchBrowser, openPage, output, pickTier, RESULT_TIMEOUT_MS, runAndWait, status, typeCode } from "./browser.mjs";

let browser;
let agent;
let broken;

before(async () => {
  browser = await launchBrowser();
  const binary = await buildAgent();
  [agent, broken] = await Promise.all([
    startAgent(binary, [], { everyTier: true }),
    startAgent(binary, ["--isolate-host-dir", "/nonexistent/isolate-host", "--max-code-bytes", "200"]),
  ]);
});

after(async () => {
  await browser?.close();
  await Promise.all([agent?.stop(), broken?.stop()]);
});

/** A page of `server` (at `hash`, if given) with the tiers loaded. */
function open(server, t, hash = "") {
  return openPage(browser, server, t, hash);
}

describe("web page", () => {
  test("shows both tiers healthy and enabled", async (t) => {
    const page = await open(agent, t);
    for (const tier of ["isolate", "wasm"]) {
      assert.match(await page.getByTestId(`health-${tier}`).getAttribute("class"), /\bup\b/);
      assert.equal(await page.locator(`#tier-${tier}`).isDisabled(), false);
    }
    assert.equal(await page.getByTestId("access-off").textContent(), "access control off");
    assert.equal(await page.locator("#key-dialog").isVisible(), false, "no key is asked for");
    assert.equal(await page.locator("#experiment-run").isDisabled(), false);
    // The preview is asked for once the form settles.
    await page.locator("#route-preview").filter({ hasText: "auto → isolate" }).waitFor();
  });

  test("runs typed code on each tier and shows its metadata", async (t) => {
    const page = await open(agent, t);
    await typeCode(page, "export default (input) => input.a + input.b");
    await page.locator("#input").fill('{"a": 2, "b": 3}');

    await pickTier(page, "isolate");
    await page.locator(".cm-content").click();
    await page.keyboard.press("ControlOrMeta+Enter");
    await page.getByTestId("result-tier").filter({ hasText: "isolate" }).waitFor({ timeout: RESULT_TIMEOUT_MS });
    assert.equal(await status(page), "succeeded");
    assert.equal(await page.getByTestId("output").textContent(), "5");
    const isolateMeta = await page.getByTestId("metadata").textContent();
    assert.match(isolateMeta, /Worker creation/);
    assert.match(isolateMeta, /V8 heap.*used of/);
    // The page's own wait includes the tier's time.
    assert.match(isolateMeta, /Duration in tier.*End to end, from this page/);
    const [inTier, endToEnd] = await page.getByTestId("metadata").locator("tr td").evaluateAll((tds) =>
      tds.slice(0, 2).map((td) => Number.parseFloat(td.textContent))
    );
    assert.ok(endToEnd >= inTier, `end to end ${endToEnd} ms, in tier ${inTier} ms`);
    await page.screenshot({ path: join(output, "result-isolate.png") });

    await pickTier(page, "wasm");
    await runAndWait(page, "wasm");
    assert.equal(await page.getByTestId("output").textContent(), "5");
    assert.match(await page.getByTestId("metadata").textContent(), /Fuel consumed\s*not metered/);
    assert.match(await page.getByTestId("route-reason").textContent(), /requested/);
    // With a fuel budget the metered build runs, and counts it.
    await page.locator("#fuel").fill("100000000");
    await runAndWait(page, "wasm");
    assert.match(await page.getByTestId("metadata").textContent(), /Fuel consumed\s*[1-9]/);
  });

  test("runs TypeScript with types through auto", async (t) => {
    const page = await open(agent, t);
    await page.locator("#examples").selectOption({ label: "TypeScript with types" });
    assert.equal(await page.locator("input[name=language][value=typescript]").isChecked(), true);
    await pickTier(page, "auto");
    await runAndWait(page, "isolate");
    assert.equal(await status(page), "succeeded");
    assert.equal(await page.getByTestId("output").textContent(), "10");
    assert.match(await page.getByTestId("route-reason").textContent(), /^auto → policy isolate-first/);
  });

  test("an infinite loop ends as timeout, with a spinner only while it is slow", async (t) => {
    const page = await open(agent, t);
    await page.evaluate(() => {
      window.spinnerSeen = false;
      new MutationObserver(() => {
        if (document.getElementById("result").classList.contains("running")) window.spinnerSeen = true;
      }).observe(document.getElementById("result"), { attributes: true });
    });
    await pickTier(page, "wasm");
    await runAndWait(page, "wasm");
    assert.equal(await page.evaluate(() => window.spinnerSeen), false, "spinner shown for a fast run");

    await page.locator("#examples").selectOption({ label: "Infinite loop (timeout)" });
    await pickTier(page, "isolate");
    await runAndWait(page, "isolate");
    assert.equal(await status(page), "timeout");
    assert.equal(await page.evaluate(() => window.spinnerSeen), true, "no spinner for a 1 s run");
    assert.match(await page.getByTestId("error").textContent(), /1000 ms|timeout|time/i);
  });

  test("an error shows its line and column", async (t) => {
    const page = await open(agent, t);
    await typeCode(page, "export default () => {\n  null.boom;\n};\n");
    await pickTier(page, "isolate");
    await runAndWait(page, "isolate");
    assert.equal(await status(page), "error");
    assert.match(await page.getByTestId("error").textContent(), /TypeError/);
    assert.match(await page.getByTestId("error-position").textContent(), /^line 2, column \d+$/);
  });

  test("invalid JSON input and out-of-range limits are refused before sending", async (t) => {
    const page = await open(agent, t);
    await page.locator("#input").fill("{oops");
    assert.match(await page.locator("#form-problem").textContent(), /Input is not valid JSON/);
    assert.equal(await page.locator("#run").isDisabled(), true);
    await page.locator("#input").fill("{}");
    await pickTier(page, "isolate");
    await page.locator("#timeout_ms").fill("99999999");
    assert.match(await page.locator("#form-problem").textContent(), /timeout_ms must be between/);
    assert.equal(await page.locator("#fuel").isDisabled(), true, "the isolate tier has no fuel");
    await page.locator("#timeout_ms").fill("");
    assert.equal(await page.locator("#run").isDisabled(), false);
  });

  test("history shows the runs and loads one back", async (t) => {
    const page = await open(agent, t);
    const marker = `history-${Date.now()}`;
    await typeCode(page, `export default () => "${marker}"`);
    await pickTier(page, "wasm");
    await runAndWait(page, "wasm");
    await page.getByRole("tab", { name: "History" }).click();
    const item = page.getByTestId("history-item").filter({ hasText: marker });
    await item.waitFor();
    await page.screenshot({ path: join(output, "history.png") });

    await typeCode(page, "export default () => 'something else'");
    await item.click();
    await page.locator(".cm-content").filter({ hasText: marker }).waitFor();
    assert.equal(await page.getByTestId("output").textContent(), JSON.stringify(marker));
    assert.equal(await page.locator("#tier-wasm").isChecked(), true);

    // The address now names the workload, and the id links to its record in the API.
    const id = await page.getByTestId("record-link").textContent();
    assert.equal(new URL(page.url()).hash, `#/workloads/${id}`);
    const href = await page.getByTestId("record-link").evaluate((a) => a.href);
    const record = await (await page.request.get(href)).json();
    assert.equal(record.output, marker);

    // That address, opened in another page, shows the same workload.
    const linked = await open(agent, t, `#/workloads/${id}`);
    await linked.locator(".cm-content").filter({ hasText: marker }).waitFor();
    assert.equal(await linked.getByTestId("output").textContent(), JSON.stringify(marker));
    assert.equal(await linked.getByTestId("record-link").textContent(), id);
  });

  test("compare runs the workload on every tier and charts a row per tier", async (t) => {
    const page = await open(agent, t);
    await page.locator("#examples").selectOption({ label: "Fibonacci (compute)" });
    await page.locator("#input").fill('{"n": 18}');
    await page.getByRole("tab", { name: "Compare tiers" }).click();
    await page.locator("#compare-times").fill("8");
    await page.locator("#compare-run").click();
    await page.getByTestId("compare-chart").waitFor({ timeout: 120_000 });
    const rows = await page.locator("[data-testid=compare-chart] g.tier-row").evaluateAll((gs) =>
      gs.map((g) => [g.dataset.tier, g.querySelectorAll("circle").length])
    );
    assert.deepEqual(rows, [["isolate", 16], ["wasm", 16]], "8 runs × 2 lanes per tier");
    const table = page.getByTestId("compare-table");
    assert.match(await table.locator("tr[data-tier=isolate]").textContent(), /8 succeeded/);
    // No fuel budget: the wasm tier ran its build that counts no fuel.
    assert.match(await table.locator("tr[data-tier=wasm]").textContent(), /succeeded.*instantiate .*ms.*not metered/);
    assert.match(await page.locator("#compare-progress").textContent(), /16 runs/);
    assert.match(await page.getByTestId("request-floor").textContent(), /GET \/healthz\) took \d+(\.\d+)? (ms|µs) here/);
    assert.match(await page.getByTestId("compare-pace").textContent(), /^Runs back to back/);
    await page.screenshot({ path: join(output, "compare.png"), fullPage: true });

    // Paced: each run waits the pause first, and the report says how far apart they were.
    await page.locator("#compare-times").fill("2");
    await page.locator("#compare-pause").fill("300");
    const started = Date.now();
    await page.locator("#compare-run").click();
    await page.getByTestId("compare-pace").filter({ hasText: "Runs 300 ms apart" }).waitFor({ timeout: 120_000 });
    assert.ok(Date.now() - started >= 4 * 300, "four runs, each after a pause of 300 ms");
    assert.match(await page.locator("#compare-progress").textContent(), /4 runs/);
  });

  test("a routing experiment over the editor's code shows each policy's tier, table and bars", async (t) => {
    const page = await open(agent, t);
    await typeCode(page, "export default (input) => input.a + input.b");
    await page.locator("#input").fill('{"a": 2, "b": 3}');
    await page.getByRole("tab", { name: "Compare tiers" }).click();
    for (const name of ["isolate-first", "wasm-first"]) {
      assert.equal(await page.getByTestId(`policy-${name}`).isChecked(), true);
    }
    assert.equal(await page.locator("#policy-custom-use").isChecked(), false);
    assert.equal(await page.locator("#experiment-editor").isChecked(), true);
    assert.equal(await page.locator("#experiment-repeat").inputValue(), "3");
    await page.evaluate(() => {
      window.busySeen = false;
      new MutationObserver(() => {
        if (document.getElementById("experiment").getAttribute("aria-busy") === "true") window.busySeen = true;
      }).observe(document.getElementById("experiment"), { attributes: true });
    });
    await page.locator("#experiment-run").click();
    const table = page.getByTestId("experiment-table");
    await table.waitFor({ timeout: RESULT_TIMEOUT_MS });
    assert.equal(await page.evaluate(() => window.busySeen), true, "the panel was never busy");
    assert.equal(await page.locator("#experiment").getAttribute("aria-busy"), null);

    const rows = await table.locator("tbody tr").evaluateAll((trs) =>
      trs.map((tr) => [tr.dataset.policy, tr.cells[1].textContent, tr.querySelector("[data-testid=tiers]").textContent])
    );
    assert.deepEqual(rows, [["isolate-first", "3", "isolate 3"], ["wasm-first", "3", "wasm 3"]]);
    assert.match(await table.locator("tr[data-policy=wasm-first]").textContent(), /3 succeeded/);

    const bars = await page.locator("[data-testid=experiment-latency-chart] g.policy-row").evaluateAll((gs) =>
      gs.map((g) => [g.dataset.policy, g.querySelectorAll("rect.bar").length])
    );
    assert.deepEqual(bars, [["isolate-first", 1], ["wasm-first", 1]]);
    const split = await page.locator("[data-testid=experiment-tier-chart] g.policy-row").evaluateAll((gs) =>
      gs.map((g) => [g.dataset.policy, [...g.querySelectorAll("rect.segment")].map((r) => r.dataset.tier)])
    );
    assert.deepEqual(split, [["isolate-first", ["isolate"]], ["wasm-first", ["wasm"]]]);
    assert.match(await page.locator("[data-testid=experiment-latency-chart] > title").textContent(), /p50.*p95/);

    const choice = page.locator("[data-testid=experiment-choices] tr[data-workload=editor] td[data-policy=wasm-first]");
    assert.equal(await choice.getAttribute("data-tier"), "wasm");
    assert.match(await choice.locator(".tier").getAttribute("title"), /^policy wasm-first: /);
    await page.getByTestId("experiment-summary").filter({ hasText: "6 runs" }).waitFor();
    await page.locator("section[aria-labelledby=experiment-title]").screenshot({ path: join(output, "experiment.png") });
  });

  test("a custom policy replays recent history; a malformed one shows why next to it", async (t) => {
    const page = await open(agent, t);
    const marker = `experiment-${Date.now()}`;
    await typeCode(page, `export default () => "${marker}"`);
    await pickTier(page, "isolate");
    await runAndWait(page, "isolate");
    await page.getByRole("tab", { name: "Compare tiers" }).click();
    const problem = page.getByTestId("policy-problem");

    await page.locator("#policy-custom").fill('{"name": "broken",');
    assert.equal(await page.locator("#policy-custom-use").isChecked(), true, "typing a policy uses it");
    await page.locator("#experiment-run").click();
    await problem.filter({ hasText: /The custom policy is not valid JSON/ }).waitFor();
    assert.equal(await page.locator("#policy-custom").getAttribute("aria-invalid"), "true");

    await page.locator("#policy-custom").fill('{"name": "no-fallback", "rules": []}');
    assert.equal(await problem.textContent(), "", "editing clears the problem");
    await page.locator("#experiment-run").click();
    await problem.filter({ hasText: "missing field `fallback`" }).waitFor({ timeout: RESULT_TIMEOUT_MS });
    assert.match(await problem.textContent(), /policies\[2\]/);
    assert.equal(await page.getByTestId("experiment-table").count(), 0);

    // Only the custom policy (small JavaScript to wasm), over the one workload just run.
    await page.locator("#policy-custom").fill(
      JSON.stringify({
        name: "small-on-wasm",
        fallback: ["isolate", "wasm"],
        rules: [{ name: "small javascript", when: { language: "javascript", code_bytes: { max: 4096 } }, tiers: ["wasm"] }],
      }),
    );
    for (const name of ["isolate-first", "wasm-first"]) await page.getByTestId(`policy-${name}`).uncheck();
    await page.locator("#experiment-editor").uncheck();
    await page.locator("#experiment-history").check();
    await page.locator("#experiment-history-n").fill("1");
    await page.locator("#experiment-repeat").fill("2");
    await page.locator("#experiment-run").click();
    const row = page.getByTestId("experiment-table").locator("tr[data-policy=small-on-wasm]");
    await row.waitFor({ timeout: RESULT_TIMEOUT_MS });
    assert.equal(await problem.textContent(), "");
    assert.match(await row.textContent(), /^small-on-wasm2wasm 2/);
    const reason = await page.locator("[data-testid=experiment-choices] td[data-policy=small-on-wasm] .tier").getAttribute("title");
    assert.match(reason, /small javascript/);

    // The editor's code and history together, in one request: the editor's first.
    await page.locator("#experiment-editor").check();
    await page.locator("#experiment-run").click();
    await page.getByTestId("experiment-summary").filter({ hasText: "4 runs: 2 workloads" }).waitFor({ timeout: RESULT_TIMEOUT_MS });
    const workloads = await page.locator("[data-testid=experiment-choices] tbody tr").evaluateAll((trs) =>
      trs.map((tr) => tr.dataset.workload === "editor" ? "editor" : "history")
    );
    assert.deepEqual(workloads, ["editor", "history"]);
  });

  test("fuel versus time plots each run against both limits and says what stopped it", async (t) => {
    const page = await open(agent, t);
    await typeCode(page, "export default () => { let i = 0; while (true) i++; }");
    await page.getByRole("tab", { name: "Compare tiers" }).click();
    assert.equal(await page.locator("#limits-runs").inputValue(), "10");
    await page.locator("#limits-fuel").fill("1000000");
    await page.locator("#limits-timeout").fill("5000");
    await page.locator("#limits-runs").fill("3");
    await page.evaluate(() => {
      window.busySeen = false;
      new MutationObserver(() => {
        if (document.getElementById("limits").getAttribute("aria-busy") === "true") window.busySeen = true;
      }).observe(document.getElementById("limits"), { attributes: true });
    });
    await page.locator("#limits-run").click();
    const stopped = page.getByTestId("limits-stopped");
    await stopped.waitFor({ timeout: RESULT_TIMEOUT_MS });
    assert.equal(await page.evaluate(() => window.busySeen), true, "the panel was never busy");
    assert.equal(await page.locator("#limits").getAttribute("aria-busy"), null);

    const counts = await stopped.locator("tbody tr").evaluateAll((trs) =>
      trs.map((tr) => [tr.dataset.stopped, tr.cells[1].textContent])
    );
    assert.deepEqual(counts, [["fuel", "3"], ["timeout", "0"], ["neither", "0"]]);
    const fuel = page.locator("[data-testid=limits-stability] tr[data-measure=fuel]");
    assert.equal(await fuel.locator(".spread").textContent(), "0%");
    assert.equal(await fuel.locator("td").nth(1).textContent(), "1,000,000", "the median is the budget");
    assert.match(await page.locator("[data-testid=limits-stability] tr[data-measure=time]").textContent(), /ms/);

    const chart = page.getByTestId("limits-chart");
    assert.equal(await chart.getAttribute("role"), "img");
    assert.match(await chart.getAttribute("aria-label"), /3 runs \(stopped 3 by fuel\)/);
    assert.match(await chart.locator("> title").textContent(), /fuel budget of 1,000,000 and the timeout of 5,000 ms/);
    const points = await chart.locator(".point").evaluateAll((ps) => ps.map((p) => p.dataset.stopped));
    assert.deepEqual(points, ["fuel", "fuel", "fuel"]);
    assert.equal(await chart.locator("[data-limit=fuel]").count(), 1, "the fuel budget is drawn");
    // 5 s is far above runs of a few milliseconds: named at the edge, not drawn.
    assert.equal(await chart.locator("[data-limit=timeout]").count(), 0);
    assert.match(await chart.textContent(), /timeout 5,000 ms: far above/);
    await page.locator("#limits-fuel").scrollIntoViewIfNeeded();
    await page.locator("section[aria-labelledby=limits-title]").screenshot({ path: join(output, "limits.png") });

    await page.locator("#limits-runs").fill("51");
    await page.locator("#limits-run").click();
    await page.getByTestId("limits-error").filter({ hasText: /Runs must be a whole number from 1 to 50/ }).waitFor();
  });

  test("calibrate shows the rate per workload and converts one limit into the other", async (t) => {
    const page = await open(agent, t);
    await page.getByRole("tab", { name: "Compare tiers" }).click();
    await page.locator("#calibrate").click();
    // The calibration this agent may already have is replaced by the new one.
    await page.waitForFunction(() => document.getElementById("calibrate").disabled === false &&
      document.getElementById("limits-status").textContent === "" &&
      document.querySelector("[data-testid=calibration-rate]") !== null, null, { timeout: 120_000 });
    const rate = Number(await page.getByTestId("calibration").getAttribute("data-fuel-per-ms"));
    assert.ok(rate > 0, `fuel per ms is ${rate}`);
    assert.match(await page.getByTestId("calibration-rate").textContent(), /^[\d.]+[kMG]? fuel\/ms on this machine/);
    assert.equal(await page.locator("[data-testid=calibration-table] tbody tr").count(), 4);
    assert.match(
      await page.getByTestId("limits-conversion").textContent(),
      /^At [\d.]+[kMG]? fuel\/ms, your 50 ms timeout is worth about [\d.]+[kMG]? fuel .*the 100M fuel budget lasts about/,
    );

    // A fresh page shows the agent's calibration from /v1/backends.
    await page.reload();
    await page.waitForSelector("body[data-ready=true]");
    assert.equal(Number(await page.getByTestId("calibration").getAttribute("data-fuel-per-ms")), rate);
  });

  test("a tag typed in the form is sent and shown with the result", async (t) => {
    const page = await open(agent, t);
    await page.locator("#tag").fill("not/allowed");
    assert.match(await page.locator("#form-problem").textContent(), /tag must be 1 to 64 letters/);
    assert.equal(await page.locator("#run").isDisabled(), true);
    await page.locator("#tag").fill("batch job.v1_a-b");
    assert.equal(await page.locator("#form-problem").textContent(), "");
    await pickTier(page, "wasm");
    await runAndWait(page, "wasm");
    const tag = page.locator("[data-testid=metadata] tr").filter({ has: page.locator("th", { hasText: /^Tag$/ }) });
    assert.equal(await tag.locator("td").textContent(), "batch job.v1_a-b");
  });

  test("a tier that is down is disabled with its reason and cannot be selected", async (t) => {
    const page = await open(broken, t);
    assert.equal(await page.locator("#tier-isolate").isDisabled(), true);
    assert.match(await page.getByTestId("tier-note-isolate").textContent(), /nonexistent/);
    await page.locator("label[for=tier-isolate]").click({ force: true });
    assert.equal(await page.locator("#tier-isolate").isChecked(), false);
    assert.match(await page.getByTestId("health-isolate").getAttribute("class"), /\bdown\b/);
    await page.locator("#route-preview").filter({ hasText: "auto → wasm" }).waitFor();
    await page.screenshot({ path: join(output, "tier-down.png") });
  });

  test("an error from the API is shown as a readable message", async (t) => {
    const page = await open(broken, t);
    await page.locator("#examples").selectOption({ label: "JSON transform" });
    await page.locator("#run").click();
    const error = page.getByTestId("request-error");
    await error.waitFor({ timeout: RESULT_TIMEOUT_MS });
    assert.match(await error.textContent(), /code is .*over the limit|200/);
    assert.match(await error.textContent(), /payload_too_large/);
  });
});
