/**
 * Many agents as one service, measured (issue 17): the cost of a PostgreSQL-backed record
 * against SQLite on one agent, then 1, 2 and 3 agents on one PostgreSQL behind HAProxy
 * (`deploy/haproxy.cfg`), synchronous and asynchronous, with the CPU each part spends. The
 * wasm trivial workload throughout, so what is measured is the protocol, not the tiers.
 *
 *   node benches/cluster/run.mjs --agent target/release/vulcan [--seconds 10]
 *
 * Starts its own PostgreSQL cluster (Debian's postgresql: initdb, pg_ctl, as the `postgres`
 * user when run as root) and HAProxy on free loopback ports, and removes them after. Prints
 * Markdown on stdout, progress on stderr. On a 2-core machine, three agents measure the
 * protocol's overhead, not scaling: every process shares the same two cores.
 */
import { execFileSync, spawn } from "node:child_process";
import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startAgent, stopAgent } from "../peers/agent.mjs";
import { RawHttpClient } from "../peers/raw-http.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CONFIG = path.resolve(HERE, "../../deploy/haproxy.cfg");
const TRIVIAL = JSON.stringify({
  code: "export default (input) => input.a + input.b;",
  input: { a: 1, b: 2 },
  isolation: "wasm",
});
const CONCURRENCY = 8;
const WASM_ONLY = ["--isolate-host-dir", "/nonexistent/isolate-host"];

const args = process.argv.slice(2);
let agentBinary = null;
let seconds = 10;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--agent") agentBinary = path.resolve(args[++i]);
  else if (args[i] === "--seconds") seconds = Number(args[++i]);
  else throw new Error(`unknown argument ${args[i]}`);
}
if (!agentBinary) throw new Error("give --agent BINARY");

const pg = await startPostgres();
const out = [];
try {
  out.push("### One agent: SQLite against PostgreSQL (trivial, synchronous, direct)\n");
  out.push("| store | p50 c=1 | p99 c=1 | /s c=2 | /s c=8 |");
  out.push("|---|---|---|---|---|");
  for (const [label, store] of [["SQLite (embedded)", null], ["PostgreSQL", await pg.database("single")]]) {
    const dir = mkdtempSync(path.join(os.tmpdir(), "vulcan-cluster-"));
    const agent = await startAgent(agentBinary, dir, [...(store ? ["--store", store] : []), ...WASM_ONLY], ["wasm"]);
    const client = new RawHttpClient(agent.url);
    await closedLoop(client, 1, 1, "sync"); // warm-up
    const latency = await latencies(client, 500);
    const c2 = await closedLoop(client, 2, seconds, "sync");
    const c8 = await closedLoop(client, 8, seconds, "sync");
    out.push(`| ${label} | ${ms(quantile(latency, 0.5))} | ${ms(quantile(latency, 0.99))} | ${c2.rate.toFixed(0)} | ${c8.rate.toFixed(0)} |`);
    client.close();
    await stopAgent(agent);
    rmSync(dir, { recursive: true, force: true });
  }

  out.push(`\n### Agents on one PostgreSQL behind HAProxy (trivial, ${CONCURRENCY} clients, ${seconds} s each)\n`);
  out.push("| agents | mode | /s | p50 | p99 | queue wait (mean) | CPU per workload: agents / PostgreSQL / HAProxy / client |");
  out.push("|---|---|---|---|---|---|---|");
  for (const count of [1, 2, 3]) {
    const url = await pg.database(`agents_${count}`);
    const dirs = [];
    const agents = [];
    for (let i = 0; i < count; i++) {
      dirs.push(mkdtempSync(path.join(os.tmpdir(), "vulcan-cluster-")));
      agents.push(await startAgent(agentBinary, dirs[i], ["--store", url, ...WASM_ONLY], ["wasm"]));
    }
    const balancer = await startHaproxy(agents.map((agent) => new URL(agent.url).host));
    const client = new RawHttpClient(balancer.url);
    await closedLoop(client, CONCURRENCY, 1, "sync"); // warm-up, and every agent seen up
    for (const mode of ["sync", "async"]) {
      const before = cpu(agents, balancer, pg);
      const waitBefore = await queueWait(agents);
      const run = await closedLoop(client, CONCURRENCY, seconds, mode);
      const used = cpu(agents, balancer, pg, before);
      const waited = (await queueWait(agents)).minus(waitBefore);
      const perWorkload = (value) => (value / run.count).toFixed(2);
      out.push(
        `| ${count} | ${mode} | ${run.rate.toFixed(0)} | ${ms(quantile(run.latencies, 0.5))} | ` +
          `${ms(quantile(run.latencies, 0.99))} | ${mode === "async" ? ms(waited.mean()) : "—"} | ` +
          `${perWorkload(used.agents)} / ${perWorkload(used.postgres)} / ${perWorkload(used.haproxy)} / ` +
          `${perWorkload(used.client)} ms |`,
      );
      console.error(out.at(-1));
    }
    client.close();
    balancer.stop();
    for (const agent of agents) await stopAgent(agent);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
} finally {
  pg.stop();
}
console.log(out.join("\n"));

/** Runs trivial workloads with `concurrency` in flight for `secs`: rate, count, latencies. */
async function closedLoop(client, concurrency, secs, mode) {
  const end = performance.now() + secs * 1000;
  const latencies = [];
  const worker = async () => {
    while (performance.now() < end) {
      const started = performance.now();
      await runOne(client, mode);
      latencies.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  return { rate: latencies.length / elapsed, count: latencies.length, latencies };
}

async function latencies(client, runs) {
  const measured = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await runOne(client, "sync");
    measured.push(performance.now() - started);
  }
  return measured;
}

/** One workload to its end: answered at once (sync), or queued then long-polled (async). */
async function runOne(client, mode) {
  const headers = mode === "async" ? { Prefer: "respond-async" } : {};
  const answer = await client.request("POST", "/v1/workloads", TRIVIAL, headers);
  let record = JSON.parse(answer.body);
  while (record.status === "queued" || record.status === "running") {
    const read = await client.request("GET", `/v1/workloads/${record.id}?wait=30`);
    record = JSON.parse(read.body);
  }
  if (record.status !== "succeeded" || record.output !== 3) {
    throw new Error(`a workload failed: ${answer.status} ${answer.body}`);
  }
}

/** CPU milliseconds so far of the agents, PostgreSQL's processes, HAProxy and this client. */
function cpu(agents, balancer, pg, before) {
  const ticks = (pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, 100 Hz ticks
    } catch {
      return 0;
    }
  };
  const postgres = readdirSync("/proc")
    .filter((pid) => /^\d+$/.test(pid))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "postgres";
      } catch {
        return false;
      }
    })
    .reduce((sum, pid) => sum + ticks(pid), 0);
  const own = process.cpuUsage();
  const now = {
    agents: agents.reduce((sum, agent) => sum + ticks(agent.child.pid), 0),
    postgres,
    haproxy: ticks(balancer.child.pid),
    client: (own.user + own.system) / 1000,
  };
  if (!before) return now;
  return Object.fromEntries(Object.entries(now).map(([key, value]) => [key, value - before[key]]));
}

