//! Who may do what, with no HTTP in sight: API keys ([`keys`]) naming a tenant and scopes
//! ([`Scope`]), read from the store through a short-lived cache (`cache.rs`), and tenants'
//! quotas ([`quotas`]). With access control off, every caller is the `default` tenant with
//! every scope and no quotas but the agent's own.

mod cache;
pub mod keys;
pub mod metrics;
pub mod quotas;
mod scope;

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use utoipa::ToSchema;

pub use cache::FRESH_FOR;
pub use scope::{Scope, Scopes};

use crate::error::{Error, Result};
use crate::store::{DEFAULT_TENANT, FoundKey, KeyState, Store, now_ms};
use cache::KeyCache;
use metrics::AccessMetrics;
use quotas::{Meters, Pass, Quotas, RateState, Refused};

/// Whether requests need an API key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    Off,
    Required,
}

/// Who is asking: a tenant's key, or anyone when access control is off.
#[derive(Clone, Debug)]
pub struct Caller {
    pub tenant: String,
    pub key_id: Option<String>,
    pub scopes: Scopes,
    /// The tenant's quotas; `None` when access control is off.
    pub quotas: Option<Quotas>,
}

impl Caller {
    pub fn anonymous() -> Caller {
        Caller {
            tenant: DEFAULT_TENANT.to_owned(),
            key_id: None,
            scopes: Scopes::all(),
            quotas: None,
        }
    }

    /// The one tenant whose history this caller may read; `None` for every tenant's (admin).
    pub fn history_tenant(&self) -> Option<&str> {
        match self.scopes.contains(Scope::Admin) {
            true => None,
            false => Some(&self.tenant),
        }
    }

    /// Whether this caller may read a workload of `tenant`.
    pub fn may_read(&self, tenant: &str) -> bool {
        self.history_tenant().is_none_or(|own| own == tenant)
    }

    /// Refuses what the caller's scopes do not allow.
    pub fn require(&self, scope: Scope) -> Result<()> {
        match self.scopes.allow(scope) {
            true => Ok(()),
            false => Err(Error::Forbidden(format!(
                "this key's scopes ({}) do not include {}",
                self.scopes,
                scope.as_str()
            ))),
        }
    }
}

/// A workload admitted under its tenant's quotas: its place in flight until dropped.
#[derive(Default)]
pub struct Admitted {
    _pass: Option<Pass>,
    /// Where the tenant's rate stands, when it has one.
    pub rate: Option<RateState>,
}

/// Access control of one agent: its mode, the keys it has read, tenants' meters.
pub struct Access {
    pub mode: AuthMode,
    store: Arc<dyn Store>,
    cache: KeyCache,
    /// Quotas of a tenant with none of its own.
    pub defaults: Quotas,
    pub meters: Meters,
    pub metrics: AccessMetrics,
    /// SHA-256 of the token Prometheus may read `/metrics` with, besides admin keys.
    metrics_token_hash: Option<String>,
}

impl Access {
    pub fn new(
        mode: AuthMode,
        store: Arc<dyn Store>,
        defaults: Quotas,
        metrics: AccessMetrics,
        metrics_token: Option<&str>,
    ) -> Access {
        Access {
            mode,
            store,
            cache: KeyCache::default(),
            defaults,
            meters: Meters::default(),
            metrics,
            metrics_token_hash: metrics_token.map(keys::hash),
        }
    }

    /// Who presents `token` (the bearer token of a request, if any): refused when access
    /// control is on and the key is missing, unknown, revoked or expired.
    pub async fn authenticate(&self, token: Option<&str>) -> Result<Caller> {
        if self.mode == AuthMode::Off {
            return Ok(Caller::anonymous());
        }
        let token = token.ok_or_else(|| {
            Error::Unauthenticated("an API key is needed: Authorization: Bearer <key>".into())
        })?;
        let invalid = || Error::Unauthenticated("invalid API key".into());
        let id = keys::id_of(token).ok_or_else(invalid)?;
        let found = match self.cache.fresh(id) {
            Some(found) => found,
            None => {
                let read_at = Instant::now();
                let found = self.store.key(id).await?.map(Arc::new);
                self.cache.put(id, found.clone(), read_at);
                found
            }
        };
        let found = found.ok_or_else(invalid)?;
        let FoundKey { key, quotas } = &*found;
        if !keys::verify(token, &key.hash) {
            return Err(invalid());
        }
        match key.state(now_ms()) {
            KeyState::Active => {}
            KeyState::Revoked => {
                let message = format!("API key {} was revoked", key.id);
                return Err(Error::Unauthenticated(message));
            }
            KeyState::Expired => {
                return Err(Error::Unauthenticated(format!(
                    "API key {} expired",
                    key.id
                )));
            }
        }
        Ok(Caller {
            tenant: key.tenant.clone(),
            key_id: Some(key.id.clone()),
            scopes: key.scopes,
            quotas: Some(self.defaults.with(quotas)),
        })
    }

    /// Takes a place among the caller's tenant's workloads in flight on this agent and a token
    /// of its rate; refused (and counted) past either, with the rate's state for headers.
    pub fn admit(&self, caller: &Caller) -> Result<Admitted, (Error, Option<RateState>)> {
        let Some(quotas) = &caller.quotas else {
            return Ok(Admitted::default());
        };
        // The tenant's name is copied only into a refusal, off the admitted path.
        let tenant = || caller.tenant.clone();
        match self.meters.admit(&caller.tenant, quotas) {
            Ok((pass, rate)) => {
                self.metrics.submitted(&caller.tenant);
                Ok(Admitted {
                    _pass: Some(pass),
                    rate,
                })
            }
            Err(Refused::InFlight { limit }) => {
                self.metrics.refused("in_flight");
                let tenant = tenant();
                Err((Error::TenantBusy { tenant, limit }, None))
            }
            Err(Refused::Rate {
                retry_after_secs,
                state,
            }) => {
                self.metrics.refused("rate");
                let err = Error::RateLimited {
                    tenant: tenant(),
                    retry_after_secs,
                };
                Err((err, Some(state)))
            }
        }
    }

    /// Whether `token` is the metrics token.
    pub fn is_metrics_token(&self, token: Option<&str>) -> bool {
        match (&self.metrics_token_hash, token) {
            (Some(hash), Some(token)) => keys::verify(token, hash),
            _ => false,
        }
    }

    /// Reads this key from the store again on its next use (revoked here).
    pub fn forget(&self, id: &str) {
        self.cache.forget(id);
    }

    /// Reads every key again on its next use (a tenant's quotas changed here).
    pub fn forget_all(&self) {
        self.cache.clear();
    }
}
