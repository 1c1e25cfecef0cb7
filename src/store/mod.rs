//! The history of workloads behind one interface, [`History`]; each engine is a folder
//! ([`sqlite`], the embedded default, and [`postgres`], for many agents sharing one history).
//! Nothing above this module names an engine except the wiring that opens one ([`open`]).
//!
//! Each engine keeps its schema's version and applies its numbered migrations at start; an
//! agent refuses a store whose schema is newer than the migrations it knows.

mod location;
pub mod postgres;
mod record;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use prometheus::IntCounter;

pub use location::StoreLocation;
pub use record::{Record, WorkloadSummary};

use crate::backend::{BackendKind, Status};
use crate::error::{Error, Result};

/// Filters for listing history, newest first.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub limit: u32,
    /// Only records older than this id.
    pub before: Option<String>,
    pub status: Option<Status>,
    pub backend: Option<BackendKind>,
}

/// Where finished workloads are kept and read back.
#[async_trait]
pub trait History: Send + Sync {
    /// Takes a finished workload's record and says whether it is recorded. A record handed
    /// over is readable by the next `get` or `list` (on any agent sharing the history).
    async fn record(&self, record: Record) -> bool;

    async fn get(&self, id: String) -> Result<Option<Record>>;

    async fn list(&self, query: ListQuery) -> Result<Vec<WorkloadSummary>>;

    /// Refuses further records and waits until those already taken are written.
    fn close(&self);
}

/// Opens the history at `location`, applying its migrations. Records that cannot be written
/// are counted in `errors`; beyond `max_records` the oldest are deleted.
pub async fn open(
    location: &StoreLocation,
    max_records: u64,
    errors: IntCounter,
) -> Result<Arc<dyn History>> {
    Ok(match location {
        StoreLocation::Sqlite(path) => {
            let path = path.clone();
            let history = tokio::task::spawn_blocking(move || {
                sqlite::SqliteHistory::open(&path, max_records, errors)
            })
            .await
            .map_err(|err| Error::Store(format!("opening SQLite failed: {err}")))??;
            Arc::new(history)
        }
        StoreLocation::Postgres(url) => {
            Arc::new(postgres::PostgresHistory::connect(url, max_records, errors).await?)
        }
    })
}

/// Refuses a schema newer than the `known` migrations (written by a newer agent).
fn check_schema_version(engine: &str, found: i64, known: usize) -> Result<()> {
    match found > known as i64 {
        true => Err(Error::Store(format!(
            "the {engine} store's schema is version {found}, newer than this agent knows \
             ({known}); run a newer agent"
        ))),
        false => Ok(()),
    }
}