/** The agents' `vulcan_queue_wait_seconds` sum and count, together. */
async function queueWait(agents) {
  let sum = 0;
  let count = 0;
  for (const agent of agents) {
    const text = await (await fetch(`${agent.url}/metrics`)).text();
    sum += Number(/^vulcan_queue_wait_seconds_sum (\S+)$/m.exec(text)?.[1] ?? 0);
    count += Number(/^vulcan_queue_wait_seconds_count (\S+)$/m.exec(text)?.[1] ?? 0);
  }
  return {
    sum,
    count,
    minus(other) {
      const diff = { sum: sum - other.sum, count: count - other.count };
      return { mean: () => (diff.count ? (diff.sum / diff.count) * 1000 : 0) };
    },
  };
}

/** HAProxy on `deploy/haproxy.cfg` in front of up to three agents (`host:port`). */
async function startHaproxy(hosts) {
  const port = await freePort();
  const env = { ...process.env, VULCAN_HAPROXY_BIND: `127.0.0.1:${port}` };
  // Unused server lines point at a closed port: their checks keep them down.
  const closed = `127.0.0.1:${await freePort()}`;
  for (let i = 0; i < 3; i++) env[`VULCAN_AGENT_${i + 1}`] = hosts[i] ?? closed;
  const child = spawn("haproxy", ["-db", "-f", CONFIG], { env, stdio: "ignore" });
  const url = `http://127.0.0.1:${port}`;
  for (let tries = 0;; tries++) {
    try {
      if ((await fetch(`${url}/healthz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (tries > 200) throw new Error("HAProxy passed no request to an agent");
    await new Promise((done) => setTimeout(done, 50));
  }
  // The unused servers' first checks have failed (inter 500 ms, fall 1).
  await new Promise((done) => setTimeout(done, 1200));
  return { child, url, stop: () => child.kill("SIGTERM") };
}

/** A private PostgreSQL cluster on a free port; `stop()` removes it. */
async function startPostgres() {
  const versions = readdirSync("/usr/lib/postgresql").map(Number).filter(Boolean);
  const bin = `/usr/lib/postgresql/${Math.max(...versions)}/bin`;
  const dir = mkdtempSync(path.join(os.tmpdir(), "vulcan-pg-bench-"));
  const asPostgres = process.getuid() === 0;
  if (asPostgres) {
    const id = (flag) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }));
    chownSync(dir, id("-u"), id("-g"));
  }
  const run = (command, commandArgs) =>
    asPostgres
      ? execFileSync("runuser", ["-u", "postgres", "--", command, ...commandArgs], { stdio: "ignore" })
      : execFileSync(command, commandArgs, { stdio: "ignore" });
  const data = path.join(dir, "data");
  run(`${bin}/initdb`, ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200`;
  run(`${bin}/pg_ctl`, ["-D", data, "-o", options, "-l", path.join(dir, "log"), "-w", "start"]);
  const admin = `postgres://postgres@127.0.0.1:${port}/postgres`;
  console.error(`postgres ${bin} on port ${port} (durable commits: fsync on)`);
  return {
    async database(name) {
      run(`${bin}/psql`, [admin, "-q", "-c", `CREATE DATABASE ${name}`]);
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    stop() {
      run(`${bin}/pg_ctl`, ["-D", data, "-m", "fast", "-w", "stop"]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function ms(value) {
  return `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;
}
