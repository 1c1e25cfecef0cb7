// Compare: run the current workload N times on every available tier and show the timings
// side by side — the learner's view of cold start, run time and overhead per tier.

import { api, ApiError, type Tier, type WorkloadRecord, type WorkloadRequest } from "./api.ts";
import { renderChart, type TierSeries } from "./chart.ts";
import { count, h, ms } from "./dom.ts";
import { summarise } from "./stats.ts";

export interface Run {
  tier: Tier;
  record: WorkloadRecord;
  /** Request to answer, measured in the browser. */
  endToEndMs: number;
}

/**
 * This browser's own cost of one request: the median of a few empty ones (`GET /healthz`,
 * which the server answers in microseconds). End-to-end times include it; the figures in
 * BENCHMARKS.md, taken with HTTP clients outside a browser, do not.
 */
export async function requestFloor(): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const started = performance.now();
    await (await fetch("/healthz")).text();
    times.push(performance.now() - started);
  }
  return summarise(times).median;
}

/**
 * Runs `request` `times` times on each tier, one at a time, `pauseMs` apart (0: back to
 * back); `progress` after every run.
 */
export async function compareTiers(
  request: WorkloadRequest,
  tiers: { tier: Tier; metersFuel: boolean }[],
  times: number,
  pauseMs: number,
  progress: (done: number, total: number, tier: Tier) => void,
): Promise<Run[]> {
  const runs: Run[] = [];
  const total = tiers.length * times;
  for (const { tier, metersFuel } of tiers) {
    const body: WorkloadRequest = { ...request, isolation: tier };
    if (!metersFuel) delete body.fuel;
    for (let i = 0; i < times; i++) {
      if (pauseMs > 0) await new Promise((done) => setTimeout(done, pauseMs));
      const started = performance.now();
      const record = await api.run(body);
      runs.push({ tier, record, endToEndMs: performance.now() - started });
      progress(runs.length, total, tier);
    }
  }
  return runs;
}

export function renderComparison(
  target: HTMLElement,
  runs: Run[],
  pauseMs: number,
  skipped: string[],
  floorMs: number,
): void {
  const tiers = [...new Set(runs.map((r) => r.tier))];
  const series: TierSeries[] = tiers.map((tier) => {
    const mine = runs.filter((r) => r.tier === tier);
    const cold = mine.map((r) => isCold(r.record));
    return {
      tier,
      lanes: [
        { label: "end to end", values: mine.map((r) => r.endToEndMs), cold },
        { label: "in tier", values: mine.map((r) => r.record.duration_ms), cold },
      ],
    };
  });
  target.replaceChildren(
    renderChart(series),
    h(
      "p",
      { class: "legend muted" },
      h("span", { class: "swatch" }),
      " warm run  ",
      h("span", { class: "swatch cold" }),
      " cold run (isolate: a worker was created for it; every wasm run is a fresh instance, its instantiate time is in the table)",
    ),
    table(tiers.map((tier) => runs.filter((r) => r.tier === tier))),
    h(
      "p",
      { class: "muted", "data-testid": "compare-pace" },
      pauseMs > 0
        ? `Runs ${ms(pauseMs)} apart: an isolate host had time to make a warm worker for the next one, so this is the latency of a tier with capacity to spare.`
        : "Runs back to back: an isolate run may wait for its host to finish making the worker the previous run used up, so this is what a busy tier sustains. A pause of 150 ms shows the warm path.",
    ),
    h(
      "p",
      { class: "muted", "data-testid": "request-floor" },
      `End to end includes this browser's own cost of a request: an empty one (GET /healthz) took ${ms(floorMs)} here. `,
      "BENCHMARKS.md measures with HTTP clients outside a browser, which cost far less; compare its figures with “in tier” or with end to end minus this.",
    ),
    ...skipped.map((note) => h("p", { class: "muted" }, note)),
  );
}

function isCold(record: WorkloadRecord): boolean {
  return record.metadata?.tier === "isolate" && record.metadata.worker_create_ms > 0;
}

function startup(runs: Run[]): string {
  const first = runs[0]?.record.metadata;
  if (first?.tier === "wasm") {
    const values = runs.flatMap((r) => r.record.metadata?.tier === "wasm" ? [r.record.metadata.instantiate_ms] : []);
    return `instantiate ${ms(summarise(values).median)} (every run)`;
  }
  const cold = runs.filter((r) => isCold(r.record));
  if (cold.length === 0) return "warm worker every run";
  const create = cold.flatMap((r) => r.record.metadata?.tier === "isolate" ? [r.record.metadata.worker_create_ms] : []);
  return `${cold.length} cold, worker creation ${ms(summarise(create).median)}`;
}

function fuel(runs: Run[]): string {
  const values = runs.flatMap((r) =>
    r.record.metadata?.tier === "wasm" && r.record.metadata.metered !== false ? [r.record.metadata.fuel_consumed] : []
  );
  if (values.length === 0) return "not metered";
  const sum = summarise(values);
  return sum.min === sum.max ? `${count(sum.min)} (identical every run)` : `${count(sum.min)}–${count(sum.max)}`;
}

function statuses(runs: Run[]): string {
  const byStatus = new Map<string, number>();
  for (const r of runs) byStatus.set(r.record.status, (byStatus.get(r.record.status) ?? 0) + 1);
  return [...byStatus].map(([status, n]) => `${n} ${status}`).join(", ");
}

function table(groups: Run[][]): HTMLTableElement {
  const head = ["Tier", "Runs", "In tier min / median / p95", "End to end median / p95", "Start-up", "Fuel"];
  return h(
    "table",
    { class: "compare-table", "data-testid": "compare-table" },
    h("thead", {}, h("tr", {}, ...head.map((name) => h("th", {}, name)))),
    h(
      "tbody",
      {},
      ...groups.map((runs) => {
        const inTier = summarise(runs.map((r) => r.record.duration_ms));
        const e2e = summarise(runs.map((r) => r.endToEndMs));
        return h(
          "tr",
          { "data-tier": runs[0].tier },
          h("td", {}, h("span", { class: `tier tier-${runs[0].tier}` }, runs[0].tier)),
          h("td", {}, statuses(runs)),
          h("td", { class: "num" }, `${ms(inTier.min)} / ${ms(inTier.median)} / ${ms(inTier.p95)}`),
          h("td", { class: "num" }, `${ms(e2e.median)} / ${ms(e2e.p95)}`),
          h("td", {}, startup(runs)),
          h("td", { class: "num" }, fuel(runs)),
        );
      }),
    ),
  );
}

export function comparisonError(err: unknown): string {
  return err instanceof ApiError ? `${err.message} (${err.code})` : String(err);
}
