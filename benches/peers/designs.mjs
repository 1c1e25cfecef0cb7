/**
 * The isolate tier's designs side by side (issue 16), in one run: each design is an agent
 * binary and its flags, measured on the trivial workload over HTTP (`raw-http.mjs`), next to a
 * fresh `deno run` per workload (`deno-run.mjs`, concurrency 2):
 *
 * - resident memory per idle host (the agent's descendant processes, after start-up);
 * - p50 with 150 ms between requests (the warm path) and back to back at concurrency 1;
 * - throughput at concurrency 2, and the whole machine's CPU per workload during it (from
 *   `/proc/stat`, less this process's own).
 *
 *   node benches/peers/designs.mjs --design 'LABEL=BINARY FLAG…' … [--seconds N]
 *
 * e.g. `--design 'web worker=target/release/vulcan'` and `--design 'single-use process=
 * target/release/vulcan --isolate-recycle-after 1 --isolate-spares 3'`. Prints a Markdown table
 * on stdout, progress on stderr.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startAgent, stopAgent } from "./agent.mjs";
import { RawHttpClient } from "./raw-http.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DENO = path.resolve(HERE, "../../isolate-host/node_modules/@deno/linux-x64-glibc/deno");
const TRIVIAL = JSON.stringify({
  code: "export default (input) => input.a + input.b;",
  input: { a: 1, b: 2 },
  isolation: "isolate",
});
const PACE_MS = 150;
const PACED_RUNS = 60;
const BACK_TO_BACK_RUNS = 200;

const args = process.argv.slice(2);
const designs = [];
let seconds = 15;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--design") {
    const [label, command] = splitOnce(args[++i], "=");
    const [binary, ...flags] = command.trim().split(/\s+/);
    designs.push({ label, binary: path.resolve(binary), flags });
  } else if (args[i] === "--seconds") {
    seconds = Number(args[++i]);
  } else {
    throw new Error(`unknown argument ${args[i]}`);
  }
}
if (!designs.length) throw new Error("give at least one --design LABEL=BINARY FLAG…");

const rows = [];
for (const design of designs) rows.push({ label: design.label, ...(await measureDesign(design)) });
rows.push({ label: "a fresh `deno run` per workload (peer)", ...(await measureDenoRun()) });

console.log("| design | idle RSS per host | paced p50 | back to back p50 | /s at c=2 | CPU per workload |");
console.log("|---|---|---|---|---|---|");
for (const row of rows) {
  const cell = (value, unit) => value == null ? "—" : `${value.toFixed(1)}${unit}`;
  console.log(
    `| ${row.label} | ${cell(row.idleRssMb, " MiB")} | ${cell(row.pacedP50, " ms")} | ` +
      `${cell(row.backToBackP50, " ms")} | ${cell(row.perSecond, "")} | ${cell(row.cpuMs, " ms")} |`,
  );
}

async function measureDesign({ label, binary, flags }) {
  const data = mkdtempSync(path.join(os.tmpdir(), "vulcan-designs-"));
  const agent = await startAgent(binary, data, flags);
  const client = new RawHttpClient(agent.url);
  try {
    const run = async () => {
      const { status, body } = await client.request("POST", "/v1/workloads", TRIVIAL);
      const answer = JSON.parse(body.toString("utf8"));
      if (status !== 200 || answer.output !== 3) {
        throw new Error(`${label}: ${status} ${body.toString("utf8").slice(0, 300)}`);
      }
    };
    await sleep(2000);
    const idleRssMb = idleRssPerHost(agent.child.pid);
    for (let i = 0; i < 5; i++) await run();
    const paced = [];
    for (let i = 0; i < PACED_RUNS; i++) {
      await sleep(PACE_MS);
      paced.push(await timed(run));
    }
    const backToBack = [];
    for (let i = 0; i < BACK_TO_BACK_RUNS; i++) backToBack.push(await timed(run));
    const { perSecond, cpuMs } = await throughput(run, 2);
    const result = {
      idleRssMb,
      pacedP50: median(paced),
      backToBackP50: median(backToBack),
      perSecond,
      cpuMs,
    };
    console.error(`${label}: ${JSON.stringify(result)}`);
    return result;
  } finally {
    client.close();
    await stopAgent(agent);
    rmSync(data, { recursive: true, force: true });
  }
}

/** `concurrency` clients back to back for `seconds`; workloads/s and CPU per workload. */
async function throughput(run, concurrency) {
  const before = cpuNow();
  const started = performance.now();
  let done = 0;
  const client = async () => {
    while (performance.now() - started < seconds * 1000) {
      await run();
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  const elapsed = (performance.now() - started) / 1000;
  const after = cpuNow();
  return { perSecond: done / elapsed, cpuMs: (after.others - before.others) / done };
}

/** The `deno run` peer at concurrency 2 on the trivial workload, with its CPU per workload. */
async function measureDenoRun() {
  const before = cpuNow();
  const lines = await new Promise((resolve, reject) => {
    const child = spawn(
      DENO,
      ["run", "--allow-run", "--allow-read", "--allow-write", "--allow-env", "deno-run.mjs"],
      {
        cwd: HERE,
        env: {
          ...process.env,
          PEERS_WORKLOADS: "trivial",
          PEERS_CONCURRENCY: "2",
          PEERS_SCALE: String(seconds / 1.5),
        },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let out = "";
    child.stdout.on("data", (chunk) => out += chunk);
    child.on("error", reject);
    child.on("exit", () => resolve(out.trim().split("\n").map((line) => JSON.parse(line))));
  });
  const after = cpuNow();
  const cell = lines.find((line) => line.workload === "trivial" && line.concurrency === 2);
  const idle = lines.find((line) => line.workload === "idle");
  return {
    idleRssMb: idle?.per_isolate_mb,
    pacedP50: null,
    backToBackP50: null,
    perSecond: cell.throughput_per_s,
    // Its warm-up runs and the idle measurement are in the window too: a slight overcount.
    cpuMs: (after.others - before.others) / cell.runs,
  };
}

/** CPU used so far by the whole machine and by this process, in ms; `others` is the rest. */
function cpuNow() {
  const [, user, nice, system] = readFileSync("/proc/stat", "utf8").split("\n")[0].split(/\s+/);
  const machine = (Number(user) + Number(nice) + Number(system)) * 10; // 100 ticks a second
  const { user: mine, system: mineSystem } = process.cpuUsage();
  return { others: machine - (mine + mineSystem) / 1000 };
}

/** Resident memory of `pid`'s descendants per `deno` process among them, in MiB. */
function idleRssPerHost(pid) {
  const parents = new Map();
  const names = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      names.set(Number(entry), stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")));
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch { /* gone meanwhile */ }
  }
  const descends = (p) => {
    for (let at = parents.get(p); at && at > 1; at = parents.get(at)) if (at === pid) return true;
    return false;
  };
  let rssKib = 0;
  let hosts = 0;
  for (const [p, name] of names) {
    if (!descends(p)) continue;
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, "utf8"));
    rssKib += match ? Number(match[1]) : 0;
    if (name === "deno") hosts++;
  }
  return hosts ? rssKib / 1024 / hosts : null;
}

async function timed(run) {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function splitOnce(text, separator) {
  const at = text.indexOf(separator);
  if (at < 0) throw new Error(`expected LABEL=COMMAND, got ${text}`);
  return [text.slice(0, at), text.slice(at + 1)];
}
