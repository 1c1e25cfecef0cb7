//! History of workloads in SQLite (WAL mode, `synchronous=NORMAL`).
//!
//! Records are written behind the answers: a finished workload's record goes into a queue
//! and the answer is sent at once, while a writer thread commits whatever has queued up in
//! one transaction. A commit costs ~40 µs of CPU plus its WAL writes whether it holds one
//! record or a hundred, so under load this is most of the history's cost saved, and no
//! answer waits for the disk. Reads first wait until every record queued before them is
//! written, so a workload can be read back as soon as it is answered.
//!
//! While writes fail (a full disk), answers wait for their own record's write and say
//! whether it was recorded, until a write succeeds again. The oldest records beyond the
//! retention bound are pruned every few hundred records.

mod access;
mod queue;
mod schema;
mod webhooks;
mod writer;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use prometheus::IntCounter;
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use super::codec::{decode_record, decode_summary};
use super::{
    Attempt, Claim, Event, ListQuery, Reaped, Record, Store, Submission, Submitted, Webhook,
    WorkloadSummary,
};
use crate::backend::{BackendKind, Status};
use crate::error::{Error, Result};
use writer::{Job, MAX_BATCH, Writer};

/// Events kept for a slow receiver before it misses some.
const EVENTS: usize = 1024;

/// The writer's queue and its thread, while the history takes records.
struct Open {
    queue: mpsc::Sender<Job>,
    writer: JoinHandle<()>,
}

pub struct SqliteStore {
    /// `None` once closed.
    open: Mutex<Option<Open>>,
    /// Records put in the queue so far.
    queued: AtomicU64,
    /// Records the writer is done with (written or failed).
    done: watch::Receiver<u64>,
    /// Set while the writer's last write failed.
    failing: Arc<AtomicBool>,
    errors: IntCounter,
    reader: Arc<Mutex<Connection>>,
    /// The queue's writes (submissions, claims, finishes, leases), apart from the writer's
    /// batches of records that no queue saw.
    queue: Arc<Mutex<Connection>>,
    events: broadcast::Sender<Event>,
}

impl SqliteStore {
    /// Opens (or creates, with its directory) the database at `path`, migrates it and starts
    /// its writer. Records that cannot be written are counted in `errors`.
    pub fn open(path: &Path, max_records: u64, errors: IntCounter) -> Result<SqliteStore> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|err| {
                Error::Store(format!("cannot create directory {}: {err}", dir.display()))
            })?;
        }
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        schema::migrate(&mut conn)?;
        let reader = Connection::open(path)?;
        reader.busy_timeout(std::time::Duration::from_secs(5))?;
        let queue_conn = Connection::open(path)?;
        queue_conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let (queue, jobs) = mpsc::channel(MAX_BATCH);
        let events = broadcast::channel(EVENTS).0;
        let (done, done_rx) = watch::channel(0);
        let failing = Arc::new(AtomicBool::new(false));
        let writer = Writer {
            conn,
            max_records,
            done,
            failing: Arc::clone(&failing),
            errors: errors.clone(),
            events: events.clone(),
        };
        let writer = std::thread::Builder::new()
            .name("vulcan-history".into())
            .spawn(move || writer.run(jobs))
            .map_err(|err| Error::Store(format!("cannot start the history writer: {err}")))?;
        Ok(SqliteStore {
            open: Mutex::new(Some(Open { queue, writer })),
            queued: AtomicU64::new(0),
            done: done_rx,
            failing,
            errors,
            reader: Arc::new(Mutex::new(reader)),
            queue: Arc::new(Mutex::new(queue_conn)),
            events,
        })
    }

    /// Waits until every record queued so far is written (or has failed).
    async fn settled(&self) {
        let queued = self.queued.load(Ordering::SeqCst);
        let mut done = self.done.clone();
        // An error means the writer is gone: nothing more will be written to wait for.
        let _ = done.wait_for(|&done| done >= queued).await;
    }

    /// Runs `operation` on the queue's connection, off the async threads.
    async fn queue_op<T: Send + 'static>(
        &self,
        operation: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let queue = Arc::clone(&self.queue);
        tokio::task::spawn_blocking(move || operation(&mut queue.lock().expect("store lock")))
            .await
            .map_err(|err| Error::Store(format!("history queue failed: {err}")))?
    }

    async fn read<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let reader = Arc::clone(&self.reader);
        tokio::task::spawn_blocking(move || query(&reader.lock().expect("store lock")))
            .await
            .map_err(|err| Error::Store(format!("history reader failed: {err}")))?
    }
}

