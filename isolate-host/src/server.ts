/**
 * The HTTP routes, served on the Unix socket:
 *
 * - `POST /execute` → 200 with the outcome, whatever the status; 400 `invalid_json` /
 *   `invalid_request`; 429 `overloaded` (already `--max-concurrent` workloads running);
 *   503 `poisoned` (the host must be replaced).
 * - `GET /health` → 200.
 * - anything else → 404 `not_found` or 405 `method_not_allowed`.
 *
 * Errors are `{"error": {"code", "message"}}`, the agent's own shape.
 */
import type { Host } from "./host.ts";
import { parseExecuteRequest } from "./request.ts";

export function handler(host: Host, defaultMemoryMb: number) {
  return async (request: Request): Promise<Response> => {
    const { pathname } = new URL(request.url);
    const route = ROUTES[pathname];
    if (!route) return failure(404, "not_found", `no route ${pathname}`);
    if (request.method !== route) {
      return failure(405, "method_not_allowed", `${pathname} takes ${route}`);
    }
    if (route === "GET") return json(200, host.health());

    let body: unknown;
    try {
      body = await request.json();
    } catch {
      return failure(400, "invalid_json", "the body is not JSON");
    }
    const parsed = parseExecuteRequest(body, defaultMemoryMb);
    if (!parsed.ok) return failure(400, "invalid_request", parsed.message);
    switch (host.admission()) {
      case "overloaded":
        return failure(429, "overloaded", `${host.maxConcurrent} workloads are already running`);
      case "poisoned":
        return failure(503, "poisoned", "this host is poisoned and must be replaced");
      case "admitted":
        return json(200, await host.execute(parsed.request));
    }
  };
}

const ROUTES: Record<string, "GET" | "POST" | undefined> = {
  "/execute": "POST",
  "/health": "GET",
};

function failure(status: number, code: string, message: string): Response {
  return json(status, { error: { code, message } });
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}
