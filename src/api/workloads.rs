//! `/v1/workloads`: run a workload, read one back, list the history.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::{AppError, ErrorBody, rate_headers};
use super::extract::{ApiJson, ApiQuery};
use super::record_json::WorkloadRecord;
use super::state::AppState;
use super::submission::{idempotency_key, prefers_async, where_it_is};
use crate::access::Caller;
use crate::access::quotas::AskedLimits;
use crate::backend::{BackendKind, Status};
use crate::error::Error;
use crate::store::{ListQuery, Record, Submitted, WorkloadSummary};
use crate::workloads::{Accepted, WorkloadRequest};

/// How long a synchronous request waits for a workload of its idempotency key that another
/// request is running, before it answers 202.
const SYNC_WAIT: Duration = Duration::from_secs(30);
/// The longest `?wait=` of a read.
const MAX_WAIT_SECS: u64 = 60;
const DEFAULT_LIST_LIMIT: u32 = 50;
const MAX_LIST_LIMIT: u32 = 500;

#[utoipa::path(
    post,
    path = "/v1/workloads",
    tag = "workloads",
    request_body = WorkloadRequest,
    params(
        ("Prefer" = Option<String>, Header, description = "`respond-async`: answer 202 at once with the queued workload and its `Location`; any agent runs it"),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[!-~]+$", description = "1 to 255 visible ASCII characters: the same key within 24 h names the same workload, which runs once (a retry gets its result, or 202 while it runs)"),
    ),
    responses(
        (status = 200, description = "The workload ran; `status` says how it ended", body = WorkloadRecord),
        (status = 202, description = "Queued, or still running (a retried key); `Location` says where to ask", body = WorkloadRecord),
        (status = 400, description = "Malformed JSON, unknown fields or values, out-of-range limits", body = ErrorBody),
        (status = 408, description = "The body did not arrive within `--body-read-timeout-ms`; the connection is then closed", body = ErrorBody),
        (status = 413, description = "Body, code or input over its size limit", body = ErrorBody),
        (status = 415, description = "Content type is not application/json", body = ErrorBody),
        (status = 422, description = "The routing policy names no tier that could ever run it", body = ErrorBody),
        (status = 429, description = "Too many workloads in flight, or the queue is full; see Retry-After", body = ErrorBody),
        (status = 503, description = "The requested tier, or every tier, is unavailable; or the store is", body = ErrorBody),
    )
)]
pub async fn workloads_create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<WorkloadRequest>,
) -> Result<Response, AppError> {
    let admitted = state
        .access
        .admit(&caller)
        .map_err(|(err, rate)| AppError::from(err).with_rate(rate))?;
    let rate = admitted.rate;
    let mut answer = create(&state, &caller, &headers, request)
        .await
        .map_err(|err| err.with_rate(rate))?;
    if let Some(rate) = rate {
        rate_headers(answer.headers_mut(), rate);
    }
    drop(admitted);
    Ok(answer)
}

