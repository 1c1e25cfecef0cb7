/**
 * What every program of the side-by-side benchmark (issue 6) shares: the four workloads, the
 * closed-loop measurement, and the one JSON line each (system, workload, concurrency) cell
 * prints. Runs unchanged under Node and Deno.
 *
 * A cell keeps `concurrency` workloads in flight: each client starts its next run as soon as
 * its previous one ends, until the cell's time budget or run cap is reached (whichever comes
 * first; at least max(10, concurrency) runs). Latency is measured per run from submission to
 * the checked result, so at concurrency > 1 it includes any queueing inside the system.
 * Throughput is runs completed / wall time of the cell. A few warm-up runs precede each cell.
 *
 * Knobs (environment, read by every program, Rust's included):
 * - `PEERS_WORKLOADS`   comma list, default `trivial,json,fib25,ts_trivial`
 * - `PEERS_CONCURRENCY` comma list, default `1,2,8,32`
 * - `PEERS_SCALE`       multiplies every time budget and run cap, default 1
 */

export const TRIVIAL = "export default (input) => input.a + input.b;";
export const TRIVIAL_TS =
  "interface In { a: number; b: number }\nexport default (input: In): number => input.a + input.b;";
export const FIB =
  "const fib = (n) => n < 2 ? n : fib(n - 1) + fib(n - 2);\nexport default () => fib(25);";
export const JSON_TRANSFORM = `export default (input) => {
  const items = input.items
    .filter((item) => item.active)
    .map((item) => ({
      id: item.id,
      label: item.name.toUpperCase(),
      total: Math.round(item.price * item.qty * 100) / 100,
      tags: item.tags.join(","),
    }));
  return { count: items.length, total: items.reduce((sum, item) => sum + item.total, 0), items };
};`;

/** ~50 KB of JSON: 500 items of ~100 bytes. Deterministic, so every system gets the same. */
function jsonInput() {
  const items = [];
  for (let i = 0; i < 500; i++) {
    items.push({
      id: i,
      name: `item-${i}-${"x".repeat(i % 17)}`,
      price: (i % 97) * 1.25,
      qty: (i % 7) + 1,
      tags: ["alpha", "beta", "gamma"].slice(0, (i % 3) + 1),
      active: i % 4 !== 0,
    });
  }
  return { items };
}

const JSON_INPUT_TEXT = JSON.stringify(jsonInput());
const JSON_EXPECTED_COUNT = 375;

/**
 * The workloads. `input` is JSON text: every system parses it inside its sandbox and
 * `JSON.stringify`s the result there, as Vulcan's tiers do. `check(outputJson)` is true for
 * the right answer.
 */
export const WORKLOADS = {
  trivial: {
    language: "javascript",
    code: TRIVIAL,
    input: '{"a":1,"b":2}',
    check: (out) => out === "3",
  },
  json: {
    language: "javascript",
    code: JSON_TRANSFORM,
    input: JSON_INPUT_TEXT,
    check: (out) => {
      const value = JSON.parse(out);
      return value.count === JSON_EXPECTED_COUNT && value.items.length === JSON_EXPECTED_COUNT;
    },
  },
  fib25: { language: "javascript", code: FIB, input: "null", check: (out) => out === "75025" },
  ts_trivial: {
    language: "typescript",
    code: TRIVIAL_TS,
    input: '{"a":1,"b":2}',
    check: (out) => out === "3",
  },
};

/** Time budget and run cap of a cell, before `PEERS_SCALE`. fib25 costs ~20–40 ms a run. */
const LATENCY_BUDGET_MS = 2500;
const THROUGHPUT_BUDGET_MS = 1500;
const LATENCY_MAX_RUNS = 200;
const THROUGHPUT_MAX_RUNS = 3000;

function env(name) {
  if (typeof Deno !== "undefined") return Deno.env.get(name);
  return process.env[name];
}

function list(name, fallback) {
  const value = env(name);
  return value ? value.split(",").map((item) => item.trim()).filter(Boolean) : fallback;
}

export const SCALE = Number(env("PEERS_SCALE") ?? 1) || 1;
export const CONCURRENCIES = list("PEERS_CONCURRENCY", ["1", "2", "8", "32"]).map(Number);
export const WORKLOAD_NAMES = list("PEERS_WORKLOADS", Object.keys(WORKLOADS)).filter((name) => {
  if (!(name in WORKLOADS)) throw new Error(`unknown workload ${name}`);
  return true;
});

/** This process's resident set, in MiB. */
export function rssMb() {
  const bytes = typeof Deno !== "undefined" ? Deno.memoryUsage().rss : process.memoryUsage().rss;
  return bytes / (1 << 20);
}

