// The fuel versus time scatter: one point per run of a limits experiment, fuel consumed
// across and wall time up, shaped and coloured by what stopped it. The fuel budget is a
// vertical line and the timeout a horizontal one; a limit far beyond the runs is named at
// the edge instead, so the points keep the room.

import type { LimitRun, LimitsReport, Status, StoppedBy } from "./api.ts";
import { count, fuelShort, ms } from "./dom.ts";
import { chartRoot, el, niceStep } from "./svg.ts";

const WIDTH = 640;
const HEIGHT = 300;
const LEFT = 70;
const RIGHT = 24;
const TOP = 30;
const BOTTOM = 44;
/** A limit further than this many times the runs' largest value is left off the axis. */
const LIMIT_IN_VIEW_UP_TO = 4;

export const STOPPED_BY: StoppedBy[] = ["fuel", "timeout", "neither"];

/** What ended a run, as the server counts it. */
export function stoppedBy(status: Status): StoppedBy {
  return status === "fuel_exhausted" ? "fuel" : status === "timeout" ? "timeout" : "neither";
}

/** An axis from zero: its top, its step, and whether the limit is drawn on it. */
function axis(largest: number, limit: number): { hi: number; unit: number; limitShown: boolean } {
  const limitShown = largest <= 0 || limit <= largest * LIMIT_IN_VIEW_UP_TO;
  const top = Math.max(limitShown ? limit : 0, largest, Number.MIN_VALUE) * 1.06;
  const unit = niceStep(top);
  return { hi: Math.ceil(top / unit) * unit, unit, limitShown };
}

/** The shape of a kind of stop: a circle for fuel, a square for timeout, a diamond for neither. */
function mark(by: StoppedBy, cx: number, cy: number, kind: string): SVGElement {
  const attrs = { class: `${kind} stop-${by}` };
  return by === "fuel"
    ? el("circle", { ...attrs, cx, cy, r: 4.5 })
    : by === "timeout"
    ? el("rect", { ...attrs, x: cx - 4, y: cy - 4, width: 8, height: 8 })
    : el("path", { ...attrs, d: `M${cx} ${cy - 5.5}L${cx + 5.5} ${cy}L${cx} ${cy + 5.5}L${cx - 5.5} ${cy}Z` });
}

function point(run: LimitRun, index: number, cx: number, cy: number): SVGElement {
  const by = stoppedBy(run.status);
  const shape = mark(by, cx, cy, "point");
  shape.setAttribute("data-stopped", by);
  const title = `run ${index + 1}: ${run.status}, ${count(run.fuel_consumed)} fuel in ${ms(run.duration_ms)}`;
  shape.append(el("title", {}, title));
  return shape;
}

function legend(svg: SVGSVGElement, report: LimitsReport): void {
  STOPPED_BY.forEach((by, i) => {
    const x = LEFT + i * 150;
    svg.append(
      mark(by, x + 5, 14, "legend-mark"),
      el("text", { x: x + 14, y: 18, class: "tick" }, `stopped by ${by} (${report.stopped_by[by] ?? 0})`),
    );
  });
}

export function renderLimitsChart(report: LimitsReport): SVGSVGElement {
  const counts = STOPPED_BY.filter((by) => report.stopped_by[by]).map((by) => `${report.stopped_by[by]} by ${by}`);
  const title = `Fuel consumed versus wall time for ${report.runs.length} runs (stopped ${counts.join(", ")}), ` +
    `with the fuel budget of ${count(report.fuel)} and the timeout of ${count(report.timeout_ms)} ms`;
  const svg = chartRoot(WIDTH, HEIGHT, title, "limits-chart");
  const bottom = HEIGHT - BOTTOM;
  const right = WIDTH - RIGHT;
  const fuelAxis = axis(Math.max(0, ...report.runs.map((r) => r.fuel_consumed)), report.fuel);
  const timeAxis = axis(Math.max(0, ...report.runs.map((r) => r.duration_ms)), report.timeout_ms);
  const x = (fuel: number) => LEFT + (fuel / fuelAxis.hi) * (right - LEFT);
  const y = (time: number) => bottom - (time / timeAxis.hi) * (bottom - TOP);

  for (let i = 0; i * fuelAxis.unit <= fuelAxis.hi; i++) {
    const at = x(i * fuelAxis.unit);
    svg.append(
      el("line", { x1: at, x2: at, y1: TOP, y2: bottom, class: i === 0 ? "grid major" : "grid" }),
      el("text", { x: at, y: bottom + 15, class: "tick", "text-anchor": "middle" }, fuelShort(i * fuelAxis.unit)),
    );
  }
  for (let i = 0; i * timeAxis.unit <= timeAxis.hi; i++) {
    const at = y(i * timeAxis.unit);
    svg.append(
      el("line", { x1: LEFT, x2: right, y1: at, y2: at, class: i === 0 ? "grid major" : "grid" }),
      el("text", { x: LEFT - 6, y: at + 4, class: "tick", "text-anchor": "end" }, i === 0 ? "0" : ms(i * timeAxis.unit)),
    );
  }
  svg.append(
    el(
      "text",
      { x: (LEFT + right) / 2, y: HEIGHT - 6, class: "axis-label", "text-anchor": "middle" },
      "fuel consumed per run",
    ),
    el("text", {
      x: 14,
      y: (TOP + bottom) / 2,
      class: "axis-label",
      "text-anchor": "middle",
      transform: `rotate(-90 14 ${(TOP + bottom) / 2})`,
    }, "wall time per run"),
  );

  const budget = `fuel budget ${fuelShort(report.fuel)}`;
  if (fuelAxis.limitShown) {
    const at = x(report.fuel);
    const nearRight = at > right - 120;
    svg.append(
      el("line", { x1: at, x2: at, y1: TOP, y2: bottom, class: "limit stop-fuel", "data-limit": "fuel" }),
      el(
        "text",
        { x: nearRight ? at - 5 : at + 5, y: TOP + 12, class: "limit-label", "text-anchor": nearRight ? "end" : "start" },
        budget,
      ),
    );
  } else {
    const note = `${budget}: far to the right →`;
    svg.append(el("text", { x: right, y: bottom - 6, class: "limit-label", "text-anchor": "end" }, note));
  }
  const timeout = `timeout ${count(report.timeout_ms)} ms`;
  if (timeAxis.limitShown) {
    const at = y(report.timeout_ms);
    svg.append(
      el("line", { x1: LEFT, x2: right, y1: at, y2: at, class: "limit stop-timeout", "data-limit": "timeout" }),
      el("text", { x: LEFT + 5, y: at - 5, class: "limit-label" }, timeout),
    );
  } else {
    svg.append(el("text", { x: LEFT + 5, y: TOP + 12, class: "limit-label" }, `↑ ${timeout}: far above`));
  }

  legend(svg, report);
  report.runs.forEach((run, i) => svg.append(point(run, i, x(run.fuel_consumed), y(run.duration_ms))));
  return svg;
}
