//! `POST /v1/experiments/limits`: one workload run N times on the wasm tier under both a fuel
//! budget and a timeout; which stopped it, and how stable fuel and time were.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::{AppError, ErrorBody};
use super::extract::ApiJson;
use super::state::AppState;
use crate::backend::Metadata;
use crate::error::Error;
use crate::experiment::limits::{LimitRun, LimitsReport};
use crate::router::Isolation;
use crate::workloads::WorkloadRequest;

const MAX_RUNS: u32 = 50;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsExperiment {
    /// The workload; its `isolation`, `fuel` and `timeout_ms` are replaced by the ones below.
    pub workload: WorkloadRequest,
    /// The fuel budget of every run.
    #[schema(minimum = 1)]
    pub fuel: u64,
    /// The wall-clock budget of every run.
    #[schema(minimum = 1)]
    pub timeout_ms: u64,
    /// How many runs (1–50, and at most `--max-experiment-runs`; default 10).
    #[schema(minimum = 1, maximum = 50)]
    pub runs: Option<u32>,
}

#[utoipa::path(
    post,
    path = "/v1/experiments/limits",
    tag = "experiments",
    request_body = LimitsExperiment,
    responses(
        (status = 200, description = "What stopped each run; fuel and time with their spread", body = LimitsReport),
        (status = 400, description = "Malformed request, or a limit out of the wasm tier's range", body = ErrorBody),
        (status = 408, description = "The body did not arrive within `--body-read-timeout-ms`; the connection is then closed", body = ErrorBody),
        (status = 413, description = "Body, code or input over its size limit", body = ErrorBody),
        (status = 415, description = "Content type is not application/json", body = ErrorBody),
        (status = 429, description = "Too many workloads in flight; see Retry-After", body = ErrorBody),
        (status = 503, description = "The wasm tier is unavailable", body = ErrorBody),
    )
)]
pub async fn limits_experiment(
    State(state): State<AppState>,
    ApiJson(experiment): ApiJson<LimitsExperiment>,
) -> Result<Json<LimitsReport>, AppError> {
    let runs = experiment.runs.unwrap_or(10);
    let max = u64::from(MAX_RUNS).min(state.workloads.limits.max_experiment_runs);
    if !(1..=max).contains(&u64::from(runs)) {
        let message = format!("runs must be between 1 and {max}, got {runs}");
        return Err(Error::InvalidRequest(message).into());
    }
    let mut request = experiment.workload;
    // Replaced below, but a workload that could not be submitted is refused here too.
    for (name, value) in [("timeout_ms", request.timeout_ms), ("fuel", request.fuel)] {
        if value == Some(0) {
            let message = format!("workload.{name} must be at least 1, got 0");
            return Err(Error::InvalidRequest(message).into());
        }
    }
    request.isolation = Isolation::Wasm;
    request.fuel = Some(experiment.fuel);
    request.timeout_ms = Some(experiment.timeout_ms);
    let policy = state.policy.policy();
    // The first run is accepted up front, so a bad limit is a 400 before anything runs; the
    // later ones are routed again as they come (a tier may have gone down in between).
    let mut first = Some(state.workloads.accept(request.clone(), &policy)?);
    // Admitted: a client that hangs up does not cut a run short.
    let running = state.clone();
    let work = async move {
        let mut measured = Vec::new();
        for _ in 0..runs {
            let accepted = match first.take() {
                Some(accepted) => accepted,
                None => running.workloads.accept(request.clone(), &policy)?,
            };
            let record = running.workloads.run(accepted).await;
            let fuel_consumed = match record.metadata {
                Some(Metadata::Wasm(wasm)) => wasm.fuel_consumed,
                _ => 0,
            };
            measured.push(LimitRun {
                status: record.status,
                fuel_consumed,
                duration_ms: record.duration_ms,
            });
        }
        Ok::<_, Error>((measured, running.calibration()))
    };
    let (measured, calibration) = state.admitted("experiment", work).await??;
    Ok(Json(LimitsReport::new(
        experiment.fuel,
        experiment.timeout_ms,
        measured,
        calibration.as_ref(),
    )))
}
