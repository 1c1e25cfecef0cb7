// The result panel: status, output, error with its position, logs, timing, routing and the
// tier's own metadata for one workload.

import type { WorkloadRecord } from "./api.ts";
import { bytes, count, h, ms, statusBadge } from "./dom.ts";

/**
 * `endToEndMs` is how long the page waited for the answer, when it has just run the workload
 * (a record opened from the history has none).
 */
export function renderResult(
  panel: HTMLElement,
  record: WorkloadRecord,
  reveal: (line: number, column: number) => void,
  endToEndMs?: number,
): void {
  const error = record.error;
  const position = error?.line !== undefined
    ? h(
      "button",
      { class: "link", type: "button", "data-testid": "error-position" },
      `line ${error.line}, column ${error.column ?? 1}`,
    )
    : null;
  position?.addEventListener("click", () => reveal(error!.line!, error!.column ?? 1));

  const parts: (Node | null)[] = [
    h(
      "div",
      { class: "result-head" },
      statusBadge(record.status),
      h("span", { class: `tier tier-${record.backend}`, "data-testid": "result-tier" }, record.backend),
      h("span", { class: "duration", "data-testid": "result-duration" }, ms(record.duration_ms)),
      record.recorded ? null : h("span", { class: "warn" }, "not saved to history"),
    ),
    h(
      "p",
      { class: "route", "data-testid": "route-reason" },
      record.isolation === "auto" ? "auto → " : "",
      record.route_reason,
    ),
    record.status === "succeeded"
      ? section("Output", h("pre", { class: "output", "data-testid": "output" }, pretty(record.output)))
      : null,
    error
      ? section(
        "Error",
        h(
          "div",
          { class: "error", "data-testid": "error" },
          h("strong", {}, error.name),
          ": ",
          error.message,
          position ? h("span", { class: "at" }, " at ", position) : null,
        ),
        error.stack ? h("pre", { class: "stack" }, error.stack) : null,
      )
      : null,
    section(
      `Logs${record.logs_truncated ? " (truncated)" : ""}`,
      record.logs.length
        ? h(
          "ol",
          { class: "logs", "data-testid": "logs" },
          ...record.logs.map((line) =>
            h("li", { class: `log-${line.level}` }, h("span", { class: "level" }, line.level), line.message)
          ),
        )
        : h("p", { class: "muted" }, "No console output."),
    ),
    section("Run", metadataTable(record, endToEndMs)),
  ];
  panel.replaceChildren(...parts.filter((part): part is Node => part !== null));
}

function section(title: string, ...content: (Node | null)[]): HTMLElement {
  return h("section", { class: "result-section" }, h("h3", {}, title), ...content);
}

function pretty(output: unknown): string {
  return output === undefined ? "null" : JSON.stringify(output, null, 2);
}

function metadataTable(record: WorkloadRecord, endToEndMs?: number): HTMLElement {
  const rows: [string, string | Node][] = [["Duration in tier", ms(record.duration_ms)]];
  // What the user waited: the tier, the agent, HTTP and this browser's own cost of a request.
  if (endToEndMs !== undefined) rows.push(["End to end, from this page", ms(endToEndMs)]);
  if (typeof record.cpu_ms === "number") rows.push(["CPU time", ms(record.cpu_ms)]);
  rows.push(["Limits", limitsText(record)]);
  const meta = record.metadata;
  if (meta?.tier === "isolate") {
    rows.push(
      [
        "Worker creation",
        meta.worker_create_ms > 0
          ? `waited ${ms(meta.worker_create_ms)} (a worker was made for this workload)`
          : `${ms(meta.worker_ready_ms)}, before it came (warm worker, waited ${
            ms(meta.warm_age_ms)
          })`,
      ],
      ["Memory peak", bytes(meta.memory_peak_bytes)],
      ["V8 heap", `${bytes(meta.heap_used_bytes)} used of ${bytes(meta.heap_total_bytes)}`],
      ["External memory", bytes(meta.external_bytes)],
      ["Host", `#${meta.host_id} (pid ${meta.host_pid})`],
    );
  } else if (meta?.tier === "wasm") {
    rows.push(
      ["Instantiate", ms(meta.instantiate_ms)],
      // Without a fuel budget the tier runs its build that counts no fuel.
      meta.metered === false
        ? ["Fuel consumed", "not metered (no fuel budget)"]
        : ["Fuel consumed", count(meta.fuel_consumed)],
      ["Memory peak", bytes(meta.memory_peak_bytes)],
    );
  }
  if (record.tag) rows.push(["Tag", record.tag]);
  if (record.tenant) rows.push(["Tenant", record.key_id ? `${record.tenant} (key ${record.key_id})` : record.tenant]);
  // The id links to the record as the API serves it.
  const href = `/v1/workloads/${encodeURIComponent(record.id)}`;
  rows.push(["Workload id", h("a", { href, target: "_blank", "data-testid": "record-link" }, record.id)]);
  return h(
    "table",
    { class: "meta", "data-testid": "metadata" },
    ...rows.map(([name, value]) => h("tr", {}, h("th", {}, name), h("td", {}, value))),
  );
}

function limitsText(record: WorkloadRecord): string {
  const { timeout_ms, memory_mb, fuel } = record.limits;
  const parts = [`timeout ${count(timeout_ms)} ms`, `memory ${memory_mb} MB`];
  if (fuel) parts.push(`fuel ${count(fuel)}`);
  return parts.join(" · ");
}

/** A failed request (not a failed workload): the API's message, readable. */
export function renderRequestError(panel: HTMLElement, code: string, message: string): void {
  panel.replaceChildren(
    h(
      "div",
      { class: "request-error", role: "alert", "data-testid": "request-error" },
      h("strong", {}, "The request was refused"),
      h("p", {}, message),
      h("code", {}, code),
    ),
  );
}
