// The limits experiment's report: a line of totals, the fuel versus time scatter, and tables
// of what stopped the runs and how much fuel and time varied.

import type { LimitsReport, Stability } from "./api.ts";
import { count, h, ms } from "./dom.ts";
import { renderLimitsChart, STOPPED_BY, stoppedBy } from "./limits-chart.ts";

export function renderLimitsReport(target: HTMLElement, report: LimitsReport, elapsedMs: number): void {
  const parts = [`${report.runs.length} run${report.runs.length === 1 ? "" : "s"} on the wasm tier in ${ms(elapsedMs)}`];
  if (report.fuel_budget_ms != null && report.timeout_fuel != null) {
    parts.push(
      `at the calibrated rate the fuel budget lasts about ${ms(report.fuel_budget_ms)} ` +
        `and the timeout is worth about ${count(report.timeout_fuel)} fuel`,
    );
  }
  target.replaceChildren(
    h("p", { class: "muted", "data-testid": "limits-summary" }, `${parts.join("; ")}.`),
    renderLimitsChart(report),
    h("div", { class: "limits-tables" }, stoppedTable(report), stabilityTable(report)),
  );
}

function stoppedTable(report: LimitsReport): HTMLTableElement {
  return h(
    "table",
    { class: "compare-table", "data-testid": "limits-stopped" },
    h("thead", {}, h("tr", {}, h("th", {}, "Stopped by"), h("th", {}, "Runs"), h("th", {}, ""))),
    h(
      "tbody",
      {},
      ...STOPPED_BY.map((by) =>
        h(
          "tr",
          { "data-stopped": by },
          h("th", {}, h("span", { class: `stop-chip stop-${by}` }), by),
          h("td", { class: "num" }, String(report.stopped_by[by] ?? 0)),
          h("td", { class: "muted" }, by === "neither" ? endedBy(report) : ""),
        )
      ),
    ),
  );
}

/** How the runs no limit stopped ended: "2 succeeded, 1 error". */
function endedBy(report: LimitsReport): string {
  const statuses = new Map<string, number>();
  for (const run of report.runs) {
    if (stoppedBy(run.status) === "neither") statuses.set(run.status, (statuses.get(run.status) ?? 0) + 1);
  }
  return [...statuses].map(([status, n]) => `${n} ${status}`).join(", ");
}

function stabilityTable(report: LimitsReport): HTMLTableElement {
  const row = (measure: string, name: string, s: Stability, show: (v: number) => string) =>
    h(
      "tr",
      { "data-measure": measure },
      h("th", {}, name),
      h("td", { class: "num" }, show(s.min)),
      h("td", { class: "num" }, show(s.median)),
      h("td", { class: "num" }, show(s.max)),
      h("td", { class: "num spread" }, percent(s.spread_pct)),
    );
  return h(
    "table",
    { class: "compare-table", "data-testid": "limits-stability" },
    h("thead", {}, h("tr", {}, ...["", "Min", "Median", "Max", "Spread"].map((t) => h("th", {}, t)))),
    h(
      "tbody",
      {},
      row("fuel", "Fuel consumed", report.fuel_consumed, count),
      row("time", "Wall time", report.duration_ms, ms),
    ),
  );
}

/** (max − min) / median as a percentage, with the digits a tiny spread needs. */
function percent(value: number): string {
  if (value === 0) return "0%";
  return value < 1 ? `${Number(value.toPrecision(2))}%` : `${value.toFixed(value < 10 ? 1 : 0)}%`;
}
