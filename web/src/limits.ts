// The fuel versus time panel: the editor's workload run N times on the wasm tier under both
// a fuel budget and a timeout by `POST /v1/experiments/limits`, plotted run by run; and the
// tier's calibration (`POST /v1/calibrate`), which converts one limit into the other.

import { api, type BackendInfo, type Calibration, type LimitsExperiment, type WorkloadRequest, errorText } from "./api.ts";
import { conversionText, renderCalibration } from "./calibration.ts";
import { alertText, byId, setBusy, wholeNumber } from "./dom.ts";
import { renderLimitsReport } from "./limits-report.ts";

type EditorRequest = () => { request: WorkloadRequest } | { problem: string };

const MAX_RUNS = 50;

export class LimitsPanel {
  private readonly runButton = byId<HTMLButtonElement>("limits-run");
  private readonly calibrateButton = byId<HTMLButtonElement>("calibrate");
  private readonly output = byId("limits");
  private readonly status = byId("limits-status");
  private readonly calibrationView = byId("calibration");
  private readonly conversion = byId("limits-conversion");
  private calibration: Calibration | null = null;
  private wasm: BackendInfo | null = null;

  constructor(private readonly editorRequest: EditorRequest) {
    this.runButton.addEventListener("click", () => void this.run());
    this.calibrateButton.addEventListener("click", () => void this.calibrate());
    for (const id of ["limits-fuel", "limits-timeout"]) {
      byId(id).addEventListener("input", () => this.showConversion());
    }
    this.showConversion();
  }

  /** The wasm tier from `/v1/backends`: its limits, and its calibration once measured. */
  setWasm(wasm: BackendInfo | undefined): void {
    this.wasm = wasm ?? null;
    const calibration = wasm?.calibration;
    if (calibration && calibration.measured_at_ms !== this.calibration?.measured_at_ms) {
      this.setCalibration(calibration);
    }
  }

  private setCalibration(calibration: Calibration): void {
    this.calibration = calibration;
    renderCalibration(this.calibrationView, calibration);
    this.showConversion();
  }

  private showConversion(): void {
    const limits = this.limits();
    this.conversion.textContent = typeof limits === "string"
      ? limits
      : this.calibration
      ? conversionText(this.calibration, limits.fuel, limits.timeout_ms)
      : "Calibrate to see what the timeout is worth in fuel, and the fuel budget in time, on this machine.";
  }

  /** The fuel budget and timeout, within the wasm tier's ranges, or why they are not. */
  private limits(): { fuel: number; timeout_ms: number } | string {
    const caps = this.wasm?.capabilities;
    const fuel = wholeNumber("limits-fuel", "The fuel budget", 1, caps?.fuel_max ?? Number.MAX_SAFE_INTEGER);
    const timeout = wholeNumber(
      "limits-timeout",
      "The timeout",
      caps?.timeout_ms.min ?? 1,
      caps?.timeout_ms.max ?? Number.MAX_SAFE_INTEGER,
    );
    if (typeof fuel === "string") return fuel;
    if (typeof timeout === "string") return timeout;
    return { fuel, timeout_ms: timeout };
  }

  private experiment(): LimitsExperiment | string {
    const limits = this.limits();
    const runs = wholeNumber("limits-runs", "Runs", 1, MAX_RUNS);
    if (typeof limits === "string") return limits;
    if (typeof runs === "string") return runs;
    const checked = this.editorRequest();
    if ("problem" in checked) return `The workload in the editor cannot be sent: ${checked.problem}`;
    // The server runs it on wasm under these limits, whatever the form's tier and limits say.
    const { code, language, input, memory_mb, tag } = checked.request;
    return { workload: { code, language, input, memory_mb, tag }, ...limits, runs };
  }

  private async run(): Promise<void> {
    const experiment = this.experiment();
    if (typeof experiment === "string") {
      this.fail(experiment);
      return;
    }
    this.busy(true, `Running ${experiment.runs} run${experiment.runs === 1 ? "" : "s"}…`);
    const started = performance.now();
    try {
      const report = await api.limitsExperiment(experiment);
      renderLimitsReport(this.output, report, performance.now() - started);
      this.status.textContent = "";
    } catch (err) {
      this.fail(`The experiment was refused: ${errorText(err)}`);
    } finally {
      this.busy(false);
    }
  }

  private async calibrate(): Promise<void> {
    this.calibrateButton.disabled = true;
    this.calibrationView.setAttribute("aria-busy", "true");
    this.status.textContent = "Calibrating…";
    try {
      this.setCalibration(await api.calibrate());
      this.status.textContent = "";
    } catch (err) {
      this.status.textContent = "";
      // The last calibration, if any, stays below the error.
      this.calibrationView.querySelector("[data-testid=calibration-error]")?.remove();
      const text = `Calibration failed: ${errorText(err)}`;
      this.calibrationView.prepend(alertText(text, "calibration-error"));
    } finally {
      this.calibrateButton.disabled = false;
      this.calibrationView.removeAttribute("aria-busy");
    }
  }

  private busy(on: boolean, text = ""): void {
    this.runButton.disabled = on;
    setBusy(this.output, on);
    if (on) this.status.textContent = text;
  }

  private fail(text: string): void {
    this.status.textContent = "";
    this.output.replaceChildren(alertText(text, "limits-error"));
  }
}
