//! `/v1/keys` (admin): make, list and revoke API keys. A key is shown once, in the answer
//! that makes it; the store keeps only its hash.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{AppError, ErrorBody};
use super::extract::ApiJson;
use super::state::AppState;
use crate::access::keys::{self, KeyRequest};
use crate::access::{Caller, Scope, Scopes};
use crate::error::Error;
use crate::store::{ApiKey, now_ms};

/// A key as listed: never the key itself.
#[derive(Serialize, ToSchema)]
pub struct KeyInfo {
    /// The key's id, also its visible prefix (`vk_<id>_…`).
    pub id: String,
    pub tenant: String,
    pub scopes: Vec<Scope>,
    pub name: Option<String>,
    pub created_at_ms: i64,
    pub expires_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
    /// `active`, `revoked` or `expired`.
    pub state: String,
}

impl From<ApiKey> for KeyInfo {
    fn from(key: ApiKey) -> Self {
        let state = key.state(now_ms()).as_str().into();
        KeyInfo {
            id: key.id,
            tenant: key.tenant,
            scopes: key.scopes.iter().collect(),
            name: key.name,
            created_at_ms: key.created_at_ms,
            expires_at_ms: key.expires_at_ms,
            revoked_at_ms: key.revoked_at_ms,
            state,
        }
    }
}

/// A key to make.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// The tenant whose workloads the key runs and reads: 1 to 64 of `a-z 0-9 . _ -`.
    #[schema(pattern = r"^[a-z0-9][a-z0-9._-]{0,63}$")]
    pub tenant: String,
    /// At least one of `run`, `read`, `admin`.
    #[schema(min_items = 1)]
    pub scopes: Vec<Scope>,
    /// Lifetime in seconds; no expiry when absent.
    #[schema(minimum = 1, maximum = 3_153_600_000_u64)]
    pub expires_in_secs: Option<u64>,
    /// A note to tell keys apart (1 to 128 characters, no control characters).
    #[schema(min_length = 1, max_length = 128, pattern = r"^[^\x00-\x1f\x7f]+$")]
    pub name: Option<String>,
}

/// A key just made: the key itself, shown this once, and its details.
#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    /// `Authorization: Bearer <key>`. Not shown again: the store keeps only its hash.
    pub key: String,
    #[serde(flatten)]
    pub info: KeyInfo,
}

#[utoipa::path(
    get,
    path = "/v1/keys",
    tag = "access",
    responses((status = 200, description = "Every key, newest first (never the keys themselves)", body = Vec<KeyInfo>))
)]
pub async fn keys_list(State(state): State<AppState>) -> Result<Json<Vec<KeyInfo>>, AppError> {
    let keys = state.workloads.history.keys().await?;
    Ok(Json(keys.into_iter().map(KeyInfo::from).collect()))
}

#[utoipa::path(
    post,
    path = "/v1/keys",
    tag = "access",
    request_body = NewKey,
    responses(
        (status = 201, description = "Made; the key is in this answer only", body = CreatedKey),
        (status = 400, description = "Invalid tenant, scopes, lifetime or name", body = ErrorBody),
        (status = 413, description = "Body over its size limit", body = ErrorBody),
        (status = 415, description = "Content type is not application/json", body = ErrorBody),
    )
)]
pub async fn keys_create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(new): ApiJson<NewKey>,
) -> Result<(StatusCode, Json<CreatedKey>), AppError> {
    if new.scopes.is_empty() {
        return Err(Error::InvalidRequest("at least one scope is needed".into()).into());
    }
    let lifetime = match new.expires_in_secs {
        Some(secs @ 1..=3_153_600_000) => Some(Duration::from_secs(secs)),
        Some(secs) => {
            let message = format!("expires_in_secs must be between 1 and 3153600000, got {secs}");
            return Err(Error::InvalidRequest(message).into());
        }
        None => None,
    };
    let request = KeyRequest {
        tenant: new.tenant,
        scopes: Scopes::from_iter(new.scopes),
        expires_in: lifetime,
        name: new.name,
    };
    let (token, key) = keys::create(state.workloads.history.as_ref(), request).await?;
    tracing::info!(key = key.id, tenant = key.tenant, scopes = %key.scopes, by = ?caller.key_id, "API key created");
    let created = CreatedKey {
        key: token,
        info: key.into(),
    };
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(
    delete,
    path = "/v1/keys/{id}",
    tag = "access",
    params(("id" = String, Path, description = "The key's id")),
    responses(
        (status = 200, description = "Revoked (or already was): every agent refuses it within a second", body = KeyInfo),
        (status = 404, description = "No key with that id", body = ErrorBody),
    )
)]
pub async fn keys_revoke(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<KeyInfo>, AppError> {
    let revoked = state.workloads.history.revoke_key(&id, now_ms()).await?;
    let key = revoked.ok_or_else(|| Error::NotFound(format!("API key {id}")))?;
    state.access.forget(&key.id);
    tracing::info!(key = key.id, tenant = key.tenant, by = ?caller.key_id, "API key revoked");
    Ok(Json(key.into()))
}
