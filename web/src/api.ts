// The Vulcan HTTP API as the page uses it: typed requests and responses, and one error
// type that always carries a readable message. Every request carries the tab's API key, when
// it holds one (session.ts), as `Authorization: Bearer`.

import { heldKey, keyRefused } from "./session.ts";

export type Tier = "isolate" | "wasm";
export type Isolation = "auto" | Tier;
export type Language = "javascript" | "typescript";
export type Status =
  | "succeeded"
  | "error"
  | "timeout"
  | "memory_limit"
  | "fuel_exhausted"
  | "output_limit"
  | "backend_crashed"
  | "rejected";

/** What a key may do; `admin` allows what `run` and `read` allow too. */
export type Scope = "run" | "read" | "admin";

/** The caller as `GET /v1/whoami` sees it: with access control off, tenant `default`. */
export interface WhoAmI {
  auth: "off" | "required";
  tenant: string;
  key_id: string | null;
  scopes: Scope[];
  quotas: Quotas | null;
}

/** A tenant's quotas in force on one agent. */
export interface Quotas {
  max_in_flight: number;
  rate_per_sec: number;
  burst: number;
  max_timeout_ms: number;
  max_memory_mb: number;
  max_fuel: number;
}

export interface LimitRange {
  min: number;
  default: number;
  max: number;
}

export interface Capabilities {
  languages: Language[];
  meters_fuel: boolean;
  timeout_ms: LimitRange;
  memory_mb: LimitRange;
  fuel_max?: number;
}

export interface BackendInfo {
  kind: Tier;
  available: boolean;
  health: { healthy: boolean; detail: string };
  capabilities: Capabilities | null;
  /** The wasm tier's fuel per millisecond, once `POST /v1/calibrate` has run. */
  calibration?: Calibration;
}

export interface Backends {
  policy: string;
  backends: BackendInfo[];
}

/** One reference workload's rate. */
export interface ReferenceRate {
  name: string;
  fuel: number;
  run_ms: number;
  fuel_per_ms: number;
}

/** Fuel per millisecond on the agent's machine, from `POST /v1/calibrate`. */
export interface Calibration {
  fuel_per_ms: number;
  min_fuel_per_ms: number;
  max_fuel_per_ms: number;
  runs_per_workload: number;
  measured_at_ms: number;
  workloads: ReferenceRate[];
}

/** What routing looks at: a workload's routing fields, with its code's size in bytes. */
export interface RouteQuery {
  language: Language;
  isolation: Isolation;
  code_bytes: number;
  timeout_ms?: number;
  memory_mb?: number;
  fuel?: number;
  tag?: string;
}

export interface Route {
  backend: Tier;
  reason: string;
}

export interface WorkloadRequest {
  code: string;
  language: Language;
  input: unknown;
  isolation: Isolation;
  timeout_ms?: number;
  memory_mb?: number;
  fuel?: number;
  tag?: string;
}

export interface IsolateMetadata {
  tier: "isolate";
  /** How long the workload waited for a worker to be made (0 when a warm one was ready). */
  worker_create_ms: number;
  warm_age_ms: number;
  /** How long its worker took to be made, waited for or not. */
  worker_ready_ms: number;
  /** The most memory its host held above what it held before it. */
  memory_peak_bytes: number;
  heap_used_bytes: number;
  heap_total_bytes: number;
  external_bytes: number;
  host_id: number;
  host_pid: number;
}

export interface WasmMetadata {
  tier: "wasm";
  instantiate_ms: number;
  /** Whether the run counted fuel (only workloads with a fuel budget do); absent in old records. */
  metered?: boolean;
  fuel_consumed: number;
  memory_peak_bytes: number;
}

export interface WorkloadError {
  name: string;
  message: string;
  line?: number;
  column?: number;
  stack?: string;
}

export interface WorkloadRecord {
  id: string;
  created_at_ms: number;
  status: Status;
  backend: Tier;
  route_reason: string;
  tag?: string | null;
  isolation: Isolation;
  language: Language;
  limits: { timeout_ms: number; memory_mb: number; fuel?: number | null };
  output?: unknown;
  error?: WorkloadError | null;
  logs: { level: string; message: string }[];
  logs_truncated: boolean;
  duration_ms: number;
  /** CPU time of the run, where the tier can tell. */
  cpu_ms?: number | null;
  metadata?: IsolateMetadata | WasmMetadata | null;
  code: string;
  input: unknown;
  /** Whose workload it is (`default` when access control is off), and the key it came with. */
  tenant?: string;
  key_id?: string | null;
  recorded: boolean;
}

export interface WorkloadSummary {
  id: string;
  created_at_ms: number;
  status: Status;
  backend: Tier;
  language: Language;
  duration_ms: number;
  code_preview: string;
}

