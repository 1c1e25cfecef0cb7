// The page against an agent with access control on (`--auth required`): the key prompt,
// what each key's scopes enable, and a key revoked while the page holds it. Keys are made
// with the agent's CLI on its store before it starts.

import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { buildAgent, keyId, startAgent, untilRefused } from "./agent.mjs";
import { launchBrowser, openPage, output, pickTier, runAndWait, status, typeCode } from "./browser.mjs";

const ADMIN_CONTROLS = ["experiment-run", "limits-run", "calibrate", "policy-custom"];

let browser;
let agent;

before(async () => {
  browser = await launchBrowser();
  const binary = await buildAgent();
  agent = await startAgent(binary, ["--auth", "required"], {
    everyTier: true,
    keys: {
      member: { tenant: "team-a", scopes: "run,read" },
      reader: { tenant: "team-a", scopes: "read" },
      runner: { tenant: "team-b", scopes: "run" },
      doomed: { tenant: "team-c", scopes: "run,read" },
    },
  });
});

after(async () => {
  await browser?.close();
  await agent?.stop();
});

function open(t) {
  return openPage(browser, agent, t);
}

function prompt(page) {
  return page.getByRole("dialog", { name: "Sign in" });
}

/** Types `key` into the prompt and presses Enter. */
async function enterKey(page, key) {
  const field = page.getByLabel("API key", { exact: true });
  await field.fill(key);
  await field.press("Enter");
}

async function signIn(page, key) {
  await prompt(page).waitFor();
  await enterKey(page, key);
  await prompt(page).waitFor({ state: "hidden" });
}

/** Where the page keeps keys: what sessionStorage and localStorage hold. */
function storage(page) {
  return page.evaluate(() => ({ session: Object.values(sessionStorage), local: Object.values(localStorage) }));
}

function focusedId(page) {
  return page.evaluate(() => document.activeElement?.id);
}

