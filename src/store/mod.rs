//! The history of workloads behind one interface, [`Store`]; each engine is a folder
//! ([`sqlite`], the embedded default, and [`postgres`], for many agents sharing one history).
//! Nothing above this module names an engine except the wiring that opens one ([`open`]).
//!
//! Each engine keeps its schema's version and applies its numbered migrations at start; an
//! agent refuses a store whose schema is newer than the migrations it knows.

pub mod access;
mod codec;
mod location;
pub mod postgres;
mod record;
pub mod sqlite;
mod webhook;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use prometheus::IntCounter;
use tokio::sync::broadcast;

pub use access::{AccessStore, ApiKey, FoundKey, KeyState, TenantUsage};
pub use location::StoreLocation;
pub use record::{DEFAULT_TENANT, Record, WorkloadSummary};
pub use webhook::{Attempt, Delivery, Webhook};

use crate::backend::{BackendKind, Status, WorkloadError};
use crate::error::{Error, Result};

/// Filters for listing history, newest first.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub limit: u32,
    /// Only records older than this id.
    pub before: Option<String>,
    pub status: Option<Status>,
    pub backend: Option<BackendKind>,
    /// Only this tenant's records (every tenant's when `None`).
    pub tenant: Option<String>,
}

/// An agent's hold on a running workload: only the holder of the current attempt may finish
/// it, and only while the lease is renewed (heartbeats) before it expires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub owner: String,
    pub attempt: u32,
}

/// How a submission was taken.
#[derive(Debug)]
pub enum Submitted {
    /// A new workload; `Some` claim when it was submitted claimed by the submitting agent.
    New(Option<Claim>),
    /// Its idempotency key was taken (within 24 h) by this earlier workload: nothing added.
    Existing(Box<Record>),
}

/// A submission: the workload's record as accepted (status `queued`, or `running` with an
/// `owner`, who runs it at once), its idempotency key, and its attempts' bound.
pub struct Submission {
    pub record: Record,
    /// Run by this agent at once (`Some(owner)`), or left for any agent to claim.
    pub owner: Option<String>,
    pub idempotency_key: Option<String>,
    pub max_attempts: u32,
    pub lease: Duration,
}

/// What changed in the store that someone may be waiting for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A workload was queued (or returned to the queue).
    Queued,
    /// A result was put in the webhooks' outbox.
    Webhook,
    /// The workload with this id ended.
    Finished(String),
}

/// Expired leases found by [`Store::reap`].
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reaped {
    /// Returned to the queue for another attempt.
    pub requeued: u64,
    /// Past their attempts: ended `backend_crashed` (`AgentLost`).
    pub ended: u64,
}

/// How long an idempotency key names its workload.
pub const IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// The history of workloads and the queue of those not yet finished: one row per workload,
/// `queued → running → finished`; and who may use them ([`AccessStore`]).
#[async_trait]
pub trait Store: AccessStore {
    /// Takes a finished workload's record, one no queue saw (an agent ran it at once without
    /// a claim), and says whether it is recorded. A record handed over is readable by the next
    /// `get` or `list` (on any agent sharing the history).
    async fn record(&self, record: Record) -> bool;

    /// Adds a workload, queued or already claimed by `submission.owner`; or, when its
    /// idempotency key names a workload of the last 24 h, adds nothing and returns that one.
    async fn submit(&self, submission: Submission) -> Result<Submitted>;

    /// Claims the oldest queued workload for one of `tiers`, for `lease`.
    async fn claim(
        &self,
        owner: &str,
        tiers: &[BackendKind],
        lease: Duration,
    ) -> Result<Option<(Record, Claim)>>;

    /// Ends a claimed workload with its final record, if `claim` still holds it; `false`
    /// (nothing changed) when its lease was lost and the workload queued again or ended.
    async fn finish(&self, record: &Record, claim: &Claim) -> Result<bool>;

    /// Extends every lease `owner` holds by `lease` from now.
    async fn renew(&self, owner: &str, lease: Duration) -> Result<()>;

    /// Returns workloads whose lease expired to the queue, or ends them `backend_crashed` past
    /// their attempts.
    async fn reap(&self) -> Result<Reaped>;

    /// Workloads waiting for an agent.
    async fn queue_depth(&self) -> Result<u64>;

    /// Up to `limit` results due to be POSTed to their callbacks, each claimed for `lease`
    /// (no other agent takes it meanwhile).
    async fn due_webhooks(&self, limit: u32, lease: Duration) -> Result<Vec<Webhook>>;

    /// Records how an attempt to deliver `workload_id`'s result went.
    async fn webhook_attempted(&self, workload_id: &str, attempt: Attempt) -> Result<()>;

    /// Whether other agents may share this store. Then every workload's row is written
    /// before it runs (claimed by its agent when run at once), so that a lost agent's work is
    /// seen and run again, and nothing runs while the store is unreachable. A store of one
    /// agent records a workload run at once only when it ends ([`Store::record`]).
    fn shared(&self) -> bool;

    /// Changes, as they happen (on PostgreSQL, from every agent).
    fn events(&self) -> broadcast::Receiver<Event>;

    async fn get(&self, id: String) -> Result<Option<Record>>;

    async fn list(&self, query: ListQuery) -> Result<Vec<WorkloadSummary>>;

    /// Refuses further records and waits until those already taken are written.
    fn close(&self);
}

/// Milliseconds since the Unix epoch, by this machine's clock.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

/// The final record of a workload whose agent was lost `attempts` times.
pub fn agent_lost(mut record: Record, attempts: u32) -> Record {
    let message = format!(
        "the agent running it stopped renewing its lease, {attempts} time(s); \
         not run again (max_attempts)"
    );
    record.status = Status::BackendCrashed;
    record.error = Some(WorkloadError::new("AgentLost", message));
    record
}

/// Opens the history at `location`, applying its migrations. Records that cannot be written
/// are counted in `errors`; beyond `max_records` the oldest are deleted.
pub async fn open(
    location: &StoreLocation,
    max_records: u64,
    errors: IntCounter,
) -> Result<Arc<dyn Store>> {
    Ok(match location {
        StoreLocation::Sqlite(path) => {
            let path = path.clone();
            let history = tokio::task::spawn_blocking(move || {
                sqlite::SqliteStore::open(&path, max_records, errors)
            })
            .await
            .map_err(|err| Error::Store(format!("opening SQLite failed: {err}")))??;
            Arc::new(history)
        }
        StoreLocation::Postgres(url) => {
            Arc::new(postgres::PostgresStore::connect(url, max_records, errors).await?)
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