/** Nearest-rank percentile of sorted `values`. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

const round = (value, digits) => Number.isFinite(value) ? Number(value.toFixed(digits)) : null;

/**
 * Measures one cell: `runOne()` resolves with the output JSON text of one workload run;
 * `sample()`, if given, is called after every run and its largest value is the cell's
 * `rss_mb`. Returns the JSON line (an object) to print.
 */
export async function measure({ system, workload, concurrency, runOne, sample, warmupRuns = 3 }) {
  const spec = WORKLOADS[workload];
  const checked = async () => {
    const out = await runOne();
    if (!spec.check(out)) {
      throw new Error(`${system} ${workload}: wrong output ${String(out).slice(0, 200)}`);
    }
  };
  for (let i = 0; i < warmupRuns; i++) await checked();

  const latency = concurrency === 1;
  const budgetMs = (latency ? LATENCY_BUDGET_MS : THROUGHPUT_BUDGET_MS) * SCALE;
  const maxRuns = Math.round((latency ? LATENCY_MAX_RUNS : THROUGHPUT_MAX_RUNS) * SCALE);
  const minRuns = Math.max(10, concurrency);
  const latencies = [];
  let started = 0;
  let peak = 0;
  const t0 = performance.now();
  const more = () => started < minRuns || (started < maxRuns && performance.now() - t0 < budgetMs);
  const client = async () => {
    while (more()) {
      started++;
      const begun = performance.now();
      await checked();
      latencies.push(performance.now() - begun);
      if (sample) peak = Math.max(peak, sample());
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  const elapsedMs = performance.now() - t0;
  return summary({
    system,
    workload,
    concurrency,
    latencies,
    elapsedMs,
    rss: sample ? peak : null,
  });
}

/** The JSON line of a cell from its latencies (ms) and wall time. */
export function summary({ system, workload, concurrency, latencies, elapsedMs, rss, extra = {} }) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
  return {
    system,
    workload,
    concurrency,
    runs: sorted.length,
    p50_ms: round(percentile(sorted, 0.5), 3),
    p99_ms: round(percentile(sorted, 0.99), 3),
    mean_ms: round(mean, 3),
    throughput_per_s: round(sorted.length / (elapsedMs / 1000), 1),
    rss_mb: rss == null ? null : round(rss, 1),
    ...extra,
  };
}

/** Prints one result line on stdout (progress and diagnostics go to stderr). */
export function emit(line) {
  console.log(JSON.stringify(line));
}

/** A line saying a cell cannot be measured on this system, and why. */
export function notApplicable(system, workload, why) {
  return { system, workload, concurrency: null, runs: 0, na: why };
}

/**
 * Runs every configured (workload, concurrency) cell of one system. `runner(workload,
 * concurrency)` returns `{ runOne, sample?, rssOf?, extra?, close? }` (`extra()`: more fields
 * for the cell's line), or a string saying why the workload cannot run there (an `na` line).
 */
export async function runSystem(system, runner, { warmupRuns } = {}) {
  for (const workload of WORKLOAD_NAMES) {
    for (const concurrency of CONCURRENCIES) {
      const setup = await runner(workload, concurrency);
      if (typeof setup === "string") {
        emit(notApplicable(system, workload, setup));
        break;
      }
      try {
        const line = await measure({ system, workload, concurrency, warmupRuns, ...setup });
        if (setup.rssOf) line.rss_of = setup.rssOf;
        Object.assign(line, setup.extra?.());
        emit(line);
        console.error(
          `${system} ${workload} c=${concurrency}: p50 ${line.p50_ms} ms, ` +
            `${line.throughput_per_s}/s (${line.runs} runs)`,
        );
      } finally {
        await setup.close?.();
      }
    }
  }
}

/**
 * The workloads as a JSON array for programs in other languages (the native rquickjs bench),
 * each with the output it must give, computed here by V8 (TypeScript: its JavaScript twin's).
 */
export async function workloadsForFile() {
  const entries = [];
  for (const [name, spec] of Object.entries(WORKLOADS)) {
    const code = spec.language === "typescript" ? TRIVIAL : spec.code;
    const { default: main } = await import(`data:text/javascript,${encodeURIComponent(code)}`);
    const expected = JSON.parse(JSON.stringify(await main(JSON.parse(spec.input))) ?? "null");
    if (!spec.check(JSON.stringify(expected))) throw new Error(`${name}: check fails on V8`);
    entries.push({ name, language: spec.language, code: spec.code, input: spec.input, expected });
  }
  return entries;
}
