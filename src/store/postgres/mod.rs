//! History of workloads in PostgreSQL, shared by every agent pointed at the same database.
//!
//! A record is committed before its answer is sent (one `INSERT`), so an agent killed right
//! after answering loses nothing it answered, and any agent reads it back at once. While the
//! database is unreachable, writes fail within the pool's timeouts: the answer says the record
//! was not taken (`recorded: false`, counted), and reads are `503 history_unavailable`.

mod schema;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};
use prometheus::IntCounter;
use tokio_postgres::NoTls;

use super::record::summarise;
use super::{History, ListQuery, Record, WorkloadSummary};
use crate::backend::{BackendKind, Status};
use crate::error::{Error, Result};

/// Connections per agent.
const POOL_SIZE: usize = 16;
/// How long a query waits for a connection, or to make one, before it fails.
const POOL_TIMEOUT: Duration = Duration::from_secs(3);
/// Retention is enforced after this many records written by this agent.
const PRUNE_EVERY: u64 = 500;

pub struct PostgresHistory {
    pool: Pool,
    max_records: u64,
    written: AtomicU64,
    errors: IntCounter,
}

impl PostgresHistory {
    /// Connects to `url`, migrates the schema and keeps a pool of connections. Records that
    /// cannot be written are counted in `errors`.
    pub async fn connect(url: &str, max_records: u64, errors: IntCounter) -> Result<Self> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|err| Error::Store(format!("invalid PostgreSQL URL: {err}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(POOL_TIMEOUT);
        }
        config.application_name("vulcan");
        let manager = Manager::from_config(
            config,
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
        Ok(PostgresHistory {
            pool,
            max_records,
            written: AtomicU64::new(0),
            errors,
        })
    }

    async fn write(&self, record: &Record) -> Result<()> {
        let summary = serde_json::to_string(&summarise(record)).expect("summary serialises");
        let json = serde_json::to_string(record).expect("record serialises");
        let client = self.pool.get().await?;
        let insert = client
            .prepare_cached(
                "INSERT INTO workloads (id, created_at_ms, status, backend, summary, record)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .await?;
        client
            .execute(
                &insert,
                &[
                    &record.id,
                    &(record.created_at_ms as i64),
                    &record.status.as_str(),
                    &record.backend.as_str(),
                    &summary,
                    &json,
                ],
            )
            .await?;
        if self.written.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.prune(&client).await?;
        }
        Ok(())
    }

    async fn prune(&self, client: &deadpool_postgres::Client) -> Result<()> {
        let deleted = client
            .execute(
                "DELETE FROM workloads WHERE id <= (
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
impl History for PostgresHistory {
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

    async fn get(&self, id: String) -> Result<Option<Record>> {
        let client = self.pool.get().await?;
        let select = client
            .prepare_cached("SELECT record FROM workloads WHERE id = $1")
            .await?;
        let row = client.query_opt(&select, &[&id]).await?;
        row.map(|row| decode(row.get(0))).transpose()
    }

    async fn list(&self, query: ListQuery) -> Result<Vec<WorkloadSummary>> {
        let client = self.pool.get().await?;
        let select = client
            .prepare_cached(
                "SELECT summary FROM workloads
                 WHERE ($1::TEXT IS NULL OR id < $1) AND ($2::TEXT IS NULL OR status = $2)
                   AND ($3::TEXT IS NULL OR backend = $3)
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
                ],
            )
            .await?;
        rows.iter().map(|row| decode(row.get(0))).collect()
    }

    fn close(&self) {
        self.pool.close();
    }
}

fn decode<T: serde::de::DeserializeOwned>(json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|err| Error::Store(format!("corrupt history record: {err}")))
}