describe("web page with access control", () => {
  test("asks for a key, refuses a wrong one, and a run,read key runs and reads its history", async (t) => {
    const { member } = agent.keys;
    const page = await open(t);
    const sent = [];
    page.on("request", (request) => {
      const path = new URL(request.url()).pathname;
      if (path.startsWith("/v1/")) sent.push(`${request.method()} ${path} ${request.headers().authorization}`);
    });

    await prompt(page).waitFor();
    assert.equal(await focusedId(page), "key-input", "the prompt takes the focus");
    assert.equal(await page.getByLabel("API key", { exact: true }).getAttribute("type"), "password");
    assert.equal(await page.getByTestId("key-problem").textContent(), "", "no key yet is no refusal");

    await enterKey(page, "vk_000000000000_wrong");
    await page.getByTestId("key-problem").filter({ hasText: "The key was refused: invalid API key" }).waitFor();
    assert.equal(await prompt(page).isVisible(), true);
    assert.equal(await focusedId(page), "key-input");
    assert.deepEqual(await storage(page), { session: [], local: [] }, "a refused key is not kept");
    await page.screenshot({ path: join(output, "access-refused.png") });

    await enterKey(page, member);
    await prompt(page).waitFor({ state: "hidden" });
    assert.equal(await page.getByTestId("access-tenant").textContent(), "tenant team-a");
    assert.equal(await page.getByTestId("access-scopes").textContent(), "run · read");
    assert.deepEqual(await storage(page), { session: [member], local: [] });
    for (const id of ADMIN_CONTROLS) {
      assert.equal(await page.locator(`#${id}`).isDisabled(), true, `#${id} needs the admin scope`);
    }
    for (const id of ["run", "compare-run"]) assert.equal(await page.locator(`#${id}`).isDisabled(), false);
    assert.equal(await page.locator("#metrics-link").isHidden(), true, "a link cannot carry the key");

    const marker = `access-${Date.now()}`;
    await typeCode(page, `export default () => "${marker}"`);
    await pickTier(page, "wasm");
    await runAndWait(page, "wasm");
    assert.equal(await status(page), "succeeded");
    const meta = await page.getByTestId("metadata").textContent();
    assert.match(meta, new RegExp(`Tenantteam-a \\(key ${keyId(member)}\\)`));
    assert.match(meta, /CPU time\d/);
    await page.getByRole("tab", { name: "History" }).click();
    await page.getByTestId("history-item").filter({ hasText: marker }).waitFor();
    await page.screenshot({ path: join(output, "access-signed-in.png") });

    assert.match(new URL(page.url()).hash, /^#\/workloads\//);
    assert.ok(!page.url().includes(member), "the key is not in the address");
    const signedIn = sent.findIndex((line) => line === `GET /v1/whoami Bearer ${member}`);
    assert.ok(signedIn >= 0, sent.join("\n"));
    const after = sent.slice(signedIn);
    assert.deepEqual(after.filter((line) => !line.endsWith(`Bearer ${member}`)), [], "every request sent the key");
    for (const call of ["GET /v1/backends", "GET /v1/policy", "POST /v1/route", "POST /v1/workloads", "GET /v1/workloads"]) {
      assert.ok(after.some((line) => line.startsWith(`${call} `)), `${call} was sent`);
    }

    // The tab keeps the key across a reload; signing out forgets it.
    await page.reload();
    await page.waitForSelector("body[data-ready=true]");
    assert.equal(await page.getByTestId("access-tenant").textContent(), "tenant team-a");
    assert.equal(await prompt(page).isVisible(), false);
    await page.getByTestId("sign-out").click();
    await prompt(page).waitFor();
    assert.deepEqual(await storage(page), { session: [], local: [] });
    assert.equal(new URL(page.url()).hash, "", "the last key's workload left the address");
  });

  test("a read-only key cannot run or compare; a run-only key gets no history", async (t) => {
    const page = await open(t);
    await signIn(page, agent.keys.reader);
    assert.equal(await page.getByTestId("access-scopes").textContent(), "read");
    assert.equal(await page.locator("#run").isDisabled(), true);
    assert.equal(await page.locator("#compare-run").isDisabled(), true);
    assert.equal(await page.locator(".actions [data-needs-note=run]").isVisible(), true);
    assert.equal(await page.getByRole("tab", { name: "History" }).isDisabled(), false);
    await page.screenshot({ path: join(output, "access-read-only.png") });

    await page.getByTestId("sign-out").click();
    await signIn(page, agent.keys.runner);
    assert.equal(await page.getByTestId("access-tenant").textContent(), "tenant team-b");
    assert.equal(await page.getByRole("tab", { name: "History" }).isDisabled(), true);
    assert.equal(await page.locator("#run").isDisabled(), false);
    await pickTier(page, "wasm");
    await runAndWait(page, "wasm");
    assert.equal(await status(page), "succeeded");
  });

  test("a key revoked while the page holds it brings the prompt back with the reason", async (t) => {
    const { doomed, member } = agent.keys;
    const page = await open(t);
    await signIn(page, doomed);
    await pickTier(page, "wasm");
    await runAndWait(page, "wasm");

    await agent.revoke(doomed);
    await untilRefused(agent.url, doomed);
    // The next action is refused. The page's tier poll (every 5 s) may have been refused
    // first: then the run button is disabled under the prompt and the click does nothing.
    await page.locator("#run").dispatchEvent("click");
    await prompt(page).waitFor();
    assert.equal(
      await page.getByTestId("key-problem").textContent(),
      `The key was refused: API key ${keyId(doomed)} was revoked`,
    );
    assert.equal(await focusedId(page), "key-input");
    assert.deepEqual(await storage(page), { session: [], local: [] });
    assert.equal(await page.locator("#run").isDisabled(), true, "nothing runs without a key");

    await enterKey(page, member);
    await prompt(page).waitFor({ state: "hidden" });
    await runAndWait(page, "wasm");
    assert.equal(await status(page), "succeeded");
    assert.match(await page.getByTestId("metadata").textContent(), /Tenantteam-a/);
  });
});
