// The routing experiment's tables: per policy the runs, tiers chosen, latency, CPU time and
// statuses; per workload the tier each policy chose, with the route reason as its title.

import type { PolicyReport, RoutingReport } from "./api.ts";
import { h, ms } from "./dom.ts";
import { renderLatencyChart, renderTierSplitChart } from "./experiment-chart.ts";

/** The per-workload table starts open when it is this short. */
const OPEN_CHOICES_UP_TO = 12;
const CPU_TITLE = "CPU time of the agent and its isolate hosts during this policy's runs";

export function renderRoutingReport(target: HTMLElement, report: RoutingReport, elapsedMs: number): void {
  const runs = report.policies.reduce((n, p) => n + p.runs, 0);
  target.replaceChildren(
    h(
      "p",
      { class: "muted", "data-testid": "experiment-summary" },
      `${runs} runs: ${report.workloads.length} workload${report.workloads.length === 1 ? "" : "s"} × ` +
        `${report.policies.length} polic${report.policies.length === 1 ? "y" : "ies"} × ${report.repeat} ` +
        `repeat${report.repeat === 1 ? "" : "s"}, in ${ms(elapsedMs)}`,
    ),
    renderLatencyChart(report.policies),
    renderTierSplitChart(report.policies),
    summaryTable(report.policies),
    choicesTable(report),
  );
}

function counts(byKey: Record<string, number>): string {
  return Object.entries(byKey).filter(([, n]) => n > 0).map(([key, n]) => `${n} ${key}`).join(", ");
}

function tierChip(tier: string | null, title?: string): HTMLSpanElement {
  const name = tier ?? "none";
  return h("span", { class: `tier tier-${name}`, title }, name);
}

function summaryTable(policies: PolicyReport[]): HTMLTableElement {
  const head = ["Policy", "Runs", "Tiers chosen", "Latency p50 / p95", "CPU", "Statuses"];
  return h(
    "table",
    { class: "compare-table", "data-testid": "experiment-table" },
    h("thead", {}, h("tr", {}, ...head.map((name) => h("th", {}, name)))),
    h(
      "tbody",
      {},
      ...policies.map((p) =>
        h(
          "tr",
          { "data-policy": p.policy.name },
          h("td", { title: p.policy.description }, p.policy.name),
          h("td", { class: "num" }, String(p.runs)),
          h(
            "td",
            { "data-testid": "tiers" },
            ...Object.entries(p.tiers).filter(([, n]) => n > 0).map(([tier, n]) =>
              h("span", { class: "tier-count" }, tierChip(tier), ` ${n}`)
            ),
          ),
          h("td", { class: "num" }, `${ms(p.latency_ms.p50)} / ${ms(p.latency_ms.p95)}`),
          h("td", { class: "num", title: CPU_TITLE }, ms(p.cpu_ms)),
          h("td", {}, counts(p.statuses)),
        )
      ),
    ),
  );
}

/** A workload's name: the editor's, or a history id shortened to its random tail. */
function workloadName(name: string): HTMLElement {
  return name.length > 24 ? h("code", { title: name }, `…${name.slice(-8)}`) : h("code", {}, name);
}

function choicesTable(report: RoutingReport): HTMLElement {
  const table = h(
    "table",
    { class: "compare-table", "data-testid": "experiment-choices" },
    h("thead", {}, h("tr", {}, h("th", {}, "Workload"), ...report.policies.map((p) => h("th", {}, p.policy.name)))),
    h(
      "tbody",
      {},
      ...report.workloads.map((name, i) =>
        h(
          "tr",
          { "data-workload": name },
          h("td", {}, workloadName(name)),
          ...report.policies.map((p) => {
            const choice = p.choices[i];
            const notOk = counts(Object.fromEntries(Object.entries(choice.statuses).filter(([s]) => s !== "succeeded")));
            return h(
              "td",
              { "data-policy": p.policy.name, "data-tier": choice.backend ?? "none" },
              tierChip(choice.backend, choice.reason),
              choice.backend ? ` ${ms(choice.latency_ms.p50)}` : "",
              notOk ? h("span", { class: "warn" }, ` ${notOk}`) : null,
            );
          }),
        )
      ),
    ),
  );
  return h(
    "details",
    { class: "choices", open: report.workloads.length <= OPEN_CHOICES_UP_TO },
    h("summary", {}, "Tier chosen per workload (hover a tier for the route reason)"),
    table,
  );
}
