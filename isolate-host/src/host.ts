/**
 * The host's state: how many workloads run, how many were served, and whether the host is
 * poisoned (a worker it could not stop is still running; the agent must replace the process).
 * Once poisoned it stays poisoned, and refuses new workloads.
 */
import type { ExecuteRequest, ExecuteResponse, HealthResponse } from "./protocol.ts";
import type { WarmPool } from "./warm_pool.ts";
import { runOnWorker } from "./workload.ts";

export type Admission = "admitted" | "overloaded" | "poisoned";

export class Host {
  #active = 0;
  #served = 0;
  #poisoned = false;

  constructor(readonly pool: WarmPool, readonly maxConcurrent: number) {}

  admission(): Admission {
    if (this.#poisoned) return "poisoned";
    return this.#active >= this.maxConcurrent ? "overloaded" : "admitted";
  }

  async execute(request: ExecuteRequest): Promise<ExecuteResponse> {
    this.#active += 1;
    try {
      const { response, poisoned } = await runOnWorker(this.pool.take(request.memory_mb), request);
      this.#poisoned ||= poisoned;
      return { ...response, poisoned: this.#poisoned };
    } finally {
      this.#active -= 1;
      this.#served += 1;
      this.pool.refillSoon();
    }
  }

  health(): HealthResponse {
    return {
      ok: true,
      pid: Deno.pid,
      active: this.#active,
      served: this.#served,
      poisoned: this.#poisoned,
      rss_bytes: Deno.memoryUsage().rss,
    };
  }
}