#[async_trait]
impl Store for SqliteStore {
    /// Hands a record to the writer and says whether it is recorded. While writes succeed
    /// this returns once the record is queued; while they fail, once its own write is done.
    async fn record(&self, record: Record) -> bool {
        let queue = self
            .open
            .lock()
            .expect("store lock")
            .as_ref()
            .map(|open| open.queue.clone());
        let Some(queue) = queue else {
            self.errors.inc();
            tracing::error!(id = record.id, "history is closed; record not written");
            return false;
        };
        self.queued.fetch_add(1, Ordering::SeqCst);
        let (ack, written) = self
            .failing
            .load(Ordering::SeqCst)
            .then(oneshot::channel)
            .unzip();
        if queue.send(Job { record, ack }).await.is_err() {
            self.errors.inc();
            return false;
        }
        match written {
            Some(written) => written.await.unwrap_or(false),
            None => true,
        }
    }

    async fn submit(&self, submission: Submission) -> Result<Submitted> {
        let queued = submission.owner.is_none();
        let submitted = self
            .queue_op(move |conn| queue::submit(conn, submission))
            .await?;
        if queued && matches!(submitted, Submitted::New(_)) {
            let _ = self.events.send(Event::Queued);
        }
        Ok(submitted)
    }

    async fn claim(
        &self,
        owner: &str,
        tiers: &[BackendKind],
        lease: Duration,
    ) -> Result<Option<(Record, Claim)>> {
        let (owner, tiers) = (owner.to_owned(), tiers.to_vec());
        self.queue_op(move |conn| queue::claim(conn, &owner, &tiers, lease))
            .await
    }

    async fn finish(&self, record: &Record, claim: &Claim) -> Result<bool> {
        let (record, claim) = (record.clone(), claim.clone());
        let (id, callback) = (record.id.clone(), record.callback_url.is_some());
        let finished = self
            .queue_op(move |conn| queue::finish(conn, &record, &claim))
            .await?;
        if finished {
            let _ = self.events.send(Event::Finished(id));
            if callback {
                let _ = self.events.send(Event::Webhook);
            }
        }
        Ok(finished)
    }

    async fn renew(&self, owner: &str, lease: Duration) -> Result<()> {
        let owner = owner.to_owned();
        self.queue_op(move |conn| queue::renew(conn, &owner, lease))
            .await
    }

    async fn reap(&self) -> Result<Reaped> {
        let (reaped, ended) = self.queue_op(queue::reap).await?;
        if reaped.requeued > 0 {
            let _ = self.events.send(Event::Queued);
        }
        for id in ended {
            let _ = self.events.send(Event::Finished(id));
        }
        if reaped.ended > 0 {
            let _ = self.events.send(Event::Webhook);
        }
        Ok(reaped)
    }

    async fn due_webhooks(&self, limit: u32, lease: Duration) -> Result<Vec<Webhook>> {
        self.settled().await;
        self.queue_op(move |conn| webhooks::due(conn, limit, lease))
            .await
    }

    async fn webhook_attempted(&self, workload_id: &str, attempt: Attempt) -> Result<()> {
        let id = workload_id.to_owned();
        self.queue_op(move |conn| webhooks::attempted(conn, &id, &attempt))
            .await
    }

    async fn queue_depth(&self) -> Result<u64> {
        self.queue_op(queue::queue_depth).await
    }

    fn shared(&self) -> bool {
        false
    }

    fn events(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    async fn get(&self, id: String) -> Result<Option<Record>> {
        self.settled().await;
        self.read(move |conn| {
            let row: Option<(String, String)> = conn
                .query_row(
                    "SELECT status, record FROM workloads WHERE id = ?1",
                    [id],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            let Some((status, json)) = row else {
                return Ok(None);
            };
            let mut record = decode_record(&status, &json)?;
            if record.callback_url.is_some() {
                record.callback = webhooks::delivery(conn, &record.id)?;
            }
            Ok(Some(record))
        })
        .await
    }

    async fn list(&self, query: ListQuery) -> Result<Vec<WorkloadSummary>> {
        self.settled().await;
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT status, summary FROM workloads
                 WHERE (?1 IS NULL OR id < ?1) AND (?2 IS NULL OR status = ?2)
                   AND (?3 IS NULL OR backend = ?3) AND (?5 IS NULL OR tenant = ?5)
                 ORDER BY id DESC LIMIT ?4",
            )?;
            let rows = stmt.query_map(
                params![
                    query.before,
                    query.status.map(Status::as_str),
                    query.backend.map(BackendKind::as_str),
                    query.limit,
                    query.tenant
                ],
                |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
            )?;
            rows.map(|row| {
                let (status, json) = row?;
                decode_summary(&status, &json)
            })
            .collect()
        })
        .await
    }

    /// Refuses further records and waits until the writer has written those queued.
    fn close(&self) {
        let Some(Open { queue, writer }) = self.open.lock().expect("store lock").take() else {
            return;
        };
        drop(queue);
        if writer.join().is_err() {
            tracing::error!("the history writer panicked");
        }
    }
}

#[cfg(test)]
mod tests;
