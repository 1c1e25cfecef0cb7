//! `/v1/backends` (the tiers, their health and limits) and `/v1/route` (a routing dry run).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{AppError, ErrorBody};
use super::extract::ApiJson;
use super::state::AppState;
use crate::backend::{BackendKind, Capabilities, Health, Language};
use crate::error::Error;
use crate::experiment::calibration::Calibration;
use crate::policy::PolicyChoice;
use crate::router::{Isolation, Route, RouteRequest};

#[derive(Serialize, ToSchema)]
pub struct BackendsResponse {
    /// The name of the policy `auto` follows (`GET /v1/policy` has all of it).
    pub policy: String,
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
    /// The wasm tier's fuel per millisecond on this machine, once `POST /v1/calibrate` has
    /// run (`vulcan calibrate`); absent otherwise and for the isolate tier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
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
        .map(|kind| match state.workloads.backend(kind) {
            Some(backend) => {
                let health = backend.health();
                BackendInfo {
                    kind,
                    available: health.healthy,
                    health,
                    capabilities: Some(backend.capabilities()),
                    calibration: match kind {
                        BackendKind::Wasm => state.calibration(),
                        BackendKind::Isolate => None,
                    },
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
                calibration: None,
            },
        })
        .collect();
    Json(BackendsResponse {
        policy: state.policy.policy().name.clone(),
        backends,
    })
}

/// What routing looks at: a workload request's fields, with the code or just its size, and
/// optionally a policy to try instead of the installed one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteQuery {
    /// The code, whose size rules can match; or give `code_bytes`.
    pub code: Option<String>,
    /// At most `--max-code-bytes`.
    pub code_bytes: Option<u64>,
    #[serde(default)]
    pub language: Language,
    #[serde(default)]
    pub isolation: Isolation,
    #[schema(minimum = 1)]
    pub timeout_ms: Option<u64>,
    #[schema(minimum = 1)]
    pub memory_mb: Option<u64>,
    #[schema(minimum = 1)]
    pub fuel: Option<u64>,
    #[schema(pattern = r"^[A-Za-z0-9._ -]{1,64}$")]
    pub tag: Option<String>,
    /// A built-in policy's name or a whole policy; the installed one when absent.
    pub policy: Option<PolicyChoice>,
}

#[utoipa::path(
    post,
    path = "/v1/route",
    tag = "backends",
    request_body = RouteQuery,
    responses(
        (status = 200, description = "The tier that would run it, and why", body = Route),
        (status = 400, description = "Malformed request or policy, limits out of range, or fuel asked of a tier that cannot meter it", body = ErrorBody),
        (status = 408, description = "The body did not arrive within `--body-read-timeout-ms`; the connection is then closed", body = ErrorBody),
        (status = 413, description = "Body over its size limit", body = ErrorBody),
        (status = 415, description = "Content type is not application/json", body = ErrorBody),
        (status = 422, description = "The routing policy names no tier that could ever run it", body = ErrorBody),
        (status = 503, description = "No tier could run it", body = ErrorBody),
    )
)]
pub async fn route_preview(
    State(state): State<AppState>,
    ApiJson(query): ApiJson<RouteQuery>,
) -> Result<Json<Route>, AppError> {
    let policy = match query.policy {
        Some(choice) => choice.resolve().map_err(Error::InvalidPolicy)?,
        None => state.policy.policy(),
    };
    let code_bytes = match (&query.code, query.code_bytes) {
        (Some(_), Some(_)) => {
            let message = "give code or code_bytes, not both".to_owned();
            return Err(Error::InvalidRequest(message).into());
        }
        (Some(code), None) => code.len() as u64,
        (None, bytes) => bytes.unwrap_or(0),
    };
    let limits = &state.workloads.limits;
    let max = limits.max_code_bytes;
    if code_bytes > max {
        let message = format!("code_bytes must be at most {max}, got {code_bytes}");
        return Err(Error::InvalidRequest(message).into());
    }
    let request = RouteRequest {
        isolation: query.isolation,
        language: query.language,
        code_bytes,
        timeout_ms: query.timeout_ms.unwrap_or(limits.timeout_ms),
        memory_mb: query.memory_mb.unwrap_or(limits.memory_mb),
        fuel: query.fuel,
        tag: query.tag,
    };
    Ok(Json(state.workloads.plan(&request, &policy)?.0))
}
