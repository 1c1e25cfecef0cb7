//! What the store keeps for access control: API keys (a hash of each, never the key),
//! tenants' own quotas, and tenants' usage read from the history.

use async_trait::async_trait;
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::Scopes;
use crate::access::quotas::QuotaOverrides;
use crate::error::Result;

/// An API key as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiKey {
    /// Its visible prefix (`vk_<id>_…`).
    pub id: String,
    pub tenant: String,
    pub scopes: Scopes,
    /// SHA-256 of the whole key, hex.
    pub hash: String,
    pub name: Option<String>,
    pub created_at_ms: i64,
    pub expires_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
}

/// Whether a key may be used now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    Active,
    Revoked,
    Expired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Revoked => "revoked",
            KeyState::Expired => "expired",
        }
    }
}

impl ApiKey {
    /// Its state at `now_ms` (milliseconds since the Unix epoch); revoked wins over expired.
    pub fn state(&self, now_ms: i64) -> KeyState {
        match (self.revoked_at_ms, self.expires_at_ms) {
            (Some(_), _) => KeyState::Revoked,
            (None, Some(expires)) if expires <= now_ms => KeyState::Expired,
            _ => KeyState::Active,
        }
    }
}

/// A key found by its id, with its tenant's own quotas.
#[derive(Clone, Debug)]
pub struct FoundKey {
    pub key: ApiKey,
    pub quotas: QuotaOverrides,
}

/// What a tenant's workloads used since a time, from the history kept.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct TenantUsage {
    pub tenant: String,
    /// Workloads ended.
    pub workloads: u64,
    /// Their time in the tiers.
    pub duration_ms: f64,
    /// CPU time they used (the wasm tier's guest time; the isolate host's CPU time while it
    /// ran the workload).
    pub cpu_ms: f64,
}

/// Keys and tenants, shared by every agent of a deployment.
#[async_trait]
pub trait AccessStore: Send + Sync {
    async fn create_key(&self, key: &ApiKey) -> Result<()>;

    /// Every key, newest first.
    async fn keys(&self) -> Result<Vec<ApiKey>>;

    async fn key(&self, id: &str) -> Result<Option<FoundKey>>;

    /// Revokes a key at `at_ms` (unless it was already): the key as it is now, or `None`
    /// when there is no such key.
    async fn revoke_key(&self, id: &str, at_ms: i64) -> Result<Option<ApiKey>>;

    async fn set_quotas(&self, tenant: &str, quotas: &QuotaOverrides) -> Result<()>;

    /// Tenants with quotas of their own.
    async fn quotas(&self) -> Result<Vec<(String, QuotaOverrides)>>;

    /// Usage of workloads created since `since_ms`, per tenant (only `tenant` when given).
    async fn usage(&self, tenant: Option<String>, since_ms: i64) -> Result<Vec<TenantUsage>>;
}

/// Scopes as stored: `run,read`.
pub(super) fn parse_scopes(text: &str) -> Result<Scopes> {
    Scopes::parse(text).map_err(|err| crate::error::Error::Store(format!("stored key: {err}")))
}

pub(super) fn parse_quotas(json: &str) -> Result<QuotaOverrides> {
    serde_json::from_str(json)
        .map_err(|err| crate::error::Error::Store(format!("stored quotas: {err}")))
}

pub(super) fn encode_quotas(quotas: &QuotaOverrides) -> String {
    serde_json::to_string(quotas).expect("quotas serialise")
}
