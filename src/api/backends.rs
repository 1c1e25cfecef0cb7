//! `/v1/backends` (the tiers, their health and limits) and `/v1/route` (a routing dry run).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{AppError, ErrorBody};
use super::extract::ApiJson;
use super::state::AppState;
use super::workloads::{fuel_within, route_error};
use crate::backend::{BackendKind, Capabilities, Health, Language};
use crate::router::{self, Isolation, Policy, Route, RouteRequest};

#[derive(Serialize, ToSchema)]
pub struct BackendsResponse {
    /// The policy `auto` follows.
    pub policy: Policy,
    /// Every tier Vulcan knows, configured or not.
    pub backends: Vec<BackendInfo>,
}

#[derive(Serialize, ToSchema)]
pub struct BackendInfo {
    pub kind: BackendKind,
    /// Whether workloads can be sent to it now.
    pub available: bool,
    pub health: Health,
    /// Languages, fuel metering, and each limit's minimum, default and maximum.
    /// Absent for a tier that is not configured.
    pub capabilities: Option<Capabilities>,
}

#[utoipa::path(
    get,
    path = "/v1/backends",
    tag = "backends",
    responses((status = 200, description = "Every tier with its health and limits", body = BackendsResponse))
)]
pub async fn backends_list(State(state): State<AppState>) -> Json<BackendsResponse> {
    let backends = BackendKind::ALL
        .into_iter()
        .map(|kind| match state.backend(kind) {
            Some(backend) => {
                let health = backend.health();
                BackendInfo {
                    kind,
                    available: health.healthy,
                    health,
                    capabilities: Some(backend.capabilities()),
                }
            }
            None => BackendInfo {
                kind,
                available: false,
                health: Health {
                    healthy: false,
                    detail: "not configured on this agent".into(),
                },
                capabilities: None,
            },
        })
        .collect();
    Json(BackendsResponse {
        policy: state.policy,
        backends,
    })
}

/// What routing looks at; the same fields as a workload request, without the code.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteQuery {
    #[serde(default)]
    pub language: Language,
    #[serde(default)]
    pub isolation: Isolation,
    #[schema(minimum = 1)]
    pub fuel: Option<u64>,
}

#[utoipa::path(
    post,
    path = "/v1/route",
    tag = "backends",
    request_body = RouteQuery,
    responses(
        (status = 200, description = "The tier that would run it, and why", body = Route),
        (status = 400, description = "Malformed request, fuel out of range, or fuel asked of a tier that cannot meter it", body = ErrorBody),
        (status = 413, description = "Body over its size limit", body = ErrorBody),
        (status = 415, description = "Content type is not application/json", body = ErrorBody),
        (status = 503, description = "No tier could run it", body = ErrorBody),
    )
)]
pub async fn route_preview(
    State(state): State<AppState>,
    ApiJson(query): ApiJson<RouteQuery>,
) -> Result<Json<Route>, AppError> {
    let request = RouteRequest {
        isolation: query.isolation,
        language: query.language,
        fuel_requested: query.fuel.is_some(),
    };
    let route = router::route(&request, &state.tier_states(), state.policy).map_err(route_error)?;
    fuel_within(query.fuel, &state.capabilities(route.backend))?;
    Ok(Json(route))
}
