// The policies an experiment tries: a checkbox per built-in policy (from `GET /v1/policy`)
// and one custom policy written as JSON, checked for syntax here and for meaning by the
// server, whose message is shown next to it.

import type { PolicyChoice, RoutingPolicy } from "./api.ts";
import { byId, h } from "./dom.ts";

/** Prefilled in the custom policy's box: a rule on the workload's features, then a fallback. */
export const EXAMPLE_POLICY = {
  name: "small-on-wasm",
  description: "Small JavaScript on wasm, the rest on isolate.",
  rules: [
    {
      name: "small javascript",
      when: { language: "javascript", code_bytes: { max: 4096 } },
      tiers: ["wasm", "isolate"],
    },
  ],
  fallback: ["isolate", "wasm"],
};

/** The policies chosen; `customIndex` is where the custom one sits, for the server's errors. */
export interface PolicyPick {
  policies: PolicyChoice[];
  customIndex: number | null;
}

export class PolicyPicker {
  private readonly list = byId("policy-built-in");
  private readonly custom = byId<HTMLTextAreaElement>("policy-custom");
  private readonly useCustom = byId<HTMLInputElement>("policy-custom-use");
  private readonly problem = byId("policy-problem");

  constructor() {
    this.custom.value = JSON.stringify(EXAMPLE_POLICY, null, 2);
    this.custom.addEventListener("input", () => {
      this.useCustom.checked = true;
      this.showProblem("");
    });
    this.useCustom.addEventListener("change", () => this.showProblem(""));
  }

  /** One checkbox per built-in policy; the first two are checked, to have something to compare. */
  setBuiltIn(policies: RoutingPolicy[], installed: string): void {
    this.list.replaceChildren(
      ...policies.map((policy, i) =>
        h(
          "label",
          { class: "check", title: policy.description },
          h("input", {
            type: "checkbox",
            name: "policy",
            value: policy.name,
            checked: i < 2,
            "data-testid": `policy-${policy.name}`,
          }),
          h("span", {}, policy.name),
          policy.name === installed ? h("small", { class: "muted" }, " (installed)") : null,
        )
      ),
    );
  }

  /** Shows a problem with the custom policy next to it; "" clears it. */
  showProblem(message: string): void {
    this.problem.textContent = message;
    this.custom.setAttribute("aria-invalid", String(message !== ""));
  }

  /** The policies to send, or null when there are none or the custom one does not parse (shown). */
  pick(): PolicyPick | null {
    const policies: PolicyChoice[] = [...this.list.querySelectorAll<HTMLInputElement>("input:checked")]
      .map((box) => box.value);
    let customIndex: number | null = null;
    if (this.useCustom.checked) {
      let custom: unknown;
      try {
        custom = JSON.parse(this.custom.value);
      } catch (err) {
        return this.refuse(`The custom policy is not valid JSON: ${(err as Error).message}`);
      }
      if (typeof custom !== "object" || custom === null || Array.isArray(custom)) {
        return this.refuse("The custom policy must be a JSON object with a name and a fallback");
      }
      customIndex = policies.length;
      policies.push(custom as RoutingPolicy);
    }
    if (policies.length === 0) return this.refuse("Choose at least one policy.");
    this.showProblem("");
    return { policies, customIndex };
  }

  private refuse(message: string): null {
    this.showProblem(message);
    return null;
  }
}
