// The routing experiment panel: the chosen policies replayed over the editor's workload
// and/or recent history by `POST /v1/experiments/routing`, reported as charts and tables.

import { api, errorText, type RoutingExperiment, type WorkloadRequest } from "./api.ts";
import { alertText, byId, setBusy, wholeNumber } from "./dom.ts";
import { renderRoutingReport } from "./experiment-report.ts";
import { type PolicyPick, PolicyPicker } from "./policy.ts";

type EditorRequest = () => { request: WorkloadRequest } | { problem: string };

export class ExperimentPanel {
  private readonly picker = new PolicyPicker();
  private readonly button = byId<HTMLButtonElement>("experiment-run");
  private readonly output = byId("experiment");
  private readonly status = byId("experiment-status");

  constructor(private readonly editorRequest: EditorRequest) {
    this.button.addEventListener("click", () => void this.run());
  }

  /** Reads the built-in policies; a failure is shown in the panel, not thrown. */
  async load(): Promise<void> {
    try {
      const info = await api.policy();
      this.picker.setBuiltIn(info.built_in, info.installed.policy.name);
    } catch (err) {
      this.fail(`Policies are unavailable: ${errorText(err)}`);
    }
  }

  private async run(): Promise<void> {
    const pick = this.picker.pick();
    if (!pick) return;
    this.button.disabled = true;
    setBusy(this.output, true);
    this.status.textContent = "Running…";
    const started = performance.now();
    try {
      const experiment = this.experiment(pick);
      if (!experiment) return;
      const report = await api.routingExperiment(experiment);
      renderRoutingReport(this.output, report, performance.now() - started);
      this.status.textContent = "";
    } catch (err) {
      this.refused(err, pick);
    } finally {
      this.button.disabled = false;
      setBusy(this.output, false);
    }
  }

  /** The request body, or null with the reason shown. */
  private experiment(pick: PolicyPick): RoutingExperiment | null {
    const useEditor = byId<HTMLInputElement>("experiment-editor").checked;
    const useHistory = byId<HTMLInputElement>("experiment-history").checked;
    const repeat = wholeNumber("experiment-repeat", "Repeat", 1, 20);
    const limit = useHistory ? wholeNumber("experiment-history-n", "The number of history workloads", 1, 200) : 0;
    if (typeof repeat === "string" || typeof limit === "string") {
      this.fail(typeof repeat === "string" ? repeat : limit as string);
      return null;
    }
    if (!useEditor && !useHistory) {
      this.fail("Choose the workloads: the code in the editor, recent history, or both.");
      return null;
    }
    const experiment: RoutingExperiment = { policies: pick.policies, repeat };
    if (useEditor) {
      const checked = this.editorRequest();
      if ("problem" in checked) {
        this.fail(`The workload in the editor cannot be sent: ${checked.problem}`);
        return null;
      }
      experiment.workloads = [{ name: "editor", workload: checked.request }];
    }
    // The server reads the history itself and replays it after the editor's workload.
    if (useHistory) experiment.history = { limit };
    return experiment;
  }

  /** A refusal about the custom policy goes next to it; anything else in the panel. */
  private refused(err: unknown, pick: PolicyPick): void {
    this.status.textContent = "";
    const text = errorText(err);
    if (pick.customIndex !== null && text.includes(`policies[${pick.customIndex}]`)) {
      this.picker.showProblem(`The server refused the custom policy: ${text}`);
      return;
    }
    this.fail(`The experiment was refused: ${text}`);
  }

  private fail(text: string): void {
    this.status.textContent = "";
    this.output.replaceChildren(alertText(text, "experiment-error"));
  }
}
