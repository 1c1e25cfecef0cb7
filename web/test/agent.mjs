// Starts a real Vulcan agent (both tiers, SQLite in a temp dir, port 0) for the browser
// tests, and stops it. The binary is built (or found up to date) with cargo first, in the
// target directory cargo reports, so CARGO_TARGET_DIR is respected; the page is built into
// web/dist too, so `npm test` alone never tests a page older than web/src.

import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const web = join(repo, "web");
/** The compiled wasm guest, kept between runs as the agent does in production. */
const cacheDir = join(tmpdir(), "vulcan-web-test-cache");
const START_DEADLINE_MS = 120_000;

/** Builds the agent and the page; returns the path of the agent's binary. */
export async function buildAgent() {
  const run = promisify(execFile);
  await run("npm", ["run", "--silent", "build", "--", "--logLevel", "warn"], { cwd: web, maxBuffer: 1 << 24 });
  await run("cargo", ["build", "--quiet", "--bin", "vulcan"], { cwd: repo, maxBuffer: 1 << 24 });
  const { stdout } = await run("cargo", ["metadata", "--format-version", "1", "--no-deps"], {
    cwd: repo,
    maxBuffer: 1 << 24,
  });
  return join(JSON.parse(stdout).target_directory, "debug", "vulcan");
}

/**
 * Starts an agent and waits until it listens; with `everyTier`, also until every tier
 * reports available (the isolate hosts boot after the agent listens).
 */
export async function startAgent(binary, extra = [], { everyTier = false } = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), "vulcan-web-test-"));
  const args = [
    "serve",
    "--listen", "127.0.0.1:0",
    "--data-dir", dataDir,
    "--cache-dir", cacheDir,
    "--web-dir", join(web, "dist"),
    ...extra,
  ];
  const child = spawn(binary, args, {
    cwd: repo,
    env: { ...process.env, NO_COLOR: "1", RUST_LOG: "info" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent did not start:\n${log}`)), START_DEADLINE_MS);
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => {
      log = (log + chunk).slice(-20_000);
      const match = log.match(/vulcan listening address=(\S+)/);
      if (match) {
        clearTimeout(timer);
        resolve(`http://${match[1]}`);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`agent exited with ${code} before listening:\n${log}`));
    });
  });
  // Keep draining the log so the agent never blocks on a full pipe.
  child.stderr.removeAllListeners("data");
  child.stderr.resume();
  if (everyTier) await untilEveryTierIsAvailable(url, () => log);
  return {
    url,
    async stop() {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function untilEveryTierIsAvailable(url, log) {
  const deadline = Date.now() + START_DEADLINE_MS;
  for (;;) {
    const { backends } = await (await fetch(`${url}/v1/backends`)).json();
    if (backends.every((b) => b.available)) return;
    if (Date.now() > deadline) {
      throw new Error(`tiers not available: ${JSON.stringify(backends)}\n${log()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
