/**
 * Measures the host alone, through its socket, as the agent uses it (a run, then `prepare` for
 * the next worker):
 *
 * - a trivial workload, 200 sequential runs paced 150 ms apart (the warm path): latency of the
 *   run through the socket, and `duration_ms` inside the host;
 * - the same back to back, each cycle a run and its `prepare`: cycle time, worker creation
 *   (`worker_create_ms`), and the host's CPU per workload (from `/proc`);
 * - the host's resident memory over those workloads;
 * - throughput with two hosts and a client each (what the agent's default pool does on 2 CPUs).
 *
 * Prints one line per figure. Run with `deno task bench`.
 */
import { type RunningHost, startHost } from "../test/host.ts";

const TRIVIAL = "export default (input) => input + 1";
const REQUESTS = 200;
/** Pause between paced requests: longer than a worker takes to be made. */
const PACE_MS = 150;
const TICKS_PER_SECOND = 100;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

function summary(label: string, values: number[]): string {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return `${label}: p50 ${percentile(values, 0.5).toFixed(2)} ms, ` +
    `p99 ${percentile(values, 0.99).toFixed(2)} ms, mean ${mean.toFixed(2)} ms ` +
    `(n=${values.length})`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const job = new TextEncoder().encode(JSON.stringify({ code: TRIVIAL, input: 1 }));
const RUN = {
  type: "run",
  timeout_ms: 2000,
  max_output_bytes: 1 << 20,
  max_log_bytes: 65536,
  max_log_lines: 1000,
  module_name: "workload.js",
};

/** One run (not its prepare): its latency through the socket and its answer. */
async function run(host: RunningHost) {
  const started = performance.now();
  const answer = await host.request(RUN, job);
  const ms = performance.now() - started;
  if (new TextDecoder().decode(answer.payload) !== "2") {
    throw new Error(`unexpected answer ${JSON.stringify(answer.head)}`);
  }
  return { ms, head: answer.head as { duration_ms: number } };
}

/** CPU time (user + system) of process `pid` so far, in ms. */
function cpuMs(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 1000 / TICKS_PER_SECOND;
}

function rssMib(pid: number): string {
  const pages = Number(Deno.readTextFileSync(`/proc/${pid}/statm`).split(" ")[1]);
  return `${(pages * 4096 / 1048576).toFixed(0)} MiB`;
}

const version = new TextDecoder().decode(
  (await new Deno.Command(Deno.execPath(), { args: ["--version"] }).output()).stdout,
).split("\n")[0];
console.log(`${version}, ${navigator.hardwareConcurrency} CPUs, load average ${loadAverage()}`);

const host = await startHost();
try {
  await run(host);
  await host.prepare();
  const rssBefore = rssMib(host.pid);
  const paced: number[] = [];
  const inside: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    await sleep(PACE_MS);
    const { ms, head } = await run(host);
    paced.push(ms);
    inside.push(head.duration_ms);
    await host.prepare();
  }
  console.log(summary("paced run, through the socket", paced));
  console.log(summary("paced run, duration_ms (in the host)", inside));

  const cycles: number[] = [];
  const creates: number[] = [];
  const cpuBefore = cpuMs(host.pid);
  for (let i = 0; i < REQUESTS; i++) {
    const started = performance.now();
    await run(host);
    const ready = await host.prepare();
    cycles.push(performance.now() - started);
    creates.push(ready.worker_create_ms);
  }
  const cpuPerWorkload = (cpuMs(host.pid) - cpuBefore) / REQUESTS;
  console.log(summary("back to back, run + next worker", cycles));
  console.log(summary("worker creation (to ready, warm-up included)", creates));
  console.log(`host CPU per workload, back to back: ${cpuPerWorkload.toFixed(1)} ms`);
  console.log(`RSS over ${2 * REQUESTS} workloads: ${rssBefore} → ${rssMib(host.pid)}`);
} finally {
  await host.stop();
}

const hosts = [await startHost(), await startHost()];
try {
  const started = performance.now();
  let done = 0;
  const client = async (host: RunningHost) => {
    while (done < REQUESTS) {
      done++;
      await run(host);
      await host.prepare();
    }
  };
  await Promise.all(hosts.map(client));
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `throughput, 2 hosts with a client each: ${(done / seconds).toFixed(1)} workloads/s ` +
      `(${done} in ${seconds.toFixed(1)} s)`,
  );
} finally {
  for (const host of hosts) await host.stop();
}

function loadAverage(): string {
  try {
    return Deno.loadavg().map((load) => load.toFixed(2)).join(" ");
  } catch {
    return "unknown";
  }
}
