// Who the page acts as. `GET /v1/whoami` at start; with access control on, a prompt for an
// API key (a modal dialog) whenever the tab holds none or the agent refuses the one it
// holds, with the reason; the tenant and scopes in the header; and "sign out", which
// forgets the key and starts the page afresh.

import { api, ApiError, errorText, type Quotas, type WhoAmI } from "./api.ts";
import { byId, count, h } from "./dom.ts";
import { forgetKey, holdKey, onKeyRefused } from "./session.ts";

export interface AccessEvents {
  /**
   * A key was accepted, or access control is off. Its synchronous part enables what the key
   * may do (focus goes back to a control then); the promise, what it loads.
   */
  accepted: (who: WhoAmI) => Promise<void>;
  /** The key was refused: nothing may be done until another is accepted. */
  lost: () => void;
}

export class AccessPanel {
  private readonly dialog = byId<HTMLDialogElement>("key-dialog");
  private readonly input = byId<HTMLInputElement>("key-input");
  private readonly submitButton = byId<HTMLButtonElement>("key-submit");
  private readonly problem = byId("key-problem");
  private readonly header = byId("access");
  private who: WhoAmI | null = null;
  private returnFocus: Element | null = null;

  constructor(private readonly events: AccessEvents) {
    byId("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      void this.submit();
    });
    // Without a key the page can do nothing: Escape does not dismiss the prompt.
    this.dialog.addEventListener("cancel", (event) => event.preventDefault());
    onKeyRefused((reason) => this.ask(reason));
  }

  /** Whether the page may call the agent: access control is off, or a key was accepted. */
  get signedIn(): boolean {
    return this.who !== null;
  }

  /** Asks who the page is; resolves once that is known and loaded, or the prompt is up. */
  async start(): Promise<void> {
    try {
      await this.accept(await api.whoami());
    } catch (err) {
      // A 401 has brought the prompt up.
      if (!(err instanceof ApiError && err.status === 401)) throw err;
    }
  }

  /** Brings the prompt up, saying why the key was refused (`null`: there was none). */
  private ask(reason: string | null): void {
    // A request without a key, while the prompt is up, changes nothing.
    if (this.dialog.open && reason === null) return;
    this.problem.textContent = reason === null ? "" : `The key was refused: ${reason}`;
    if (this.dialog.open) {
      this.input.select();
      return;
    }
    this.who = null;
    this.header.replaceChildren();
    this.events.lost();
    this.returnFocus = document.activeElement;
    this.dialog.showModal();
    this.input.focus();
  }

  private async submit(): Promise<void> {
    const key = this.input.value.trim();
    if (key === "") {
      this.problem.textContent = "Paste an API key first.";
      this.input.focus();
      return;
    }
    holdKey(key);
    this.submitButton.disabled = true;
    let who: WhoAmI;
    try {
      who = await api.whoami();
    } catch (err) {
      // A refused key is forgotten and the reason shown by `ask`; anything else is shown here.
      if (!(err instanceof ApiError && err.status === 401)) {
        forgetKey();
        this.problem.textContent = `The key could not be checked: ${errorText(err)}`;
        this.input.select();
      }
      return;
    } finally {
      this.submitButton.disabled = false;
    }
    this.input.value = "";
    this.problem.textContent = "";
    this.dialog.close();
    const loaded = this.accept(who);
    if (this.returnFocus instanceof HTMLElement && !this.returnFocus.matches(":disabled")) {
      this.returnFocus.focus();
    }
    await loaded;
  }

  private accept(who: WhoAmI): Promise<void> {
    this.who = who;
    this.header.replaceChildren(...(who.auth === "off" ? [offNote()] : this.signedInAs(who)));
    return this.events.accepted(who);
  }

  private signedInAs(who: WhoAmI): HTMLElement[] {
    const signOut = h("button", { type: "button", class: "secondary small", "data-testid": "sign-out" }, "Sign out");
    signOut.addEventListener("click", () => {
      forgetKey();
      // Afresh: nothing the last key read stays on the page, nor its workload in the address.
      location.replace(location.pathname);
    });
    return [
      h(
        "span",
        { class: "chip", "data-testid": "access-tenant", title: keyText(who) },
        "tenant ",
        h("strong", {}, who.tenant),
      ),
      h(
        "span",
        { class: "chip", "data-testid": "access-scopes", title: "what this key may do" },
        who.scopes.join(" · "),
      ),
      signOut,
    ];
  }
}

function offNote(): HTMLElement {
  return h(
    "span",
    { class: "chip", "data-testid": "access-off", title: "this agent takes requests without an API key (--auth off)" },
    "access control off",
  );
}

function keyText(who: WhoAmI): string {
  const key = `key ${who.key_id ?? "?"}`;
  return who.quotas ? `${key}; quotas: ${quotasText(who.quotas)}` : key;
}

function quotasText(q: Quotas): string {
  return [
    `${count(q.max_in_flight)} in flight`,
    `${q.rate_per_sec} per second (burst ${count(q.burst)})`,
    `timeout ≤ ${count(q.max_timeout_ms)} ms`,
    `memory ≤ ${count(q.max_memory_mb)} MB`,
    `fuel ≤ ${count(q.max_fuel)}`,
  ].join(" · ");
}
