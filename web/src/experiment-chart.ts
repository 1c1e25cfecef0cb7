// The routing experiment's charts, one row per policy: latency (a bar to p50, a whisker on
// to p95; linear from zero so bars compare) and the split of runs between tiers (a stacked
// bar of shares). Colours are the tiers' own, as everywhere on the page.

import type { PolicyReport } from "./api.ts";
import { ms } from "./dom.ts";
import { chartRoot, el, niceStep } from "./svg.ts";

const WIDTH = 640;
const LEFT = 150;
const RIGHT = 96;
const ROW = 30;
const TOP = 10;
const AXIS = 34;
/** Tiers in the order segments are stacked; `none` is runs no tier took. */
const TIERS = ["isolate", "wasm", "none"] as const;

/** A policy's name, cut to fit the label column (the full name is in the row's title). */
function label(name: string): string {
  return name.length > 20 ? `${name.slice(0, 19)}…` : name;
}

/** The only tier a policy's runs went to, or `mixed`; colours the latency bar. */
function tierOf(report: PolicyReport): string {
  const used = Object.entries(report.tiers).filter(([, n]) => n > 0).map(([tier]) => tier);
  return used.length === 1 ? used[0] : "mixed";
}

function frame(rows: number, title: string, testId: string, axisLabel: string) {
  const height = TOP + rows * ROW + AXIS;
  const svg = chartRoot(WIDTH, height, title, testId);
  svg.append(
    el("text", { x: (LEFT + WIDTH - RIGHT) / 2, y: height - 4, class: "axis-label", "text-anchor": "middle" }, axisLabel),
  );
  return { svg, plotBottom: height - AXIS };
}

function grid(svg: SVGSVGElement, x: number, plotBottom: number, text: string): void {
  svg.append(
    el("line", { x1: x, x2: x, y1: TOP - 4, y2: plotBottom, class: "grid major" }),
    el("text", { x, y: plotBottom + 16, class: "tick", "text-anchor": "middle" }, text),
  );
}

function row(report: PolicyReport, y: number, summary: string): SVGElement {
  const g = el("g", { class: "policy-row", "data-policy": report.policy.name });
  g.append(
    el("title", {}, `${report.policy.name}: ${summary}`),
    el("text", { x: 8, y: y + ROW / 2 + 4, class: "policy-name" }, label(report.policy.name)),
  );
  return g;
}

export function renderLatencyChart(reports: PolicyReport[]): SVGSVGElement {
  const title = "Latency per policy: bar to p50, whisker to p95, from routing to outcome inside the agent";
  const axis = "latency per run · bar = p50 · whisker = p95";
  const { svg, plotBottom } = frame(reports.length, title, "experiment-latency-chart", axis);
  const top = Math.max(...reports.map((r) => r.latency_ms.p95), 0.1);
  const unit = niceStep(top);
  const hi = Math.ceil((top * 1.02) / unit) * unit;
  const x = (v: number) => LEFT + (v / hi) * (WIDTH - LEFT - RIGHT);
  for (let at = 0; at <= hi + unit / 2; at += unit) grid(svg, x(at), plotBottom, at === 0 ? "0" : ms(at));
  reports.forEach((report, i) => {
    const y = TOP + i * ROW;
    const mid = y + ROW / 2;
    const { p50, p95 } = report.latency_ms;
    const ran = report.runs - (report.tiers.none ?? 0);
    const g = row(report, y, ran ? `p50 ${ms(p50)}, p95 ${ms(p95)} over ${ran} runs` : "no run was routed");
    if (ran > 0) {
      g.append(
        el("rect", {
          x: LEFT,
          y: mid - 7,
          width: Math.max(1.5, x(p50) - LEFT),
          height: 14,
          rx: 2,
          class: `bar tier-${tierOf(report)}`,
        }),
        el("line", { x1: x(p50), x2: x(p95), y1: mid, y2: mid, class: "whisker" }),
        el("line", { x1: x(p95), x2: x(p95), y1: mid - 5, y2: mid + 5, class: "whisker" }),
        el("text", { x: x(p95) + 6, y: mid + 4, class: "value-label" }, `${ms(p50)} · ${ms(p95)}`),
      );
    } else {
      g.append(el("text", { x: LEFT + 6, y: mid + 4, class: "value-label" }, "no run was routed"));
    }
    svg.append(g);
  });
  return svg;
}

export function renderTierSplitChart(reports: PolicyReport[]): SVGSVGElement {
  const title = "Tier chosen per policy: share of runs on isolate, on wasm, and refused";
  const { svg, plotBottom } = frame(reports.length, title, "experiment-tier-chart", "share of runs by tier");
  const x = (share: number) => LEFT + share * (WIDTH - LEFT - RIGHT);
  for (const share of [0, 0.5, 1]) grid(svg, x(share), plotBottom, `${share * 100}%`);
  reports.forEach((report, i) => {
    const y = TOP + i * ROW;
    const parts = TIERS.map((tier) => [tier, report.tiers[tier] ?? 0] as const).filter(([, n]) => n > 0);
    const g = row(report, y, parts.map(([tier, n]) => `${tier} ${n} of ${report.runs}`).join(", "));
    let done = 0;
    for (const [tier, n] of parts) {
      const from = x(done / report.runs);
      const width = x((done + n) / report.runs) - from;
      const segment = el("rect", {
        x: from,
        y: y + ROW / 2 - 8,
        width,
        height: 16,
        class: `segment tier-${tier}`,
        "data-tier": tier,
      });
      segment.append(el("title", {}, `${tier}: ${n} of ${report.runs} runs`));
      g.append(segment);
      if (width > 60) {
        const share = `${tier} ${Math.round((n / report.runs) * 100)}%`;
        g.append(el("text", { x: from + 6, y: y + ROW / 2 + 4, class: "segment-label" }, share));
      }
      done += n;
    }
    svg.append(g);
  });
  return svg;
}
