//! `/v1/tenants` (admin): tenants' own quotas; `/v1/usage`: what tenants' workloads used.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{AppError, ErrorBody};
use super::extract::{ApiJson, ApiQuery};
use super::state::AppState;
use crate::access::Caller;
use crate::access::keys::check_tenant;
use crate::access::quotas::{QuotaOverrides, Quotas};
use crate::error::Error;
use crate::store::{TenantUsage, now_ms};

/// A tenant's quotas: its own, and those in force (its own over the agent's defaults).
#[derive(Serialize, ToSchema)]
pub struct TenantQuotas {
    pub tenant: String,
    pub own: QuotaOverrides,
    pub effective: Quotas,
}

#[utoipa::path(
    get,
    path = "/v1/tenants",
    tag = "access",
    responses((status = 200, description = "Tenants with quotas of their own", body = Vec<TenantQuotas>))
)]
pub async fn tenants_list(
    State(state): State<AppState>,
) -> Result<Json<Vec<TenantQuotas>>, AppError> {
    let tenants = state.workloads.history.quotas().await?;
    let defaults = state.access.defaults;
    Ok(Json(
        tenants
            .into_iter()
            .map(|(tenant, own)| TenantQuotas {
                effective: defaults.with(&own),
                tenant,
                own,
            })
            .collect(),
    ))
}

#[utoipa::path(
    put,
    path = "/v1/tenants/{tenant}",
    tag = "access",
    params(("tenant" = String, Path, description = "The tenant")),
    request_body = QuotaOverrides,
    responses(
        (status = 200, description = "Set; every agent applies them within a second", body = TenantQuotas),
        (status = 400, description = "Invalid tenant or quota", body = ErrorBody),
        (status = 413, description = "Body over its size limit", body = ErrorBody),
        (status = 415, description = "Content type is not application/json", body = ErrorBody),
    )
)]
pub async fn tenants_put(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    ApiJson(own): ApiJson<QuotaOverrides>,
) -> Result<Json<TenantQuotas>, AppError> {
    check_tenant(&tenant).map_err(Error::InvalidRequest)?;
    own.check().map_err(Error::InvalidRequest)?;
    state.workloads.history.set_quotas(&tenant, &own).await?;
    state.access.forget_all();
    tracing::info!(tenant, quotas = ?own, "tenant quotas set");
    Ok(Json(TenantQuotas {
        effective: state.access.defaults.with(&own),
        tenant,
        own,
    }))
}

/// Which usage to sum.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageParams {
    /// Workloads created at or after this time (milliseconds since the Unix epoch); the last
    /// 24 hours by default.
    #[param(minimum = 0)]
    pub since_ms: Option<i64>,
}

/// What tenants' workloads used, from the history kept.
#[derive(Serialize, ToSchema)]
pub struct Usage {
    pub since_ms: i64,
    /// The caller's tenant; every tenant for an admin key.
    pub tenants: Vec<TenantUsage>,
}

#[utoipa::path(
    get,
    path = "/v1/usage",
    tag = "access",
    params(UsageParams),
    responses(
        (status = 200, description = "Workloads ended, their time in the tiers and CPU time, per tenant", body = Usage),
        (status = 400, description = "Unknown or invalid query parameter", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
pub async fn usage_get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiQuery(params): ApiQuery<UsageParams>,
) -> Result<Json<Usage>, AppError> {
    let since_ms = params.since_ms.unwrap_or_else(|| now_ms() - 86_400_000);
    if since_ms < 0 {
        return Err(
            Error::InvalidRequest(format!("since_ms must be 0 or more, got {since_ms}")).into(),
        );
    }
    let tenant = caller.history_tenant().map(str::to_owned);
    let tenants = state.workloads.history.usage(tenant, since_ms).await?;
    Ok(Json(Usage { since_ms, tenants }))
}
