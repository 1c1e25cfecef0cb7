//! `/v1/workloads`: run a workload, read one back, list the history.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::{AppError, ErrorBody};
use super::extract::{ApiJson, ApiQuery};
use super::record_json::WorkloadRecord;
use super::state::AppState;
use crate::backend::{BackendKind, Status};
use crate::error::Error;
use crate::store::{ListQuery, WorkloadSummary};
use crate::workloads::WorkloadRequest;

const DEFAULT_LIST_LIMIT: u32 = 50;
const MAX_LIST_LIMIT: u32 = 500;

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
) -> Result<WorkloadRecord, AppError> {
    let policy = state.policy.policy();
    let accepted = state.workloads.accept(request, &policy)?;
    // Admitted: a client that hangs up cannot stop the record being written.
    let workloads = state.workloads.clone();
    let answer = state
        .admitted("workload", async move {
            let record = workloads.run(accepted).await;
            let recorded = workloads.record(record.clone()).await;
            WorkloadRecord::new(record, recorded)
        })
        .await?;
    Ok(answer)
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
) -> Result<WorkloadRecord, AppError> {
    match state.workloads.history.get(id.clone()).await? {
        Some(record) => Ok(WorkloadRecord::new(record, true)),
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
    Ok(Json(state.workloads.history.list(query).await?))
}
