/**
 * The host's state and its three requests (`frames.ts` carries them):
 *
 * - `run`: the one workload of the warm isolate → its answer (`workload.ts`), whatever the
 *   status; refused with `no_warm_isolate` if none is ready, `poisoned` once poisoned.
 * - `prepare`: makes the next warm isolate once the last one is really gone → its creation
 *   time; `poisoned` if the last one did not stop.
 * - `health` → pid, workloads served, poisoned, whether a warm isolate is ready.
 *
 * Poisoned means an isolate the host could not stop may still run: the agent must replace the
 * process. Once poisoned the host stays poisoned and runs nothing more.
 */
import type { ErrorAnswer, HealthAnswer, PrepareAnswer, RunAnswer, RunHead } from "./protocol.ts";
import { parseRunHead } from "./request.ts";
import type { Warm } from "./warm.ts";
import { runOnIsolate } from "./workload.ts";

const utf8 = new TextDecoder();

export interface Answer {
  head: RunAnswer | PrepareAnswer | HealthAnswer | ErrorAnswer;
  payload?: Uint8Array;
}

export class Host {
  #served = 0;
  #poisoned = false;
  /** Whether the last workload's isolate stopped once it was answered. */
  #settle: () => Promise<boolean> = () => Promise.resolve(true);

  readonly warm: Warm;

  constructor(warm: Warm) {
    this.warm = warm;
  }

  async handle(head: unknown, payload: Uint8Array): Promise<Answer> {
    const type = (head as { type?: unknown } | null)?.type;
    switch (type) {
      case "run": {
        const parsed = parseRunHead(head);
        return parsed.ok
          ? await this.#run(parsed.head, payload)
          : refuse("invalid_request", parsed.message);
      }
      case "prepare":
        return await this.#prepare();
      case "health":
        return { head: this.#health() };
      default:
        return refuse("invalid_request", `unknown request type ${JSON.stringify(type)}`);
    }
  }

  async #run(head: RunHead, job: Uint8Array): Promise<Answer> {
    if (this.#poisoned) return poisoned();
    const warm = this.warm.take();
    if (!warm) return refuse("no_warm_isolate", "no warm isolate is ready: send prepare first");
    const finished = await runOnIsolate(warm, head, utf8.decode(job));
    this.#served += 1;
    this.#poisoned ||= finished.answer.poisoned;
    this.#settle = finished.settle;
    return { head: finished.answer, payload: finished.output };
  }

  async #prepare(): Promise<Answer> {
    this.#poisoned ||= !(await this.#settle());
    if (this.#poisoned) return poisoned();
    try {
      const warm = await this.warm.prepare();
      return { head: { worker_create_ms: warm.createMs } };
    } catch (error) {
      return refuse("worker_failed", (error as Error).message);
    }
  }

  #health(): HealthAnswer {
    return {
      pid: Deno.pid,
      served: this.#served,
      poisoned: this.#poisoned,
      warm: this.warm.isReady,
    };
  }
}

function refuse(code: string, message: string): Answer {
  return { head: { error: { code, message } } };
}

function poisoned(): Answer {
  return refuse("poisoned", "an isolate of this host may still run: replace the host");
}
