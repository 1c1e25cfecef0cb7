/**
 * Starting a `vulcan` agent for a benchmark: on a free loopback port, with its history in a
 * data directory of the caller's, extra flags after `serve`.
 */
import { spawn } from "node:child_process";

/**
 * Starts `binary serve …args` and resolves, once every tier (or each of `tiers`) is
 * available, with the child and the agent's base URL.
 */
export async function startAgent(binary, dataDir, args = [], tiers = null) {
  const child = spawn(
    binary,
    ["serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, ...args],
    {
      env: { ...process.env, NO_COLOR: "1", RUST_LOG: "warn,vulcan=info" },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  const url = await new Promise((resolve, reject) => {
    let log = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => {
      log += chunk;
      const match = /vulcan listening address=(\S+)/.exec(log);
      if (match) resolve(`http://${match[1]}`);
    });
    child.on("exit", (code) => reject(new Error(`the agent exited with ${code}:\n${log}`)));
  });
  for (let tries = 0;; tries++) {
    const { backends } = await (await fetch(`${url}/v1/backends`)).json();
    const awaited = backends.filter((tier) => !tiers || tiers.includes(tier.kind));
    if (awaited.every((tier) => tier.available)) break;
    if (tries > 600) throw new Error(`tiers not available: ${JSON.stringify(backends)}`);
    await new Promise((done) => setTimeout(done, 100));
  }
  console.error(`agent ${binary} ${args.join(" ")} (pid ${child.pid}) at ${url}`);
  return { child, url };
}

/** Stops an agent started by `startAgent` (SIGTERM) and waits for it to exit. */
export async function stopAgent({ child }) {
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}
