// Starts a real Vulcan agent (both tiers, SQLite in a temp dir, port 0) for the browser
// tests, and stops it; API keys are made and revoked with the agent's own CLI on its store. The binary is built (or found up to date) with cargo first, in the
// target directory cargo reports, so CARGO_TARGET_DIR is respected; the page is built into
// web/dist too, unless it was built after its sources last changed, so `npm test` alone never
// tests a page older than web/src (and each test file does not build it again).

import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const web = join(repo, "web");
/** The compiled wasm guest, kept between runs as the agent does in production. */
const cacheDir = join(tmpdir(), "vulcan-web-test-cache");
const START_DEADLINE_MS = 120_000;
/** A revoked key is refused within this: the agent trusts a key it has read for 500 ms. */
const REVOKE_DEADLINE_MS = 10_000;
const run = promisify(execFile);

/** Builds the agent and the page; returns the path of the agent's binary. */
export async function buildAgent() {
  if (!(await pageIsBuilt())) {
    await run("npm", ["run", "--silent", "build", "--", "--logLevel", "warn"], { cwd: web, maxBuffer: 1 << 24 });
  }
  await run("cargo", ["build", "--quiet", "--bin", "vulcan"], { cwd: repo, maxBuffer: 1 << 24 });
  const { stdout } = await run("cargo", ["metadata", "--format-version", "1", "--no-deps"], {
    cwd: repo,
    maxBuffer: 1 << 24,
  });
  return join(JSON.parse(stdout).target_directory, "debug", "vulcan");
}

/** Whether web/dist was built after every file it is built from last changed. */
async function pageIsBuilt() {
  const built = await stat(join(web, "dist", "index.html")).then((s) => s.mtimeMs, () => 0);
  const src = await readdir(join(web, "src"), { recursive: true });
  const sources = [
    ...["index.html", "vite.config.ts", "tsconfig.json", "package.json", "package-lock.json"],
    ...src.map((file) => join("src", file)),
  ];
  for (const file of sources) {
    if ((await stat(join(web, file))).mtimeMs >= built) return false;
  }
  return true;
}

/**
 * Starts an agent and waits until it listens; with `everyTier`, also until every tier
 * reports available (the isolate hosts boot after the agent listens). `keys` names the API
 * keys to make first, as `{ name: { tenant, scopes: "run,read" } }`; the agent's `keys` holds
 * them by the same names (pass `--auth required` in `extra` to need them).
 */
export async function startAgent(binary, extra = [], { everyTier = false, keys = {} } = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), "vulcan-web-test-"));
  const made = {};
  for (const [name, { tenant, scopes }] of Object.entries(keys)) {
    const { stdout } = await run(binary, ["keys", "create", "--tenant", tenant, "--scopes", scopes, "--data-dir", dataDir]);
    made[name] = stdout.trim();
  }
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
  if (everyTier) await untilEveryTierIsAvailable(url, () => log, Object.values(made)[0]);
  return {
    url,
    keys: made,
    /** Revokes `key` with the CLI while the agent runs; the agent refuses it within a second. */
    async revoke(key) {
      await run(binary, ["keys", "revoke", keyId(key), "--data-dir", dataDir]);
    },
    async stop() {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A key's id: `vk_<id>_<secret>`. */
export function keyId(key) {
  return key.split("_")[1];
}

/** A request's headers that present `key`, if any. */
export function bearer(key) {
  return key ? { authorization: `Bearer ${key}` } : {};
}

/** Resolves once the agent refuses `key` (401); fails after a deadline. */
export async function untilRefused(url, key) {
  const deadline = Date.now() + REVOKE_DEADLINE_MS;
  for (;;) {
    const response = await fetch(`${url}/v1/whoami`, { headers: bearer(key) });
    await response.body?.cancel();
    if (response.status === 401) return;
    if (Date.now() > deadline) throw new Error(`key ${keyId(key)} still accepted (${response.status})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function untilEveryTierIsAvailable(url, log, key) {
  const deadline = Date.now() + START_DEADLINE_MS;
  for (;;) {
    const { backends } = await (await fetch(`${url}/v1/backends`, { headers: bearer(key) })).json();
    if (backends.every((b) => b.available)) return;
    if (Date.now() > deadline) {
      throw new Error(`tiers not available: ${JSON.stringify(backends)}\n${log()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
