//! The history of workloads behind one interface, [`History`]; each engine is a folder
//! ([`sqlite`], the embedded default). Nothing above this module names an engine except the
//! wiring that opens one.

mod record;
pub mod sqlite;

use async_trait::async_trait;

pub use record::{Record, WorkloadSummary};

use crate::backend::{BackendKind, Status};
use crate::error::Result;

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
