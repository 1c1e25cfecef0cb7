/**
 * Measures the host through its socket, as the agent uses it:
 *
 * - latency of a trivial workload, 200 sequential requests, paced so the warm worker is ready
 *   (`warm`) and back to back (`back-to-back`, where each request waits for the replacement);
 * - worker creation, from requests that need a worker of their own (`memory_mb` ≠ default);
 * - RSS growth over those 200 workloads (from `GET /health`);
 * - throughput with two clients on a `--max-concurrent 2` host.
 *
 * Prints one line per figure. Run with `deno task bench`.
 */
import { type RunningHost, startHost } from "../test/host.ts";

const TRIVIAL = "export default (input) => input + 1";
const REQUESTS = 200;
/** Pause between paced requests: longer than a worker takes to be created and start. */
const PACE_MS = 150;

async function trivial(host: RunningHost, fields: Record<string, unknown> = {}) {
  const started = performance.now();
  const result = await host.execute(TRIVIAL, { input: 1, ...fields });
  if (result.output !== 2) throw new Error(`unexpected answer ${JSON.stringify(result)}`);
  return { ms: performance.now() - started, result };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

function summary(label: string, values: number[]): string {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return `${label}: p50 ${percentile(values, 0.5).toFixed(1)} ms, ` +
    `p99 ${percentile(values, 0.99).toFixed(1)} ms, mean ${
      mean.toFixed(1)
    } ms (n=${values.length})`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function sequential(host: RunningHost, paceMs: number) {
  const latencies: number[] = [];
  const durations: number[] = [];
  let cold = 0;
  for (let i = 0; i < REQUESTS; i++) {
    if (paceMs) await sleep(paceMs);
    const { ms, result } = await trivial(host);
    latencies.push(ms);
    durations.push(result.duration_ms);
    if (result.metadata.worker_create_ms > 0) cold++;
  }
  return { latencies, durations, cold };
}

const version = new TextDecoder().decode(
  (await new Deno.Command(Deno.execPath(), { args: ["--version"] }).output()).stdout,
).split("\n")[0];
console.log(`${version}, ${navigator.hardwareConcurrency} CPUs, load average ${loadAverage()}`);

const host = await startHost();
try {
  await trivial(host); // the first workload compiles what every later one reuses
  const rssBefore = (await host.health()).rss_bytes;
  const warm = await sequential(host, PACE_MS);
  const rssAfter = (await host.health()).rss_bytes;
  console.log(summary("warm, through the socket", warm.latencies));
  console.log(summary("warm, duration_ms (in the host)", warm.durations));
  console.log(`warm: ${warm.cold} of ${REQUESTS} requests found no warm worker`);
  console.log(
    `RSS over ${REQUESTS} workloads: ${mib(rssBefore)} → ${mib(rssAfter)} ` +
      `(+${((rssAfter - rssBefore) / REQUESTS / 1024).toFixed(0)} KiB per workload)`,
  );

  const backToBack = await sequential(host, 0);
  console.log(summary("back-to-back, through the socket", backToBack.latencies));
  console.log(`back-to-back: ${backToBack.cold} of ${REQUESTS} requests found no warm worker`);

  const creates: number[] = [];
  for (let i = 0; i < 30; i++) {
    await sleep(50);
    const { result } = await trivial(host, { memory_mb: 65 });
    creates.push(result.metadata.worker_create_ms);
  }
  console.log(summary("worker creation (new Worker(), host thread blocked)", creates));
  console.log(
    `RSS after ${(await host.health()).served} workloads: ${mib((await host.health()).rss_bytes)}`,
  );
} finally {
  await host.stop();
}

const pair = await startHost({ maxConcurrent: 2 });
try {
  await trivial(pair);
  const started = performance.now();
  let done = 0;
  const client = async () => {
    while (done < REQUESTS) {
      done++;
      await trivial(pair);
    }
  };
  await Promise.all([client(), client()]);
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `throughput, 2 clients on --max-concurrent 2: ${(done / seconds).toFixed(1)} workloads/s ` +
      `(${done} in ${seconds.toFixed(1)} s)`,
  );
} finally {
  await pair.stop();
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(0)} MiB`;
}

function loadAverage(): string {
  try {
    return Deno.loadavg().map((load) => load.toFixed(2)).join(" ");
  } catch {
    return "unknown";
  }
}
