//! `/v1/whoami`: who the caller is to this agent (what the web page shows and enables).

use axum::extract::State;
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

use super::state::AppState;
use crate::access::quotas::Quotas;
use crate::access::{AuthMode, Caller, Scope};

#[derive(Serialize, ToSchema)]
pub struct WhoAmI {
    /// Whether this agent needs API keys.
    pub auth: AuthMode,
    pub tenant: String,
    /// `None` when access control is off.
    pub key_id: Option<String>,
    pub scopes: Vec<Scope>,
    /// The tenant's quotas in force; `None` when access control is off.
    pub quotas: Option<Quotas>,
}

#[utoipa::path(
    get,
    path = "/v1/whoami",
    tag = "access",
    responses((status = 200, description = "The caller's tenant, key, scopes and quotas", body = WhoAmI))
)]
pub async fn whoami(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Json<WhoAmI> {
    Json(WhoAmI {
        auth: state.access.mode,
        scopes: caller.scopes.iter().collect(),
        tenant: caller.tenant,
        key_id: caller.key_id,
        quotas: caller.quotas,
    })
}
