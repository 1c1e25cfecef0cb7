// The history list: recent workloads from `GET /v1/workloads`; a click loads one back.

import { api, ApiError, type WorkloadSummary } from "./api.ts";
import { ago, h, ms, statusBadge } from "./dom.ts";

export async function refreshHistory(
  list: HTMLElement,
  open: (id: string) => void,
): Promise<void> {
  let items: WorkloadSummary[];
  try {
    items = await api.history();
  } catch (err) {
    const message = err instanceof ApiError ? err.message : String(err);
    list.replaceChildren(h("p", { class: "request-error" }, `History is unavailable: ${message}`));
    return;
  }
  if (items.length === 0) {
    list.replaceChildren(h("p", { class: "muted" }, "Nothing has run yet. Press Run."));
    return;
  }
  list.replaceChildren(
    ...items.map((item) => {
      const row = h(
        "button",
        { type: "button", class: "history-item", "data-id": item.id, "data-testid": "history-item" },
        statusBadge(item.status),
        h("span", { class: `tier tier-${item.backend}` }, item.backend),
        h("span", { class: "lang" }, item.language === "typescript" ? "TS" : "JS"),
        h("code", { class: "preview" }, item.code_preview || "(empty)"),
        h("span", { class: "duration" }, ms(item.duration_ms)),
        h("span", { class: "when", title: new Date(item.created_at_ms).toISOString() }, ago(item.created_at_ms)),
      );
      row.addEventListener("click", () => open(item.id));
      return row;
    }),
  );
}
