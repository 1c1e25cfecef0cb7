//! The crate's error type. A workload's failure is a `Status`, not an `Error`:
//! these are the agent's own faults and the client's mistakes.

use crate::backend::BackendKind;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client sent something we refuse to run (bad limits, bad code size, …).
    #[error("{0}")]
    InvalidRequest(String),
    /// A routing policy that does not parse or validate.
    #[error("invalid policy: {0}")]
    InvalidPolicy(String),
    /// A part of the request is over its size limit.
    #[error("{0}")]
    TooLarge(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("too many workloads in flight; retry later")]
    Overloaded,
    /// No API key, or one that is unknown, revoked or expired.
    #[error("{0}")]
    Unauthenticated(String),
    /// The key's scopes do not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// The tenant's rate quota is spent for now.
    #[error("tenant {tenant} is over its rate of workloads; retry in {retry_after_secs} s")]
    RateLimited {
        tenant: String,
        retry_after_secs: u64,
    },
    /// The tenant has its quota of workloads in flight on this agent.
    #[error("tenant {tenant} has {limit} workloads in flight, its quota; retry later")]
    TenantBusy { tenant: String, limit: u64 },
    /// Limits over the tenant's caps.
    #[error("{0}")]
    OverQuota(String),
    #[error("the queue holds {0} workloads, its limit; retry later")]
    QueueFull(u64),
    #[error("{reason}")]
    TierUnavailable { kind: BackendKind, reason: String },
    #[error("no tier is available to run this workload: {0}")]
    NoTierAvailable(String),
    /// The routing policy names no tier that could ever run the workload.
    #[error("the routing policy leaves no tier that can run this workload: {0}")]
    Unroutable(String),
    #[error("history store: {0}")]
    Store(String),
    #[error("wasm engine: {0}")]
    Engine(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        Error::Store(err.to_string())
    }
}

impl From<tokio_postgres::Error> for Error {
    fn from(err: tokio_postgres::Error) -> Self {
        Error::Store(format!("PostgreSQL: {err}"))
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        Error::Store(format!("PostgreSQL: {err}"))
    }
}

impl From<wasmtime::Error> for Error {
    fn from(err: wasmtime::Error) -> Self {
        Error::Engine(format!("{err:#}"))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
