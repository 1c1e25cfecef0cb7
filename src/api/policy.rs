//! `/v1/policy`: the routing policy `auto` follows, read or replaced.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{AppError, ErrorBody};
use super::extract::ApiJsonValue;
use super::state::AppState;
use crate::error::Error;
use crate::policy::{BUILT_IN, Installed, PolicyChoice, RoutingPolicy, built_in};

#[derive(Serialize, ToSchema)]
pub struct PolicyResponse {
    /// The policy `auto` follows now, and where it came from.
    pub installed: Installed,
    /// The built-in policies, in the same format, for reference or as a starting point.
    pub built_in: Vec<RoutingPolicy>,
}

fn response(state: &AppState) -> PolicyResponse {
    PolicyResponse {
        installed: state.policy.current(),
        built_in: BUILT_IN
            .iter()
            .map(|(name, _)| built_in(name).expect("built-in policies are tested"))
            .collect(),
    }
}

#[utoipa::path(
    get,
    path = "/v1/policy",
    tag = "backends",
    responses((status = 200, description = "The installed routing policy and the built-in ones", body = PolicyResponse))
)]
pub async fn policy_get(State(state): State<AppState>) -> Json<PolicyResponse> {
    Json(response(&state))
}

#[utoipa::path(
    put,
    path = "/v1/policy",
    tag = "backends",
    request_body(content = PolicyChoice, description = "A built-in policy's name, or a whole policy"),
    responses(
        (status = 200, description = "Installed; workloads routed from now on follow it. A restart goes back to `--policy`.", body = PolicyResponse),
        (status = 400, description = "The policy does not parse or validate; the installed one is kept", body = ErrorBody),
        (status = 408, description = "The body did not arrive within `--body-read-timeout-ms`; the connection is then closed", body = ErrorBody),
        (status = 413, description = "Body over its size limit", body = ErrorBody),
        (status = 415, description = "Content type is not application/json", body = ErrorBody),
    )
)]
pub async fn policy_put(
    State(state): State<AppState>,
    ApiJsonValue(choice): ApiJsonValue<PolicyChoice>,
) -> Result<Json<PolicyResponse>, AppError> {
    let source = match &choice {
        PolicyChoice::Named(_) => "built-in",
        PolicyChoice::Inline(_) => "api",
    };
    let policy: Arc<RoutingPolicy> = choice.resolve().map_err(Error::InvalidPolicy)?;
    tracing::info!(policy = policy.name, source, "routing policy installed");
    state.policy.install(Installed {
        policy,
        source: source.into(),
    });
    Ok(Json(response(&state)))
}
