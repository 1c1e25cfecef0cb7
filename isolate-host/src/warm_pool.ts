/**
 * Keeps one warm, never-used worker, so a workload does not wait for one to be created.
 *
 * `new Worker()` is synchronous and blocks the host's thread while the new thread boots (30–90
 * ms on this machine, see README.md), delaying every answer and message in the meantime. So the
 * replacement is made in a task of its own once the workload that took the warm worker has been
 * answered, not when it is taken: that would hold up the answer of every short workload by the
 * creation time. A request that finds no warm worker with its heap limit (two at once, or a
 * `memory_mb` other than the host's default) gets one made for it, and says so in
 * `worker_create_ms`. Every worker runs one workload and is then discarded by its user.
 *
 * Workers must only be made after the host revoked its permissions: a `node:worker_threads`
 * worker inherits the host's permissions as they are at its creation.
 */
import { Worker } from "node:worker_threads";
import type { PingMessage } from "./protocol.ts";
import type { WorkerSource } from "./worker_source.ts";

/** A never-used worker, handed to one workload. */
export interface Lease {
  worker: Worker;
  /** Time the host's thread spent creating it for this request; 0 when it was warm. */
  createMs: number;
  /** How long it waited warm before this request took it; 0 when created for it. */
  warmAgeMs: number;
}

interface Warm {
  worker: Worker;
  readyAt: number;
  onExit: () => void;
}

export class WarmPool {
  #warm: Warm | null = null;
  #refillScheduled = false;

  constructor(readonly source: WorkerSource, readonly heapMb: number) {}

  /** Makes the warm worker if there is none. */
  fill(): void {
    if (this.#warm) return;
    const worker = this.#spawn(this.heapMb);
    // A warm worker that dies unused (it never should) is simply replaced.
    const onExit = () => {
      if (this.#warm?.worker !== worker) return;
      this.#warm = null;
      this.refillSoon();
    };
    worker.once("exit", onExit);
    this.#warm = { worker, readyAt: performance.now(), onExit };
  }

  /** Makes the warm worker in a task of its own, if there is none by then. */
  refillSoon(): void {
    if (this.#refillScheduled) return;
    this.#refillScheduled = true;
    setTimeout(() => {
      this.#refillScheduled = false;
      this.fill();
    }, 0);
  }

  /** A never-used worker whose heap limit is `heapMb` MiB. */
  take(heapMb: number): Lease {
    const warm = this.#warm;
    if (warm && heapMb === this.heapMb) {
      this.#warm = null;
      warm.worker.off("exit", warm.onExit);
      return { worker: warm.worker, createMs: 0, warmAgeMs: performance.now() - warm.readyAt };
    }
    const started = performance.now();
    const worker = this.#spawn(heapMb);
    return { worker, createMs: performance.now() - started, warmAgeMs: 0 };
  }

  #spawn(heapMb: number): Worker {
    const entry = this.source.entry();
    const worker = new Worker(entry.url, { resourceLimits: { maxOldGenerationSizeMb: heapMb } });
    // The worker's first message (`ready`) comes once it has loaded its modules: their URLs
    // are then no longer needed, and no workload has run in it yet.
    worker.once("message", entry.revoke);
    worker.once("exit", entry.revoke);
    // An 'error' event with no listener would throw in the host. The workload's own listener
    // (src/workload.ts) reports errors; this one only keeps a late or idle one harmless.
    worker.on("error", () => {});
    worker.postMessage({ type: "ping" } satisfies PingMessage);
    return worker;
  }
}
