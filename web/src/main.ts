// Wiring: who the page acts as, the form, the editor, and the Result / Compare (tiers,
// routing experiment, fuel versus time) / History tabs.

import "./style.css";
import { AccessPanel } from "./access.ts";
import { api, ApiError, type BackendInfo, type Tier, type WhoAmI, type WorkloadRecord } from "./api.ts";
import { compareTiers, comparisonError, renderComparison, requestFloor } from "./compare.ts";
import { alertText, byId, h, numberWithin } from "./dom.ts";
import { createEditor } from "./editor.ts";
import { EXAMPLES } from "./examples.ts";
import { ExperimentPanel } from "./experiment.ts";
import { WorkloadForm } from "./form.ts";
import { refreshHistory } from "./history.ts";
import { LimitsPanel } from "./limits.ts";
import { renderRequestError, renderResult } from "./results.ts";
import { allows, applyScopes } from "./scopes.ts";

/** A spinner appears only for answers slower than this. */
const SPINNER_AFTER_MS = 150;
/** Tier health is read again this often (hosts boot, crash and come back). */
const HEALTH_EVERY_MS = 5000;
/** The page's address for a workload's record: a link that opens it, as History does. */
const WORKLOAD_LINK = "#/workloads/";

type TabName = "result" | "compare" | "history";

const access = new AccessPanel({ accepted: keyAccepted, lost: () => applyScopes(null) });
const editor = createEditor(byId("editor"), () => void run());
const form = new WorkloadForm(editor, () => formChanged());
const experiment = new ExperimentPanel(() => form.request());
const limits = new LimitsPanel(() => form.request());
const resultPanel = byId("result");
const runButton = byId<HTMLButtonElement>("run");
const compareButton = byId<HTMLButtonElement>("compare-run");
let backends: BackendInfo[] = [];
let routeTimer: ReturnType<typeof setTimeout> | undefined;

function showTab(name: TabName): void {
  for (const tab of document.querySelectorAll<HTMLButtonElement>("[role=tab]")) {
    const selected = tab.dataset.tab === name;
    tab.setAttribute("aria-selected", String(selected));
    byId(`panel-${tab.dataset.tab}`).hidden = !selected;
  }
  if (name === "history" && allows("read")) void refreshHistory(byId("history"), (id) => void openWorkload(id));
}

function formChanged(): void {
  const checked = form.request();
  const problem = "problem" in checked ? checked.problem : "";
  byId("form-problem").textContent = problem;
  runButton.disabled = problem !== "";
  compareButton.disabled = problem !== "";
  clearTimeout(routeTimer);
  routeTimer = setTimeout(() => void previewRoute(), 120);
}

/** Shows where `auto` would send the workload, before it runs. */
async function previewRoute(): Promise<void> {
  const note = byId("route-preview");
  if (form.isolation() !== "auto" || !allows("run")) {
    note.textContent = "";
    form.setAutoTier(null);
    return;
  }
  const checked = form.request();
  const { timeout_ms, memory_mb, fuel, tag } = "request" in checked ? checked.request : {};
  const code_bytes = new TextEncoder().encode(editor.code()).length;
  try {
    const route = await api.route({
      language: form.language(),
      isolation: "auto",
      code_bytes,
      timeout_ms,
      memory_mb,
      fuel,
      tag,
    });
    form.setAutoTier(route.backend);
    note.textContent = `auto → ${route.backend}: ${route.reason}`;
  } catch (err) {
    form.setAutoTier(null);
    note.textContent = err instanceof ApiError ? err.message : String(err);
  }
}

async function run(): Promise<void> {
  // The editor's Ctrl+Enter comes here without the button.
  if (!allows("run")) return;
  const checked = form.request();
  if ("problem" in checked) {
    byId("form-problem").textContent = checked.problem;
    return;
  }
  showTab("result");
  runButton.disabled = true;
  const spinner = setTimeout(() => resultPanel.classList.add("running"), SPINNER_AFTER_MS);
  try {
    const started = performance.now();
    const record = await api.run(checked.request);
    renderResult(resultPanel, record, editor.reveal, performance.now() - started);
    linkTo(record.id);
  } catch (err) {
    const e = err instanceof ApiError ? err : new ApiError(0, "client_error", String(err));
    renderRequestError(resultPanel, e.code, e.message);
  } finally {
    clearTimeout(spinner);
    resultPanel.classList.remove("running");
    runButton.disabled = false;
  }
}

async function openWorkload(id: string): Promise<void> {
  let record: WorkloadRecord;
  try {
    record = await api.workload(id);
  } catch (err) {
    renderRequestError(resultPanel, "history", err instanceof ApiError ? err.message : String(err));
    showTab("result");
    return;
  }
  form.load({
    language: record.language,
    code: record.code,
    input: JSON.stringify(record.input, null, 2),
    isolation: record.isolation,
    timeout_ms: record.limits.timeout_ms,
    memory_mb: record.limits.memory_mb,
    fuel: record.limits.fuel ?? undefined,
    tag: record.tag ?? undefined,
  });
  renderResult(resultPanel, record, editor.reveal);
  linkTo(record.id);
  showTab("result");
}

