// The browser side of the page tests: Debian's chromium through playwright-core, a page of
// an agent that fails its test on a console error, and the steps the tests share.

import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

/** Screenshots, for a look at the page. */
export const output = join(dirname(fileURLToPath(import.meta.url)), "..", "test-output");
export const RESULT_TIMEOUT_MS = 30_000;

export async function launchBrowser() {
  await mkdir(output, { recursive: true });
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/** A page of `server` (at `hash`, if given), once ready; console errors fail the test. */
export async function openPage(browser, server, t, hash = "") {
  const page = await browser.newPage({ viewport: { width: 1440, height: 960 } });
  const errors = [];
  page.on("pageerror", (err) => errors.push(err.message));
  page.on("console", (msg) => {
    // The browser logs every 4xx answer; the tests check how the page shows those.
    if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) {
      errors.push(msg.text());
    }
  });
  t.after(async () => {
    await page.close();
    assert.deepEqual(errors, [], "the page logged errors");
  });
  await page.goto(server.url + hash);
  await page.waitForSelector("body[data-ready=true]");
  return page;
}

/** Types one line key by key; pastes several (typed newlines would get auto-indent). */
export async function typeCode(page, code) {
  await page.locator(".cm-content").click();
  await page.keyboard.press("ControlOrMeta+a");
  await page.keyboard.press("Delete");
  if (code.includes("\n")) await page.keyboard.insertText(code);
  else await page.keyboard.type(code);
}

export async function pickTier(page, tier) {
  await page.locator(`label[for=tier-${tier}]`).click();
  assert.equal(await page.locator(`#tier-${tier}`).isChecked(), true);
}

/** Runs with the button and waits for a result from `tier` that replaced the last one. */
export async function runAndWait(page, expectedTier) {
  // Read without waiting: a locator would wait its full timeout for a first result.
  const before = await page.evaluate(() =>
    document.querySelector("[data-testid=metadata] tr:last-child td")?.textContent ?? null
  );
  await page.locator("#run").click();
  await page.waitForFunction(
    (old) => {
      const id = document.querySelector("[data-testid=metadata] tr:last-child td")?.textContent;
      return id && id !== old;
    },
    before,
    { timeout: RESULT_TIMEOUT_MS },
  );
  if (expectedTier) {
    assert.equal(await page.getByTestId("result-tier").textContent(), expectedTier);
  }
}

export async function status(page) {
  return page.locator("#result .badge").getAttribute("data-status");
}
