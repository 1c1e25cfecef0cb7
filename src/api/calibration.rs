//! `POST /v1/calibrate`: fuel per millisecond on this machine, from the reference workloads
//! run on the wasm tier; kept and shown by `GET /v1/backends` until the next calibration.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;

use super::error::{AppError, ErrorBody};
use super::state::AppState;
use crate::backend::{BackendKind, Language, Metadata, Status};
use crate::error::Error;
use crate::experiment::calibration::{Calibration, REFERENCE};
use crate::router::Isolation;
use crate::workloads::WorkloadRequest;

/// Runs of each reference workload; the median is kept.
const RUNS: usize = 5;

#[utoipa::path(
    post,
    path = "/v1/calibrate",
    tag = "experiments",
    responses(
        (status = 200, description = "Fuel per millisecond, overall and per reference workload", body = Calibration),
        (status = 429, description = "Too many workloads in flight; see Retry-After", body = ErrorBody),
        (status = 503, description = "The wasm tier is unavailable", body = ErrorBody),
    )
)]
pub async fn calibrate(State(state): State<AppState>) -> Result<Json<Calibration>, AppError> {
    // Admitted: a client that hangs up does not cut a run short.
    let running = state.clone();
    let calibration = state
        .admitted("calibration", async move {
            let mut measured = Vec::new();
            for (name, code) in REFERENCE {
                let mut runs = Vec::new();
                for _ in 0..RUNS {
                    runs.push(measure(&running, code).await?);
                }
                measured.push((name, runs));
            }
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_millis() as u64);
            let calibration = Calibration::from_runs(&measured, now_ms);
            running.set_calibration(calibration.clone());
            Ok::<_, Error>(calibration)
        })
        .await??;
    Ok(Json(calibration))
}

/// One run of `code` on the wasm tier: its fuel, and the time of the call itself. It asks for
/// the tier's largest fuel budget: only workloads with a budget run metered.
async fn measure(state: &AppState, code: &str) -> Result<(u64, f64), Error> {
    let fuel = state
        .workloads
        .backend(BackendKind::Wasm)
        .and_then(|wasm| wasm.capabilities().fuel_max);
    let request = WorkloadRequest {
        code: code.to_owned(),
        language: Language::Javascript,
        input: None,
        isolation: Isolation::Wasm,
        timeout_ms: None,
        memory_mb: None,
        fuel,
        tag: None,
        callback_url: None,
    };
    let accepted = state.workloads.accept(request, &state.policy.policy())?;
    let record = state.workloads.run(accepted).await;
    match (record.status, record.metadata) {
        (Status::Succeeded, Some(Metadata::Wasm(wasm))) => {
            Ok((wasm.fuel_consumed, record.duration_ms - wasm.instantiate_ms))
        }
        (status, _) => Err(Error::Engine(format!(
            "a reference workload ended {} instead of succeeding",
            status.as_str()
        ))),
    }
}