/// Runs or queues a workload its tenant's quotas admitted.
async fn create(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    mut request: WorkloadRequest,
) -> Result<Response, AppError> {
    if let Some(quotas) = &caller.quotas {
        let limits = &state.workloads.limits;
        let mut asked = AskedLimits {
            timeout_ms: request.timeout_ms,
            memory_mb: request.memory_mb,
            fuel: request.fuel,
            default_timeout_ms: limits.timeout_ms,
            default_memory_mb: limits.memory_mb,
        };
        if let Err(message) = quotas.fit(&mut asked) {
            state.access.metrics.refused("limits");
            return Err(Error::OverQuota(message).into());
        }
        (request.timeout_ms, request.memory_mb) = (asked.timeout_ms, asked.memory_mb);
    }
    // An idempotency key names a workload within its tenant.
    let key = idempotency_key(headers)?.map(|key| format!("{}/{key}", caller.tenant));
    let policy = state.policy.policy();
    let mut accepted = state.workloads.accept(request, &policy)?;
    accepted.tenant.clone_from(&caller.tenant);
    accepted.key_id.clone_from(&caller.key_id);
    if prefers_async(headers) {
        return Ok(where_it_is(queue(state, accepted, key).await?, true));
    }
    let ticket = match state.admission.try_admit() {
        Some(ticket) => ticket,
        // This agent is full, others may not be: the queue, and the answer once it has run.
        None if state.workloads.history.shared() => {
            let queued = queue(state, accepted, key).await?;
            let ended = match queued.status.is_final() {
                true => Some(queued),
                false => state.workloads.wait_finished(&queued.id, SYNC_WAIT).await?,
            };
            let ended = ended.ok_or_else(|| Error::NotFound("the queued workload".into()))?;
            return Ok(where_it_is(ended, true));
        }
        None => {
            state.workloads.metrics.rejected.inc();
            return Err(Error::Overloaded.into());
        }
    };
    // Admitted: a client that hangs up cannot stop the record being written.
    let workloads = state.workloads.clone();
    let answer = state
        .holding(ticket, "workload", async move {
            if key.is_none() && !workloads.history.shared() {
                // Nobody can ask for it before it ends: recorded when it has.
                let record = workloads.run(accepted).await;
                let recorded = workloads.record(record.clone()).await;
                return Ok(WorkloadRecord::new(record, recorded).into_response());
            }
            // Its row first, claimed by this agent: a retry of its key finds it, and other
            // agents run it again if this one is lost.
            match workloads.submit(&accepted, key, true).await? {
                Submitted::New(Some(claim)) => {
                    let (record, recorded) = workloads.run_claimed(accepted, &claim).await;
                    Ok(WorkloadRecord::new(record, recorded).into_response())
                }
                Submitted::New(None) => Err(Error::Engine(
                    "a claimed submission came back unclaimed".into(),
                )),
                Submitted::Existing(record) => {
                    let record = workloads.wait_finished(&record.id, SYNC_WAIT).await?;
                    let record = record
                        .ok_or_else(|| Error::NotFound("the idempotency key's workload".into()))?;
                    Ok(where_it_is(record, true))
                }
            }
        })
        .await??;
    Ok(answer)
}

/// Queues a workload for any agent (the queue's cap permitting): its record, or that of the
/// workload its idempotency key already names.
async fn queue(state: &AppState, accepted: Accepted, key: Option<String>) -> Result<Record, Error> {
    let workloads = &state.workloads;
    let depth = workloads.history.queue_depth().await?;
    if depth >= workloads.queue.max_queued {
        workloads.metrics.rejected.inc();
        return Err(Error::QueueFull(depth));
    }
    Ok(match workloads.submit(&accepted, key, false).await? {
        Submitted::New(_) => accepted.pending(Status::Queued),
        Submitted::Existing(record) => *record,
    })
}

#[utoipa::path(
    get,
    path = "/v1/workloads/{id}",
    tag = "workloads",
    params(("id" = String, Path, description = "The workload's id"), GetParams),
    responses(
        (status = 200, description = "The recorded workload", body = WorkloadRecord),
        (status = 400, description = "Unknown or invalid query parameter (`wait` out of 0–60)", body = ErrorBody),
        (status = 404, description = "No workload with that id", body = ErrorBody),
        (status = 503, description = "The history store is unavailable", body = ErrorBody),
    )
)]
pub async fn workloads_get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<GetParams>,
) -> Result<WorkloadRecord, AppError> {
    let wait = params.wait.unwrap_or(0);
    if wait > MAX_WAIT_SECS {
        let message = format!("wait must be between 0 and {MAX_WAIT_SECS} seconds, got {wait}");
        return Err(Error::InvalidRequest(message).into());
    }
    let workloads = &state.workloads;
    let record = match wait {
        0 => workloads.history.get(id.clone()).await?,
        _ => {
            workloads
                .wait_finished(&id, Duration::from_secs(wait))
                .await?
        }
    };
    // Another tenant's workload is not found, so ids do not tell what exists.
    match record.filter(|record| caller.may_read(&record.tenant)) {
        Some(record) => Ok(WorkloadRecord::new(record, true)),
        None => Err(Error::NotFound(format!("workload {id}")).into()),
    }
}

/// How long to wait for the workload to end.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GetParams {
    /// Seconds (0–60) to wait for a queued or running workload to end before answering with
    /// it as it is then (long polling); 0 by default.
    #[param(minimum = 0, maximum = 60)]
    pub wait: Option<u64>,
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
    Extension(caller): Extension<Caller>,
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
        tenant: caller.history_tenant().map(str::to_owned),
    };
    Ok(Json(state.workloads.history.list(query).await?))
}
