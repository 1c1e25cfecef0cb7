// The workload form around the editor: tier, language, JSON input and limits, checked
// against the server's ranges before anything is sent.

import type { BackendInfo, Capabilities, Isolation, Language, WorkloadRequest } from "./api.ts";
import { byId, count, h } from "./dom.ts";
import type { Editor } from "./editor.ts";
import type { Example } from "./examples.ts";

const LIMITS = ["timeout_ms", "memory_mb", "fuel"] as const;
/** What the server accepts as a tag: 1–64 letters, digits, spaces, '.', '_' or '-'. */
const TAG = /^[A-Za-z0-9._ -]{1,64}$/;

export class WorkloadForm {
  private backends: BackendInfo[] = [];
  /** The tier `auto` would pick now, from `/v1/route`. */
  private autoTier: string | null = null;

  constructor(private readonly editor: Editor, private readonly onChange: () => void) {
    for (const radio of this.radios("language")) {
      radio.addEventListener("change", () => {
        this.editor.setLanguage(this.language());
        this.onChange();
      });
    }
    byId("input").addEventListener("input", () => this.onChange());
    for (const name of LIMITS) byId(name).addEventListener("input", () => this.onChange());
    byId("tag").addEventListener("input", () => this.onChange());
  }

  /** Fills the tier selector from `/v1/backends`; a tier that cannot run is disabled. */
  setBackends(backends: BackendInfo[]): void {
    this.backends = backends;
    const tiers = byId("tiers");
    const current = this.isolation();
    const options: { value: Isolation; label: string; enabled: boolean; note: string }[] = [
      {
        value: "auto",
        label: "auto",
        enabled: backends.some((b) => b.available),
        note: "the routing policy decides",
      },
      ...backends.map((b) => ({
        value: b.kind,
        label: b.kind,
        enabled: b.available,
        note: b.available ? b.health.detail : `unavailable: ${b.health.detail}`,
      })),
    ];
    tiers.replaceChildren(
      ...options.map((o) => {
        const radio = h("input", {
          type: "radio",
          name: "tier",
          value: o.value,
          id: `tier-${o.value}`,
          disabled: !o.enabled,
          checked: o.value === current && o.enabled,
        });
        radio.addEventListener("change", () => this.tierChanged());
        return h(
          "label",
          { class: o.enabled ? "tier-option" : "tier-option disabled", title: o.note, for: `tier-${o.value}` },
          radio,
          h("span", { class: "tier-label" }, o.label),
          o.enabled ? null : h("span", { class: "tier-note", "data-testid": `tier-note-${o.value}` }, o.note),
        );
      }),
    );
    if (!this.radios("tier").some((r) => r.checked)) {
      const first = this.radios("tier").find((r) => !r.disabled);
      if (first) first.checked = true;
    }
    this.tierChanged();
  }

  isolation(): Isolation {
    return (this.radios("tier").find((r) => r.checked)?.value ?? "auto") as Isolation;
  }

  language(): Language {
    return (this.radios("language").find((r) => r.checked)?.value ?? "javascript") as Language;
  }

  setAutoTier(tier: string | null): void {
    this.autoTier = tier;
    this.showLimits();
  }

  /** The capabilities the limits are checked against: the chosen tier, or auto's pick. */
  capabilities(): Capabilities | null {
    const kind = this.isolation() === "auto" ? this.autoTier : this.isolation();
    return this.backends.find((b) => b.kind === kind)?.capabilities ?? null;
  }

  fuelPossible(): boolean {
    return this.isolation() === "auto"
      ? this.backends.some((b) => b.available && b.capabilities?.meters_fuel)
      : this.capabilities()?.meters_fuel === true;
  }

  load(example: Partial<Example>): void {
    if (example.language) this.check("language", example.language);
    this.editor.setLanguage(this.language());
    if (example.code !== undefined) this.editor.setCode(example.code);
    if (example.input !== undefined) (byId("input") as HTMLTextAreaElement).value = example.input;
    if (example.isolation) {
      const radio = this.radios("tier").find((r) => r.value === example.isolation);
      if (radio && !radio.disabled) radio.checked = true;
    }
    for (const name of LIMITS) {
      (byId(name) as HTMLInputElement).value = example[name] === undefined ? "" : String(example[name]);
    }
    byId<HTMLInputElement>("tag").value = example.tag ?? "";
    this.tierChanged();
  }

  /** The request to send, or the first reason it cannot be sent. */
  request(): { request: WorkloadRequest } | { problem: string } {
    const raw = (byId("input") as HTMLTextAreaElement).value.trim();
    let input: unknown = null;
    if (raw !== "") {
      try {
        input = JSON.parse(raw);
      } catch (err) {
        return { problem: `Input is not valid JSON: ${(err as Error).message}` };
      }
    }
    const request: WorkloadRequest = {
      code: this.editor.code(),
      language: this.language(),
      input,
      isolation: this.isolation(),
    };
    const caps = this.capabilities();
    for (const name of LIMITS) {
      const field = byId(name) as HTMLInputElement;
      const text = field.value.trim();
      // A disabled field (fuel on a tier without it) is shown but not sent.
      if (text === "" || field.disabled) continue;
      const value = Number(text);
      if (!Number.isInteger(value) || value < 0) {
        return { problem: `${name} must be a whole number, not "${text}"` };
      }
      if (name === "fuel") {
        const max = caps?.fuel_max;
        if (value < 1 || (max !== undefined && value > max)) {
          return { problem: `fuel must be between 1 and ${count(max ?? 0)}` };
        }
      } else if (caps) {
        const range = caps[name];
        if (value < range.min || value > range.max) {
          return { problem: `${name} must be between ${count(range.min)} and ${count(range.max)}` };
        }
      }
      request[name] = value;
    }
    const tag = byId<HTMLInputElement>("tag").value;
    if (tag !== "") {
      if (!TAG.test(tag)) return { problem: `tag must be 1 to 64 letters, digits, spaces, '.', '_' or '-', not "${tag}"` };
      request.tag = tag;
    }
    return { request };
  }

  private tierChanged(): void {
    this.showLimits();
    this.onChange();
  }

  private showLimits(): void {
    const caps = this.capabilities();
    for (const name of ["timeout_ms", "memory_mb"] as const) {
      const field = byId(name) as HTMLInputElement;
      const range = caps?.[name];
      field.placeholder = range ? `default ${count(range.default)}` : "";
      field.min = range ? String(range.min) : "";
      field.max = range ? String(range.max) : "";
      byId(`${name}-hint`).textContent = range ? `${count(range.min)}–${count(range.max)}` : "";
    }
    const fuel = byId("fuel") as HTMLInputElement;
    const possible = this.fuelPossible();
    fuel.disabled = !possible;
    fuel.placeholder = possible ? "unmetered" : "not metered";
    byId("fuel-hint").textContent = !possible
      ? "this tier has no fuel"
      : this.isolation() === "auto"
      ? "setting it routes to wasm"
      : `max ${count(caps?.fuel_max ?? 0)}`;
  }

  private radios(name: string): HTMLInputElement[] {
    return [...document.querySelectorAll<HTMLInputElement>(`input[name="${name}"]`)];
  }

  private check(name: string, value: string): void {
    const radio = this.radios(name).find((r) => r.value === value);
    if (radio) radio.checked = true;
  }
}
