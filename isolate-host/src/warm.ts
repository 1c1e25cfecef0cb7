/**
 * The host's one warm isolate: created and waiting before its workload arrives, so that a
 * workload never waits for one.
 *
 * Once it is ready, it is asked to rehearse a run if it stays unused for `REHEARSE_AFTER_MS`:
 * that moves the first-time costs of a run (~1.5 ms) off the path of a workload that comes
 * later, while a host kept busy back to back spends no CPU on rehearsals (~2–3 ms a worker).
 *
 * The agent asks for it (`prepare`) after each workload, once it has given the host back its
 * full memory cap: the previous workload ran under a cap sized for it, which a new isolate must
 * not be made under. The isolate is made on a thread of its own, so the host's thread is free
 * meanwhile (apart from a few milliseconds inside `new Worker()`).
 */
import { createIsolate, type SingleUseIsolate } from "./isolate.ts";

/** How long a ready isolate waits unused before it is asked to rehearse. */
export const REHEARSE_AFTER_MS = 20;

export interface WarmIsolate {
  isolate: SingleUseIsolate;
  /** From `new Worker()` to its `ready` message. */
  createMs: number;
  /** When it became ready (`performance.now()`). */
  readyAt: number;
}

export class Warm {
  #ready: WarmIsolate | null = null;
  #making: Promise<WarmIsolate> | null = null;
  #rehearsal: ReturnType<typeof setTimeout> | undefined;

  readonly source: string;

  constructor(source: string) {
    this.source = source;
  }

  get isReady(): boolean {
    return this.#ready !== null;
  }

  /** The warm isolate, made now if there is none; rejects if it fails to start. */
  prepare(): Promise<WarmIsolate> {
    if (this.#ready) return Promise.resolve(this.#ready);
    this.#making ??= this.#make().finally(() => this.#making = null);
    return this.#making;
  }

  /** Hands the warm isolate to one workload; `null` if there is none. */
  take(): WarmIsolate | null {
    clearTimeout(this.#rehearsal);
    const ready = this.#ready;
    this.#ready = null;
    return ready;
  }

  async #make(): Promise<WarmIsolate> {
    const started = performance.now();
    const isolate = createIsolate(this.source);
    try {
      await new Promise<void>((resolve, reject) => {
        isolate.onMessage((data) => {
          if ((data as { type?: unknown } | null)?.type === "ready") resolve();
        });
        isolate.onError((message) => reject(new Error(`the worker failed to start: ${message}`)));
        isolate.post({ type: "ping" });
      });
    } catch (error) {
      isolate.terminate();
      throw error;
    }
    const readyAt = performance.now();
    this.#ready = { isolate, createMs: readyAt - started, readyAt };
    this.#rehearsal = setTimeout(() => isolate.post({ type: "rehearse" }), REHEARSE_AFTER_MS);
    return this.#ready;
  }
}
