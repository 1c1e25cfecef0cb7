//! `/v1/workloads`: run a workload, read one back, list the history.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};

use super::error::{AppError, ErrorBody};
use super::extract::{ApiJson, ApiQuery};
use super::record_json::RecordJson;
use super::state::AppState;
use crate::backend::{
    BackendKind, Capabilities, Language, LimitRange, Limits, Outcome, Status, Workload,
    WorkloadError, json_null,
};
use crate::error::Error;
use crate::policy::{RoutingPolicy, check_name};
use crate::router::{self, Isolation, Route, RouteError, RouteRequest};
use crate::store::{ListQuery, WorkloadRecord, WorkloadSummary};

const DEFAULT_LIST_LIMIT: u32 = 50;
const MAX_LIST_LIMIT: u32 = 500;

/// A workload to run.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadRequest {
    /// An ES module whose default export (sync or async function) is called with `input`.
    pub code: String,
    #[serde(default)]
    pub language: Language,
    /// Any JSON value; `null` when absent.
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    pub input: Option<Box<RawValue>>,
    #[serde(default)]
    pub isolation: Isolation,
    /// Wall-clock budget; see `GET /v1/backends` for the default and maximum.
    #[schema(minimum = 1)]
    pub timeout_ms: Option<u64>,
    /// Memory cap; see `GET /v1/backends` for the default and maximum.
    #[schema(minimum = 1)]
    pub memory_mb: Option<u64>,
    /// Deterministic fuel budget (wasm tier only); unmetered when absent.
    #[schema(minimum = 1)]
    pub fuel: Option<u64>,
    /// A label kept in the history, which routing rules can match: 1 to 64 letters, digits,
    /// spaces, `.`, `_` or `-`.
    #[schema(pattern = r"^[A-Za-z0-9._ -]{1,64}$")]
    pub tag: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/workloads",
    tag = "workloads",
    request_body = WorkloadRequest,
    responses(
        (status = 200, description = "The workload ran; `status` says how it ended", body = WorkloadRecord),
        (status = 400, description = "Malformed JSON, unknown fields or values, out-of-range limits", body = ErrorBody),
        (status = 413, description = "Body, code or input over its size limit", body = ErrorBody),
        (status = 415, description = "Content type is not application/json", body = ErrorBody),
        (status = 422, description = "The routing policy names no tier that could ever run it", body = ErrorBody),
        (status = 429, description = "Too many workloads in flight; see Retry-After", body = ErrorBody),
        (status = 503, description = "The requested tier, or every tier, is unavailable", body = ErrorBody),
    )
)]
pub async fn workloads_create(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<WorkloadRequest>,
) -> Result<RecordJson, AppError> {
    let policy = state.policy.policy();
    let accepted = accept(&state, request, &policy)?;
    // Admitted: a client that hangs up cannot stop the record being written.
    let running = state.clone();
    let record = state
        .admitted("workload", async move {
            let record = run(&running, accepted).await;
            store(&running, record).await
        })
        .await?;
    Ok(RecordJson(record))
}

/// A workload past validation and routing, with its limits set for the chosen tier.
pub(super) struct Accepted {
    workload: Workload,
    isolation: Isolation,
    tag: Option<String>,
    pub route: Route,
}

/// Checks sizes, then routes the workload under `policy` and sets its limits.
pub(super) fn accept(
    state: &AppState,
    request: WorkloadRequest,
    policy: &RoutingPolicy,
) -> Result<Accepted, Error> {
    let limits = &state.limits;
    check_size("code", request.code.len() as u64, limits.max_code_bytes)?;
    let input = request.input.unwrap_or_else(json_null);
    check_size("input", input.get().len() as u64, limits.max_input_bytes)?;
    let route_request = RouteRequest {
        isolation: request.isolation,
        language: request.language,
        code_bytes: request.code.len() as u64,
        timeout_ms: request.timeout_ms.unwrap_or(limits.timeout_ms),
        memory_mb: request.memory_mb.unwrap_or(limits.memory_mb),
        fuel: request.fuel,
        tag: request.tag.clone(),
    };
    let (route, workload_limits) = plan(state, &route_request, policy)?;
    Ok(Accepted {
        workload: Workload {
            code: request.code,
            language: request.language,
            input,
            limits: workload_limits,
        },
        isolation: request.isolation,
        tag: request.tag,
        route,
    })
}

/// Routes a workload under `policy` and sets its limits for the chosen tier, checking them
/// against what that tier accepts.
pub(super) fn plan(
    state: &AppState,
    request: &RouteRequest,
    policy: &RoutingPolicy,
) -> Result<(Route, Limits), Error> {
    if let Some(tag) = &request.tag {
        check_name("tag", tag).map_err(Error::InvalidRequest)?;
    }
    let route = router::route(request, &state.tier_states(), policy).map_err(route_error)?;
    let capabilities = state.capabilities(route.backend);
    let limits = Limits {
        timeout_ms: within("timeout_ms", request.timeout_ms, capabilities.timeout_ms)?,
        memory_mb: within("memory_mb", request.memory_mb, capabilities.memory_mb)?,
        fuel: fuel_within(request.fuel, &capabilities)?,
        max_output_bytes: state.limits.max_output_bytes,
        max_log_bytes: state.limits.max_log_bytes,
        max_log_lines: state.limits.max_log_lines,
    };
    Ok((route, limits))
}

