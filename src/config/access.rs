//! Access control's flags (`vulcan serve`) and the `vulcan keys` and `vulcan tenants`
//! commands, which work on the agent's store.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::store_location;
use crate::access::AuthMode;
use crate::store::StoreLocation;

/// Access control: API keys, and tenants' default quotas.
#[derive(Clone, Debug, Args)]
pub struct AccessArgs {
    /// Whether requests need an API key (`Authorization: Bearer`): `required` or `off`
    /// [default: off when listening on loopback; elsewhere the agent refuses to start
    /// until told].
    #[arg(long, env = "VULCAN_AUTH", value_enum)]
    pub auth: Option<AuthMode>,
    /// A bearer token that may read `/metrics` besides admin keys (for Prometheus).
    #[arg(long, env = "VULCAN_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Tenants that `vulcan_tenant_workloads_total` names (comma-separated); the rest are
    /// counted as `other`.
    #[arg(long, env = "VULCAN_METRICS_TENANTS", value_delimiter = ',')]
    pub metrics_tenants: Vec<String>,
    /// A tenant's workloads in flight on one agent at most, unless it has its own quota
    /// (0: no cap).
    #[arg(long, env = "VULCAN_TENANT_MAX_IN_FLIGHT", default_value_t = 32)]
    pub tenant_max_in_flight: u64,
    /// Workloads per second a tenant may submit to one agent, on average, unless it has its
    /// own quota (0: no cap).
    #[arg(long, env = "VULCAN_TENANT_RATE", default_value_t = 100.0)]
    pub tenant_rate: f64,
    /// Workloads a tenant may submit at once above its rate, unless it has its own quota.
    #[arg(long, env = "VULCAN_TENANT_BURST", default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    pub tenant_burst: u64,
    /// Largest `timeout_ms` a tenant may ask for, unless it has its own quota
    /// [default: --max-timeout-ms].
    #[arg(long, env = "VULCAN_TENANT_MAX_TIMEOUT_MS")]
    pub tenant_max_timeout_ms: Option<u64>,
    /// Largest `memory_mb` a tenant may ask for, unless it has its own quota
    /// [default: --max-memory-mb].
    #[arg(long, env = "VULCAN_TENANT_MAX_MEMORY_MB")]
    pub tenant_max_memory_mb: Option<u64>,
    /// Largest `fuel` a tenant may ask for, unless it has its own quota
    /// [default: --max-fuel].
    #[arg(long, env = "VULCAN_TENANT_MAX_FUEL")]
    pub tenant_max_fuel: Option<u64>,
}

/// Which store a command works on (the agent's).
#[derive(Clone, Debug, Args)]
pub struct StoreArgs {
    /// The agent's data directory (its SQLite store is `vulcan.db` in it).
    #[arg(long, env = "VULCAN_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// The agent's store: `sqlite:PATH` or `postgres://…` [default: sqlite:<data-dir>/vulcan.db].
    #[arg(long, env = "VULCAN_STORE")]
    pub store: Option<StoreLocation>,
}

impl StoreArgs {
    pub fn location(&self) -> StoreLocation {
        store_location(&self.store, &self.data_dir)
    }
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it (it is shown this once; the store keeps only its hash).
    Create {
        /// The tenant whose workloads the key runs and reads: 1 to 64 of `a-z 0-9 . _ -`.
        #[arg(long)]
        tenant: String,
        /// What the key may do: `run`, `read`, `admin`, comma-separated.
        #[arg(long)]
        scopes: String,
        /// Lifetime, e.g. `30d`, `12h`, `90m`, `3600s` [default: no expiry].
        #[arg(long)]
        expires: Option<String>,
        /// A note to tell keys apart.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List keys (never the keys themselves).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a key by its id: every agent refuses it within a second.
    Revoke {
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// Set a tenant's own quotas (those not given keep the agents' defaults).
    Set {
        tenant: String,
        #[arg(long)]
        max_in_flight: Option<u64>,
        #[arg(long)]
        rate_per_sec: Option<f64>,
        #[arg(long)]
        burst: Option<u64>,
        #[arg(long)]
        max_timeout_ms: Option<u64>,
        #[arg(long)]
        max_memory_mb: Option<u64>,
        #[arg(long)]
        max_fuel: Option<u64>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List tenants with quotas of their own.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
}
