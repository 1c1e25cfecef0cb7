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
 * On the wasm tier every line also gives `in_tier_p50_ms` (the records' `duration_ms`), json and
 * fib25 run a second time with a fuel budget (`vulcan-wasm-http-fuel`: the metered module), and
 * trivial runs paced 20 ms apart next to the agent's own `GET /healthz` paced the same way
 * (`vulcan-wasm-http-paced20`, `vulcan-healthz-paced20`; issue 19).
 * `VULCAN_TIERS` (optional): `wasm,isolate` by default.
 */
import { readdirSync, readFileSync } from "node:fs";
import { RawHttpClient } from "./raw-http.mjs";
import {
  emit,
  percentile,
  runSystem,
  SCALE,
  summary,
  WORKLOAD_NAMES,
  WORKLOADS,
} from "./common.mjs";

const BASE = process.env.VULCAN_URL;
if (!BASE) throw new Error("VULCAN_URL is not set");
const PID = process.env.VULCAN_PID ? Number(process.env.VULCAN_PID) : null;
const TIERS = (process.env.VULCAN_TIERS ?? "wasm,isolate").split(",");
const PACE_MS = 150;
const PACED_RUNS = 30;
/** The wasm tier's paced comparison with `/healthz` (issue 19): gap and runs. */
const WASM_PACE_MS = 20;
const WASM_PACED_RUNS = 150;
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
  const body = (spec, fuel = null) =>
    `{"code":${JSON.stringify(spec.code)},"input":${spec.input},"isolation":"${tier}",` +
    `"language":"${spec.language}","timeout_ms":${timeoutMs}` +
    (fuel == null ? "}" : `,"fuel":${fuel}}`);
  /** `duration_ms` of every answer since the cell began: the time inside the tier. */
  let inTier = [];
  const runOne = async (payload) => {
    const answer = await request("POST", url.pathname, payload);
    if (answer.status !== "succeeded") {
      throw new Error(`${system}: ${JSON.stringify(answer).slice(0, 400)}`);
    }
    inTier.push(answer.duration_ms);
    return JSON.stringify(answer.output);
  };
  const inTierExtra = () => {
    const sorted = inTier.slice(3).sort((a, b) => a - b); // less the 3 warm-up runs
    inTier = [];
    return { in_tier_p50_ms: Math.round(percentile(sorted, 0.5) * 1000) / 1000 };
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
    inTier = [];
    if (!PID) return { runOne: () => runOne(payload), extra: inTierExtra };
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
      extra: () => ({ hosts_rss_mb: round1(peak.hosts), ...inTierExtra() }),
      close: () => clearInterval(timer),
    };
  });
  if (tier === "isolate" && WORKLOAD_NAMES.includes("trivial")) emit(await paced(runOne, body));
  if (tier === "wasm") {
    // The same cells with a fuel budget, which selects the metered module.
    const fuel = info.capabilities.fuel_max;
    await runSystem(`${system}-fuel`, (workload) => {
      if (workload === "trivial" || workload === "ts_trivial") return "trivial: see vulcan-wasm-http";
      const payload = body(WORKLOADS[workload], fuel);
      inTier = [];
      return { runOne: () => runOne(payload), extra: inTierExtra };
    });
    if (WORKLOAD_NAMES.includes("trivial")) {
      const payload = body(WORKLOADS.trivial);
      const healthz = async () => {
        const { status } = await client.request("GET", "/healthz");
        if (status !== 200) throw new Error(`GET /healthz: ${status}`);
      };
      // Alternated, so both see the same machine.
      for (let round = 0; round < 2; round++) {
        emit(await pacedEvery("vulcan-healthz-paced20", WASM_PACE_MS, WASM_PACED_RUNS, healthz));
        emit(
          await pacedEvery(
            "vulcan-wasm-http-paced20",
            WASM_PACE_MS,
            WASM_PACED_RUNS,
            () => runOne(payload),
          ),
        );
      }
    }
  }
}

/**
 * The isolate tier's warm path: trivial at concurrency 1 with `PACE_MS` between requests, so
 * each finds the host's warm worker ready (back to back, each waits for its replacement to be
 * made). Latency only: throughput is set by the pacing.
 */
function paced(runOne, body) {
  const payload = body(WORKLOADS.trivial);
  return pacedEvery("vulcan-isolate-http-paced", PACE_MS, PACED_RUNS, () => runOne(payload));
}

/** `call()` at concurrency 1, `paceMs` after the previous one ended; a latency line. */
async function pacedEvery(system, paceMs, runs, call) {
  await call();
  const latencies = [];
  const t0 = performance.now();
  for (let i = 0; i < Math.max(10, Math.round(runs * SCALE)); i++) {
    await new Promise((resolve) => setTimeout(resolve, paceMs));
    const begun = performance.now();
    await call();
    latencies.push(performance.now() - begun);
  }
  const line = summary({
    system,
    workload: "trivial",
    concurrency: 1,
    latencies,
    elapsedMs: performance.now() - t0,
    extra: { pace_ms: paceMs },
  });
  line.throughput_per_s = null;
  console.error(`${system} trivial c=1: p50 ${line.p50_ms} ms (${line.runs} runs)`);
  return line;
}
client.close();