/** A routing policy as `/v1/policy` shows it and experiments take it. */
export interface RoutingPolicy {
  name: string;
  description?: string;
  rules?: { name?: string; when?: Record<string, unknown>; tiers: Tier[] }[];
  fallback: Tier[];
}

export interface PolicyInfo {
  installed: { policy: RoutingPolicy; source: string };
  built_in: RoutingPolicy[];
}

/** A built-in policy's name, or a whole policy. */
export type PolicyChoice = string | RoutingPolicy;

export interface NamedWorkload {
  name: string;
  workload: WorkloadRequest;
}

export interface RoutingExperiment {
  policies: PolicyChoice[];
  workloads?: NamedWorkload[];
  history?: { limit: number };
  repeat: number;
}

export interface Spread {
  p50: number;
  p95: number;
  max: number;
}

/** One workload under one policy: the tier of its first run and why. */
export interface PolicyChoiceReport {
  backend: Tier | null;
  reason: string;
  statuses: Record<string, number>;
  latency_ms: Spread;
}

export interface PolicyReport {
  policy: RoutingPolicy;
  runs: number;
  /** Runs by tier, and `none` for refused ones. */
  tiers: Record<string, number>;
  statuses: Record<string, number>;
  latency_ms: Spread;
  duration_ms: Spread;
  cpu_ms: number;
  choices: PolicyChoiceReport[];
}

export interface RoutingReport {
  workloads: string[];
  repeat: number;
  policies: PolicyReport[];
}

/** One workload run on the wasm tier under both a fuel budget and a timeout. */
export interface LimitsExperiment {
  workload: Pick<WorkloadRequest, "code" | "language" | "input" | "memory_mb" | "tag">;
  fuel: number;
  timeout_ms: number;
  runs: number;
}

/** What ended a limits run: its fuel budget, its timeout, or neither (it ended by itself). */
export type StoppedBy = "fuel" | "timeout" | "neither";

/** How a measure varied over the runs; `spread_pct` is (max − min) / median in percent. */
export interface Stability {
  min: number;
  median: number;
  max: number;
  spread_pct: number;
}

export interface LimitRun {
  status: Status;
  fuel_consumed: number;
  duration_ms: number;
}

export interface LimitsReport {
  fuel: number;
  timeout_ms: number;
  stopped_by: Partial<Record<StoppedBy, number>>;
  fuel_consumed: Stability;
  duration_ms: Stability;
  /** At the calibrated rate: how long the fuel budget lasts, and the fuel the timeout is worth. */
  fuel_budget_ms?: number | null;
  timeout_fuel?: number | null;
  runs: LimitRun[];
}

/** A failed request: the API's `{error: {code, message}}`, or what went wrong on the way. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A failure as one line: the API's message and code, or whatever was thrown. */
export function errorText(err: unknown): string {
  return err instanceof ApiError ? `${err.message} (${err.code})` : String(err);
}

async function call<T>(path: string, init: RequestInit = {}): Promise<T> {
  const key = heldKey();
  const headers = new Headers(init.headers);
  if (key !== null) headers.set("authorization", `Bearer ${key}`);
  let response: Response;
  try {
    response = await fetch(path, { ...init, headers });
  } catch (err) {
    throw new ApiError(0, "unreachable", `Vulcan is not reachable (${String(err)})`);
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(
      response.status,
      "bad_response",
      `HTTP ${response.status}: the answer is not JSON (${text.slice(0, 120)})`,
    );
  }
  if (!response.ok) {
    const error = (body as { error?: { code?: string; message?: string } }).error;
    if (response.status === 401) keyRefused(key, error?.message ?? "the key was refused");
    throw new ApiError(
      response.status,
      error?.code ?? "http_error",
      error?.message ?? `HTTP ${response.status}`,
    );
  }
  return body as T;
}

function post<T>(path: string, body: unknown): Promise<T> {
  return call<T>(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

export const api = {
  whoami: () => call<WhoAmI>("/v1/whoami"),
  backends: () => call<Backends>("/v1/backends"),
  route: (query: RouteQuery) => post<Route>("/v1/route", query),
  run: (request: WorkloadRequest) => post<WorkloadRecord>("/v1/workloads", request),
  history: (limit = 30) => call<WorkloadSummary[]>(`/v1/workloads?limit=${limit}`),
  workload: (id: string) => call<WorkloadRecord>(`/v1/workloads/${encodeURIComponent(id)}`),
  policy: () => call<PolicyInfo>("/v1/policy"),
  routingExperiment: (experiment: RoutingExperiment) =>
    post<RoutingReport>("/v1/experiments/routing", experiment),
  calibrate: () => call<Calibration>("/v1/calibrate", { method: "POST" }),
  limitsExperiment: (experiment: LimitsExperiment) => post<LimitsReport>("/v1/experiments/limits", experiment),
};
