// The wasm tier's calibration as the page shows it: the overall and per-workload rates of
// fuel per millisecond, and what a timeout is worth in fuel and a fuel budget in time.

import type { Calibration } from "./api.ts";
import { count, fuelShort, h, ms } from "./dom.ts";

const HEAD = ["Reference workload", "Fuel per run", "Run time", "Fuel / ms"];

export function renderCalibration(target: HTMLElement, calibration: Calibration): void {
  const at = new Date(calibration.measured_at_ms).toLocaleTimeString("en");
  const { fuel_per_ms: rate, min_fuel_per_ms: min, max_fuel_per_ms: max } = calibration;
  target.dataset.fuelPerMs = String(rate);
  target.replaceChildren(
    h(
      "p",
      { "data-testid": "calibration-rate" },
      h("strong", {}, `${fuelShort(rate)} fuel/ms`),
      ` on this machine (${fuelShort(min)}–${fuelShort(max)} by kind of code), measured at ${at} over ` +
        `${calibration.workloads.length} reference workloads × ${calibration.runs_per_workload} runs`,
    ),
    h(
      "table",
      { class: "compare-table", "data-testid": "calibration-table" },
      h("thead", {}, h("tr", {}, ...HEAD.map((name) => h("th", {}, name)))),
      h(
        "tbody",
        {},
        ...calibration.workloads.map((w) =>
          h(
            "tr",
            { "data-workload": w.name },
            h("td", {}, w.name),
            h("td", { class: "num" }, count(w.fuel)),
            h("td", { class: "num" }, ms(w.run_ms)),
            h("td", { class: "num" }, fuelShort(w.fuel_per_ms)),
          )
        ),
      ),
    ),
  );
}

/** The timeout in fuel and the fuel budget in time, at the overall rate and its range. */
export function conversionText(calibration: Calibration, fuel: number, timeoutMs: number): string {
  const { fuel_per_ms: rate, min_fuel_per_ms: min, max_fuel_per_ms: max } = calibration;
  const budgetMs = fuel / rate;
  const first = budgetMs < timeoutMs ? "the fuel budget runs out first" : "the timeout comes first";
  return `At ${fuelShort(rate)} fuel/ms, your ${count(timeoutMs)} ms timeout is worth about ` +
    `${fuelShort(timeoutMs * rate)} fuel (${fuelShort(timeoutMs * min)}–${fuelShort(timeoutMs * max)} ` +
    `by kind of code), ` +
    `and the ${fuelShort(fuel)} fuel budget lasts about ${ms(budgetMs)} (${ms(fuel / max)}–${ms(fuel / min)}): ` +
    `for code that runs on, ${first}.`;
}
