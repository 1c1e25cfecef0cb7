//! History and queue of workloads in PostgreSQL, shared by every agent pointed at the same
//! database.
//!
//! A workload is one row from submission on (`queue.rs`): queued, claimed under a lease
//! (`FOR UPDATE SKIP LOCKED`), finished only by the holder of its current attempt. Agents are
//! woken by `LISTEN/NOTIFY` (`listener.rs`). A record is committed before its answer is sent,
//! so an agent killed right after answering loses nothing it answered, and any agent reads it
//! back at once. While the database is unreachable, calls fail within the pool's timeouts.

mod access;
mod listener;
mod queue;
mod schema;
mod webhooks;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};
use prometheus::IntCounter;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_postgres::NoTls;

use super::codec::{decode_record, decode_summary, encode};
use super::{
    Attempt, Claim, Event, ListQuery, Reaped, Record, Store, Submission, Submitted, Webhook,
    WorkloadSummary,
};
use crate::backend::{BackendKind, Status};
use crate::error::{Error, Result};

/// Connections per agent.
const POOL_SIZE: usize = 16;
/// How long a query waits for a connection, or to make one, before it fails.
const POOL_TIMEOUT: Duration = Duration::from_secs(3);
/// Retention is enforced after this many records written by this agent.
const PRUNE_EVERY: u64 = 500;
/// Events kept for a slow receiver before it misses some.
const EVENTS: usize = 1024;
/// The database's clock in milliseconds since the epoch: leases are timed by one clock, not
/// by each agent's.
const NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::BIGINT";

pub struct PostgresStore {
    pool: Pool,
    max_records: u64,
    written: AtomicU64,
    errors: IntCounter,
    events: broadcast::Sender<Event>,
    listener: JoinHandle<()>,
}

impl PostgresStore {
    /// Connects to `url`, migrates the schema, keeps a pool of connections and listens for
    /// other agents' events. Records that cannot be written are counted in `errors`.
    pub async fn connect(url: &str, max_records: u64, errors: IntCounter) -> Result<Self> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|err| Error::Store(format!("invalid PostgreSQL URL: {err}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(POOL_TIMEOUT);
        }
        config.application_name("vulcan");
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .timeouts(Timeouts {
                wait: Some(POOL_TIMEOUT),
                create: Some(POOL_TIMEOUT),
                recycle: Some(POOL_TIMEOUT),
            })
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|err| Error::Store(format!("PostgreSQL pool: {err}")))?;
        schema::migrate(&mut pool.get().await?).await?;
        let (events, _) = broadcast::channel(EVENTS);
        let listener = tokio::spawn(listener::listen(config, events.clone()));
        Ok(PostgresStore {
            pool,
            max_records,
            written: AtomicU64::new(0),
            errors,
            events,
            listener,
        })
    }

    async fn write(&self, record: &Record) -> Result<()> {
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        let insert = transaction
            .prepare_cached(
                "INSERT INTO workloads (id, created_at_ms, status, backend, summary, record, tenant)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .await?;
        let (summary, json) = encode(record);
        transaction
            .execute(
                &insert,
                &[
                    &record.id,
                    &(record.created_at_ms as i64),
                    &record.status.as_str(),
                    &record.backend.as_str(),
                    &summary,
                    &json,
                    &record.tenant,
                ],
            )
            .await?;
        webhooks::insert(&transaction, record, &json).await?;
        transaction.commit().await?;
        self.wrote(&client).await
    }

    /// Counts a finished record, and now and then deletes the oldest finished ones beyond
    /// the retention bound.
    async fn wrote(&self, client: &deadpool_postgres::Client) -> Result<()> {
        if self.written.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY != PRUNE_EVERY - 1 {
            return Ok(());
        }
        let deleted = client
            .execute(
                "DELETE FROM workloads WHERE status NOT IN ('queued', 'running') AND id <= (
                     SELECT id FROM workloads ORDER BY id DESC OFFSET $1 LIMIT 1)",
                &[&(self.max_records as i64)],
            )
            .await?;
        if deleted > 0 {
            tracing::debug!(deleted, "history pruned");
        }
        Ok(())
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn record(&self, record: Record) -> bool {
        match self.write(&record).await {
            Ok(()) => true,
            Err(err) => {
                self.errors.inc();
                tracing::error!(error = %err, id = record.id, "history write failed");
                false
            }
        }
    }

    async fn submit(&self, submission: Submission) -> Result<Submitted> {
        queue::submit(self, submission).await
    }

    async fn claim(
        &self,
        owner: &str,
        tiers: &[BackendKind],
        lease: Duration,
    ) -> Result<Option<(Record, Claim)>> {
        queue::claim(self, owner, tiers, lease).await
    }

    async fn finish(&self, record: &Record, claim: &Claim) -> Result<bool> {
        queue::finish(self, record, claim).await
    }

    async fn renew(&self, owner: &str, lease: Duration) -> Result<()> {
        queue::renew(self, owner, lease).await
    }

    async fn reap(&self) -> Result<Reaped> {
        queue::reap(self).await
    }

    async fn due_webhooks(&self, limit: u32, lease: Duration) -> Result<Vec<Webhook>> {
        webhooks::due(self, limit, lease).await
    }

    async fn webhook_attempted(&self, workload_id: &str, attempt: Attempt) -> Result<()> {
        webhooks::attempted(self, workload_id, &attempt).await
    }

    async fn queue_depth(&self) -> Result<u64> {
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                "SELECT count(*) FROM workloads WHERE status = 'queued'",
                &[],
            )
            .await?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    fn shared(&self) -> bool {
        true
    }

    fn events(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    async fn get(&self, id: String) -> Result<Option<Record>> {
        let client = self.pool.get().await?;
        let select = client
            .prepare_cached("SELECT status, record FROM workloads WHERE id = $1")
            .await?;
        let Some(row) = client.query_opt(&select, &[&id]).await? else {
            return Ok(None);
        };
        let mut record = decode_record(row.get(0), row.get(1))?;
        if record.callback_url.is_some() {
            record.callback = webhooks::delivery(&client, &record.id).await?;
        }
        Ok(Some(record))
    }

    async fn list(&self, query: ListQuery) -> Result<Vec<WorkloadSummary>> {
        let client = self.pool.get().await?;
        let select = client
            .prepare_cached(
                "SELECT status, summary FROM workloads
                 WHERE ($1::TEXT IS NULL OR id < $1) AND ($2::TEXT IS NULL OR status = $2)
                   AND ($3::TEXT IS NULL OR backend = $3) AND ($5::TEXT IS NULL OR tenant = $5)
                 ORDER BY id DESC LIMIT $4",
            )
            .await?;
        let rows = client
            .query(
                &select,
                &[
                    &query.before,
                    &query.status.map(Status::as_str),
                    &query.backend.map(BackendKind::as_str),
                    &i64::from(query.limit),
                    &query.tenant,
                ],
            )
            .await?;
        rows.iter()
            .map(|row| decode_summary(row.get(0), row.get(1)))
            .collect()
    }

    fn close(&self) {
        self.listener.abort();
        self.pool.close();
    }
}
