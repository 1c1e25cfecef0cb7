// A tiny DOM builder and formatters. Text from workloads is only ever set as text, never
// parsed as HTML.

type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child) el.append(child);
  }
  return el;
}

/** Marks a panel as being updated (`aria-busy`, and the `busy` class that dims it), or not. */
export function setBusy(panel: HTMLElement, on: boolean): void {
  panel.classList.toggle("busy", on);
  if (on) panel.setAttribute("aria-busy", "true");
  else panel.removeAttribute("aria-busy");
}

/** Why a request failed, as an alert for a panel. */
export function alertText(text: string, testId?: string): HTMLParagraphElement {
  return h("p", { class: "request-error", role: "alert", "data-testid": testId }, text);
}

export function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el as T;
}

/** A field's whole number in [min, max], or why it is not one. */
export function wholeNumber(id: string, what: string, min: number, max: number): number | string {
  const text = byId<HTMLInputElement>(id).value.trim();
  const value = Number(text);
  return Number.isInteger(value) && value >= min && value <= max
    ? value
    : `${what} must be a whole number from ${min} to ${max}, not "${text}"`;
}

/** A field's number brought into [min, max]; `fallback` when it is empty, zero or not a number. */
export function numberWithin(id: string, min: number, max: number, fallback: number): number {
  const value = Number(byId<HTMLInputElement>(id).value) || fallback;
  return Math.min(Math.max(value, min), max);
}

/** Milliseconds with a precision that suits their size. */
export function ms(value: number): string {
  if (value < 1) return `${value.toFixed(2)} ms`;
  if (value < 100) return `${value.toFixed(1)} ms`;
  return `${Math.round(value).toLocaleString("en")} ms`;
}

export function bytes(value: number): string {
  if (value < 1024) return `${value} B`;
  if (value < 1024 * 1024) return `${(value / 1024).toFixed(1)} KiB`;
  return `${(value / (1024 * 1024)).toFixed(1)} MiB`;
}

export function count(value: number): string {
  return value.toLocaleString("en");
}

/** Fuel with a metric suffix: 250M, 1.5k. */
export function fuelShort(value: number): string {
  const units: [number, string][] = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];
  const [size, suffix] = units.find(([size]) => value >= size) ?? [1, ""];
  return `${Number((value / size).toPrecision(3))}${suffix}`;
}

export function ago(epochMs: number, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - epochMs) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  return new Date(epochMs).toLocaleDateString("en");
}

export function statusBadge(status: string): HTMLSpanElement {
  return h("span", { class: `badge status-${status}`, "data-status": status }, status);
}