/// Runs an accepted workload on its tier; the record is not yet stored.
pub(super) async fn run(state: &AppState, accepted: Accepted) -> WorkloadRecord {
    let Accepted {
        workload,
        isolation,
        tag,
        route,
    } = accepted;
    let backend = state
        .backend(route.backend)
        .expect("the router only picks configured tiers");
    let created_at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64);
    let (code, input, language, limits) = (
        workload.code.clone(),
        workload.input.clone(),
        workload.language,
        workload.limits,
    );
    state.metrics.in_flight.inc();
    let outcome = backend.execute(workload).await.unwrap_or_else(|err| {
        tracing::error!(error = %err, backend = route.backend.as_str(), "backend failed");
        let message = format!("the {} tier failed: {err}", route.backend.as_str());
        Outcome::failed(
            Status::BackendCrashed,
            WorkloadError::new("BackendCrashed", message),
            0.0,
        )
    });
    state.metrics.in_flight.dec();
    state.metrics.observe_outcome(route.backend, &outcome);
    WorkloadRecord {
        id: uuid::Uuid::now_v7().to_string(),
        created_at_ms,
        status: outcome.status,
        backend: route.backend,
        route_reason: route.reason,
        tag,
        isolation,
        language,
        limits,
        output: outcome.output,
        error: outcome.error,
        logs: outcome.logs,
        logs_truncated: outcome.logs_truncated,
        duration_ms: outcome.duration_ms,
        metadata: outcome.metadata,
        code,
        input,
        recorded: true,
    }
}

/// Hands the record to the history; the answer says if it could not be recorded (the store
/// logs and counts why).
async fn store(state: &AppState, mut record: WorkloadRecord) -> WorkloadRecord {
    record.recorded = state.store.record(record.clone()).await;
    record
}

#[utoipa::path(
    get,
    path = "/v1/workloads/{id}",
    tag = "workloads",
    params(("id" = String, Path, description = "The workload's id")),
    responses(
        (status = 200, description = "The recorded workload", body = WorkloadRecord),
        (status = 404, description = "No workload with that id", body = ErrorBody),
        (status = 503, description = "The history store is unavailable", body = ErrorBody),
    )
)]
pub async fn workloads_get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<RecordJson, AppError> {
    match state.store.get(id.clone()).await? {
        Some(record) => Ok(RecordJson(record)),
        None => Err(Error::NotFound(id).into()),
    }
}

/// History filters.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// At most this many records (1–500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Only records older than this id (for paging).
    pub before: Option<String>,
    pub status: Option<Status>,
    pub backend: Option<BackendKind>,
}

#[utoipa::path(
    get,
    path = "/v1/workloads",
    tag = "workloads",
    params(ListParams),
    responses(
        (status = 200, description = "Recorded workloads, newest first", body = Vec<WorkloadSummary>),
        (status = 400, description = "Unknown or invalid filter", body = ErrorBody),
        (status = 503, description = "The history store is unavailable", body = ErrorBody),
    )
)]
pub async fn workloads_list(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Vec<WorkloadSummary>>, AppError> {
    let limit = params.limit.unwrap_or(DEFAULT_LIST_LIMIT);
    if !(1..=MAX_LIST_LIMIT).contains(&limit) {
        let message = format!("limit must be between 1 and {MAX_LIST_LIMIT}, got {limit}");
        return Err(Error::InvalidRequest(message).into());
    }
    let query = ListQuery {
        limit,
        before: params.before,
        status: params.status,
        backend: params.backend,
    };
    Ok(Json(state.store.list(query).await?))
}

fn check_size(what: &str, bytes: u64, max: u64) -> Result<(), Error> {
    match bytes > max {
        true => Err(Error::TooLarge(format!(
            "{what} is {bytes} bytes, over the limit of {max}"
        ))),
        false => Ok(()),
    }
}

fn within(name: &str, value: u64, range: LimitRange) -> Result<u64, Error> {
    match (range.min..=range.max).contains(&value) {
        true => Ok(value),
        false => Err(Error::InvalidRequest(format!(
            "{name} must be between {} and {}, got {value}",
            range.min, range.max
        ))),
    }
}

pub fn fuel_within(
    requested: Option<u64>,
    capabilities: &Capabilities,
) -> Result<Option<u64>, Error> {
    match (requested, capabilities.fuel_max) {
        (None, _) => Ok(None),
        (Some(fuel), Some(max)) if (1..=max).contains(&fuel) => Ok(Some(fuel)),
        (Some(fuel), Some(max)) => Err(Error::InvalidRequest(format!(
            "fuel must be between 1 and {max}, got {fuel}"
        ))),
        (Some(_), None) => Err(Error::InvalidRequest(
            "this tier does not meter fuel".into(),
        )),
    }
}

pub fn route_error(err: RouteError) -> Error {
    match err {
        RouteError::Unavailable { kind, reason } => Error::TierUnavailable {
            kind,
            reason: format!("the {} tier {reason}", kind.as_str()),
        },
        RouteError::FuelNotMetered { kind } => Error::InvalidRequest(format!(
            "fuel is not metered by the {} tier; ask for isolation \"wasm\" or \"auto\"",
            kind.as_str()
        )),
        RouteError::NoTier(reason) => Error::NoTierAvailable(reason),
        RouteError::Unroutable(reason) => Error::Unroutable(reason),
    }
}