/** Puts the shown workload's link in the address bar, without a new history entry. */
function linkTo(id: string): void {
  window.history.replaceState(null, "", WORKLOAD_LINK + encodeURIComponent(id));
}

/** Opens the workload the address names, if it names one. */
function openLinked(): void {
  if (!location.hash.startsWith(WORKLOAD_LINK) || !allows("read")) return;
  void openWorkload(decodeURIComponent(location.hash.slice(WORKLOAD_LINK.length)));
}

async function compare(): Promise<void> {
  const checked = form.request();
  if ("problem" in checked) return;
  const times = numberWithin("compare-times", 1, 200, 20);
  const pause = numberWithin("compare-pause", 0, 2000, 0);
  const tiers = backends
    .filter((b) => b.available && b.capabilities?.languages.includes(form.language()))
    .map((b) => ({ tier: b.kind as Tier, metersFuel: b.capabilities?.meters_fuel === true }));
  const skipped = backends
    .filter((b) => !b.available)
    .map((b) => `${b.kind} was left out: ${b.health.detail}`);
  const progress = byId("compare-progress");
  const target = byId("comparison");
  compareButton.disabled = true;
  try {
    const floor = await requestFloor();
    const runs = await compareTiers(checked.request, tiers, times, pause, (done, total, tier) => {
      progress.textContent = `${done} / ${total} runs (${tier})`;
    });
    progress.textContent = `${runs.length} runs`;
    renderComparison(target, runs, pause, skipped, floor);
  } catch (err) {
    progress.textContent = "";
    target.replaceChildren(alertText(`Comparison stopped: ${comparisonError(err)}`));
  } finally {
    compareButton.disabled = false;
  }
}

function renderTierHealth(info: BackendInfo[], policy: string): void {
  byId("health").replaceChildren(
    ...info.map((b) =>
      h(
        "span",
        { class: b.available ? "chip up" : "chip down", title: b.health.detail, "data-testid": `health-${b.kind}` },
        h("span", { class: "dot" }),
        b.kind,
      )
    ),
    h("span", { class: "chip policy", title: "the routing policy auto follows" }, `policy ${policy}`),
  );
}

async function start(): Promise<void> {
  const examples = byId<HTMLSelectElement>("examples");
  examples.append(...EXAMPLES.map((ex, i) => h("option", { value: String(i) }, ex.name)));
  examples.addEventListener("change", () => {
    const example = EXAMPLES[Number(examples.value)];
    if (example) form.load(example);
  });
  runButton.addEventListener("click", () => void run());
  compareButton.addEventListener("click", () => void compare());
  for (const tab of document.querySelectorAll<HTMLButtonElement>("[role=tab]")) {
    tab.addEventListener("click", () => showTab(tab.dataset.tab as TabName));
  }
  form.load(EXAMPLES[0]);
  try {
    await access.start();
  } catch (err) {
    renderRequestError(resultPanel, "whoami", err instanceof ApiError ? err.message : String(err));
  }
  window.addEventListener("hashchange", openLinked);
  setInterval(() => {
    if (access.signedIn) void loadBackends().catch(() => {});
  }, HEALTH_EVERY_MS);
  document.body.dataset.ready = "true";
}

/** A key was accepted, or none is needed: enables what it may do, then loads what it may read. */
function keyAccepted(who: WhoAmI): Promise<void> {
  applyScopes(who.scopes);
  // A browser opens this link without the key.
  byId("metrics-link").hidden = who.auth === "required";
  const shown = document.querySelector<HTMLElement>("[role=tab][aria-selected=true]")?.dataset.tab;
  if (shown === "history" && !allows("read")) showTab("result");
  formChanged();
  return load();
}

/** What the page shows from the agent: tiers, policies, and the workload the address names. */
async function load(): Promise<void> {
  try {
    await loadBackends();
  } catch (err) {
    renderRequestError(resultPanel, "backends", err instanceof ApiError ? err.message : String(err));
  }
  await experiment.load();
  openLinked();
}

/** Reads the tiers; redraws the selector only when availability changed. */
async function loadBackends(): Promise<void> {
  const answer = await api.backends();
  const changed = JSON.stringify(answer.backends) !== JSON.stringify(backends);
  renderTierHealth(answer.backends, answer.policy);
  limits.setWasm(answer.backends.find((b) => b.kind === "wasm"));
  if (changed) {
    backends = answer.backends;
    form.setBackends(backends);
  }
}

void start();
