// The comparison chart: one group per tier, a lane for end-to-end time (what the caller
// waits) and one for the time inside the tier, each with every run as a dot, the min–p95
// range as a bar and the median as a tick. Log scale, since tiers differ by orders of
// magnitude.

import { ms } from "./dom.ts";
import { summarise } from "./stats.ts";
import { el } from "./svg.ts";

export interface Lane {
  label: string;
  values: number[];
  /** Runs to draw hollow (isolate runs whose worker was created for them). */
  cold?: boolean[];
}

export interface TierSeries {
  tier: string;
  lanes: Lane[];
}

const WIDTH = 640;
const LEFT = 140;
const RIGHT = 24;
const LANE = 34;
const GROUP_GAP = 18;
const TOP = 12;
const AXIS = 34;

/** Grid lines at 1, 2, 5 × powers of ten within [lo, hi]; labels on powers of ten only. */
function ticks(lo: number, hi: number): { at: number; label: string | null }[] {
  const out: { at: number; label: string | null }[] = [];
  for (let p = Math.floor(Math.log10(lo)); p <= Math.ceil(Math.log10(hi)); p++) {
    for (const m of [1, 2, 5]) {
      const at = m * 10 ** p;
      if (at >= lo && at <= hi) out.push({ at, label: m === 1 ? `${at >= 1 ? at.toFixed(0) : at.toPrecision(1)} ms` : null });
    }
  }
  return out;
}

/** The nearest 1, 2 or 5 × a power of ten at or beyond `v`, downwards or upwards. */
function niceBound(v: number, up: boolean): number {
  const p = 10 ** Math.floor(Math.log10(v));
  const steps = up ? [1, 2, 5, 10] : [10, 5, 2, 1];
  return p * steps.find((m) => (up ? m * p >= v : m * p <= v))!;
}

export function renderChart(series: TierSeries[]): SVGSVGElement {
  const all = series.flatMap((s) => s.lanes.flatMap((l) => l.values)).filter((v) => v > 0);
  const lo = niceBound(Math.min(...all, 1), false);
  const hi = niceBound(Math.max(...all, 1) * 1.05, true);
  const x = (v: number) =>
    LEFT + (Math.log10(Math.max(v, lo)) - Math.log10(lo)) /
          (Math.log10(hi) - Math.log10(lo)) * (WIDTH - LEFT - RIGHT);
  const lanes = series.reduce((n, s) => n + s.lanes.length, 0);
  const height = TOP + lanes * LANE + (series.length - 1) * GROUP_GAP + AXIS;
  const svg = el("svg", {
    viewBox: `0 0 ${WIDTH} ${height}`,
    class: "chart",
    role: "img",
    "aria-label": "Run times per tier, log scale",
    "data-testid": "compare-chart",
  }) as SVGSVGElement;

  const plotBottom = height - AXIS;
  for (const { at, label } of ticks(lo, hi)) {
    svg.append(el("line", { x1: x(at), x2: x(at), y1: TOP - 4, y2: plotBottom, class: label ? "grid major" : "grid" }));
    if (label) {
      svg.append(el("text", { x: x(at), y: plotBottom + 16, class: "tick", "text-anchor": "middle" }, label));
    }
  }
  svg.append(
    el(
      "text",
      { x: (LEFT + WIDTH - RIGHT) / 2, y: height - 4, class: "axis-label", "text-anchor": "middle" },
      "time per workload (log scale) · dot = one run · bar = min to p95 · tick = median",
    ),
  );

  let y = TOP;
  for (const s of series) {
    const group = el("g", { class: `tier-row tier-${s.tier}`, "data-tier": s.tier });
    group.append(
      el("text", { x: 8, y: y + LANE * s.lanes.length / 2 + 5, class: "tier-name" }, s.tier),
    );
    for (const lane of s.lanes) {
      const mid = y + LANE / 2;
      const sum = summarise(lane.values);
      group.append(el("text", { x: 70, y: mid + 4, class: "lane-label" }, lane.label));
      if (sum.n > 0) {
        group.append(
          el("rect", {
            x: x(sum.min),
            y: mid - 6,
            width: Math.max(2, x(sum.p95) - x(sum.min)),
            height: 12,
            rx: 6,
            class: "range",
          }),
        );
        lane.values.forEach((v, i) => {
          const jitter = ((i * 7919) % 11 - 5) * 0.9;
          group.append(
            el("circle", {
              cx: x(v),
              cy: mid + jitter,
              r: 2.6,
              class: lane.cold?.[i] ? "dot cold" : "dot",
            }),
          );
        });
        group.append(
          el("line", { x1: x(sum.median), x2: x(sum.median), y1: mid - 9, y2: mid + 9, class: "median" }),
          el("text", { x: x(sum.median), y: mid - 11, class: "median-label", "text-anchor": "middle" }, ms(sum.median)),
        );
      }
      y += LANE;
    }
    svg.append(group);
    y += GROUP_GAP;
  }
  return svg;
}
