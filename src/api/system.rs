//! Liveness (`/healthz`) and Prometheus metrics (`/metrics`).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use super::state::AppState;
use crate::backend::BackendKind;

#[derive(Serialize, ToSchema)]
pub struct Healthz {
    /// `ok` when at least one tier can run workloads, `draining` once the agent has been
    /// told to stop (it still answers, but should be sent nothing new), else `unavailable`.
    pub status: String,
    /// The configured tiers and whether each is healthy.
    pub backends: Vec<TierHealth>,
}

#[derive(Serialize, ToSchema)]
pub struct TierHealth {
    pub kind: BackendKind,
    pub healthy: bool,
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "system",
    responses(
        (status = 200, description = "At least one tier is healthy", body = Healthz),
        (status = 503, description = "No tier is healthy, or the agent is draining", body = Healthz),
    )
)]
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Healthz>) {
    let backends: Vec<_> = state
        .workloads
        .backends
        .iter()
        .map(|backend| TierHealth {
            kind: backend.kind(),
            healthy: backend.health().healthy,
        })
        .collect();
    let up = backends.iter().any(|tier| tier.healthy);
    let (code, status) = match (*state.draining.borrow(), up) {
        (true, _) => (StatusCode::SERVICE_UNAVAILABLE, "draining"),
        (false, true) => (StatusCode::OK, "ok"),
        (false, false) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    };
    let body = Healthz {
        status: status.into(),
        backends,
    };
    (code, Json(body))
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "system",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String))
)]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let workloads = &state.workloads;
    match workloads.history.queue_depth().await {
        Ok(depth) => workloads.metrics.queue_depth.set(depth as i64),
        Err(err) => tracing::warn!(error = %err, "reading the queue's depth failed"),
    }
    for kind in BackendKind::ALL {
        let up = workloads
            .backend(kind)
            .is_some_and(|backend| backend.health().healthy);
        workloads.metrics.set_backend_up(kind, up);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        workloads.metrics.render(),
    )
}
