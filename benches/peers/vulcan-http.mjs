/**
 * Vulcan end to end over HTTP, the same cells as the peers: `POST /v1/workloads` with
 * `isolation` `wasm` (system `vulcan-wasm-http`) and `isolate` (`vulcan-isolate-http`),
 * `language: "typescript"` for ts_trivial, over keep-alive connections (`raw-http.mjs`, a
 * minimal client). Each request sets `timeout_ms` to the tier's maximum, so queueing at concurrency 32 is not
 * mistaken for a slow workload; every other limit is the tier's default.
 *
 * `VULCAN_URL` (required): the agent, e.g. `http://127.0.0.1:8080`. `VULCAN_PID` (optional):
 * the agent's pid; then each cell also reports the agent's peak RSS (`rss_mb`) and its child
 * processes' (isolate hosts: bwrap → deno) peak total (`hosts_rss_mb`), sampled every 200 ms
 * from /proc, and one `idle` line per tier gives the memory before any workload.
 * On the isolate tier, trivial is also run paced (`vulcan-isolate-http-paced`, see `paced`).
 * `VULCAN_TIERS` (optional): `wasm,isolate` by default.
 */
import { readdirSync, readFileSync } from "node:fs";
import { RawHttpClient } from "./raw-http.mjs";
import { emit, runSystem, SCALE, summary, WORKLOAD_NAMES, WORKLOADS } from "./common.mjs";

const BASE = process.env.VULCAN_URL;
if (!BASE) throw new Error("VULCAN_URL is not set");
const PID = process.env.VULCAN_PID ? Number(process.env.VULCAN_PID) : null;
const TIERS = (process.env.VULCAN_TIERS ?? "wasm,isolate").split(",");
const PACE_MS = 150;
const PACED_RUNS = 30;
const client = new RawHttpClient(BASE);
const url = new URL("/v1/workloads", BASE);

async function request(method, path, body) {
  const { status, body: bytes } = await client.request(method, path, body);
  const text = bytes.toString("utf8");
  if (status !== 200) throw new Error(`${method} ${path}: ${status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** RSS of `pid` and of all its descendants, in MiB, from /proc. */
export function processTreeRss(pid) {
  const children = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch { /* gone meanwhile */ }
  }
  const rss = (p) => {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, "utf8"));
      return match ? Number(match[1]) / 1024 : 0;
    } catch {
      return 0;
    }
  };
  const comm = (p) => {
    try {
      return readFileSync(`/proc/${p}/comm`, "utf8").trim();
    } catch {
      return "?";
    }
  };
  const descendants = [];
  const stack = [...(children.get(pid) ?? [])];
  while (stack.length) {
    const p = stack.pop();
    descendants.push({ pid: p, comm: comm(p), rss_mb: rss(p) });
    stack.push(...(children.get(p) ?? []));
  }
  const hostsRss = descendants.reduce((sum, d) => sum + d.rss_mb, 0);
  return { agent_rss_mb: rss(pid), hosts_rss_mb: hostsRss, processes: descendants };
}

const round1 = (value) => Math.round(value * 10) / 10;
const backends = (await request("GET", "/v1/backends")).backends;

for (const tier of TIERS) {
  const system = `vulcan-${tier}-http`;
  const info = backends.find((backend) => backend.kind === tier);
  if (!info?.available) throw new Error(`tier ${tier} is not available: ${JSON.stringify(info)}`);
  const timeoutMs = info.capabilities.timeout_ms.max;
  const body = (spec) =>
    `{"code":${JSON.stringify(spec.code)},"input":${spec.input},"isolation":"${tier}",` +
    `"language":"${spec.language}","timeout_ms":${timeoutMs}}`;
  const runOne = async (payload) => {
    const answer = await request("POST", url.pathname, payload);
    if (answer.status !== "succeeded") {
      throw new Error(`${system}: ${JSON.stringify(answer).slice(0, 400)}`);
    }
    return JSON.stringify(answer.output);
  };

  if (PID) {
    const tree = processTreeRss(PID);
    const trivial = await request("POST", url.pathname, body(WORKLOADS.trivial));
    const line = {
      system,
      workload: "idle",
      agent_rss_mb: round1(tree.agent_rss_mb),
      hosts_rss_mb: round1(tree.hosts_rss_mb),
      processes: tree.processes.filter((p) => p.comm === "deno").map((p) => ({
        pid: p.pid,
        rss_mb: round1(p.rss_mb),
      })),
    };
    if (tier === "wasm") {
      line.per_isolate_mb = round1(trivial.metadata.memory_peak_bytes / (1 << 20));
      line.per_isolate_of = "guest linear memory of a trivial run (memory_peak_bytes)";
    } else {
      line.per_isolate_of = "n/a: each host process holds one warm worker; see processes";
    }
    emit(line);
  }

  await runSystem(system, (workload) => {
    const payload = body(WORKLOADS[workload]);
    if (!PID) return { runOne: () => runOne(payload) };
    let peak = { agent: 0, hosts: 0 };
    const sampleTree = () => {
      const tree = processTreeRss(PID);
      peak = {
        agent: Math.max(peak.agent, tree.agent_rss_mb),
        hosts: Math.max(peak.hosts, tree.hosts_rss_mb),
      };
    };
    sampleTree();
    const timer = setInterval(sampleTree, 200);
    return {
      runOne: () => runOne(payload),
      sample: () => peak.agent,
      rssOf: "agent process, peak",
      extra: () => ({ hosts_rss_mb: round1(peak.hosts) }),
      close: () => clearInterval(timer),
    };
  });
  if (tier === "isolate" && WORKLOAD_NAMES.includes("trivial")) emit(await paced(runOne, body));
}

/**
 * The isolate tier's warm path: trivial at concurrency 1 with `PACE_MS` between requests, so
 * each finds the host's warm worker ready (back to back, each waits for its replacement to be
 * made). Latency only: throughput is set by the pacing.
 */
async function paced(runOne, body) {
  const payload = body(WORKLOADS.trivial);
  await runOne(payload);
  const latencies = [];
  const t0 = performance.now();
  for (let i = 0; i < Math.max(10, Math.round(PACED_RUNS * SCALE)); i++) {
    await new Promise((resolve) => setTimeout(resolve, PACE_MS));
    const begun = performance.now();
    await runOne(payload);
    latencies.push(performance.now() - begun);
  }
  const line = summary({
    system: "vulcan-isolate-http-paced",
    workload: "trivial",
    concurrency: 1,
    latencies,
    elapsedMs: performance.now() - t0,
    extra: { pace_ms: PACE_MS },
  });
  line.throughput_per_s = null;
  console.error(`vulcan-isolate-http-paced trivial c=1: p50 ${line.p50_ms} ms (${line.runs} runs)`);
  return line;
}
client.close();
