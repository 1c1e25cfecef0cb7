// What the key may do, on the page. Controls that need a scope sit in an element marked
// `data-needs="run|read|admin"`: a fieldset, which disables everything in it whatever the
// panels' own code does with their buttons, or a tab. A `data-needs-note` element says what
// a key lacks. Until the first `applyScopes`, nothing is allowed.

import type { Scope } from "./api.ts";

let held: Scope[] = [];

/** Whether the key may do what `scope` allows; `admin` allows everything. */
export function allows(scope: Scope): boolean {
  return held.includes(scope) || held.includes("admin");
}

/** Enables what a key with `scopes` may do; `null`, while the page holds no key: nothing. */
export function applyScopes(scopes: Scope[] | null): void {
  held = scopes ?? [];
  for (const gate of document.querySelectorAll<HTMLFieldSetElement | HTMLButtonElement>("[data-needs]")) {
    const needs = gate.dataset.needs as Scope;
    gate.disabled = !allows(needs);
    gate.title = gate.disabled && scopes ? `needs a key with the ${needs} scope` : "";
  }
  for (const note of document.querySelectorAll<HTMLElement>("[data-needs-note]")) {
    note.hidden = !scopes || allows(note.dataset.needsNote as Scope);
  }
}
