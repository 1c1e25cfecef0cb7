//! The history's writer thread: it takes records from a queue and commits whatever has
//! queued up in one transaction, so a busy agent pays one commit for many records.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use prometheus::IntCounter;
use rusqlite::{Connection, params};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::error::{Error, Result};
use crate::store::record::summarise;
use crate::store::{Event, Record};

/// Records in one transaction at most.
pub(super) const MAX_BATCH: usize = 256;
/// Under load (a record arrived within this long of the last commit) the writer waits this
/// long for more before committing. Without the wait a writer that keeps up commits nearly
/// every record alone (1.2 records a commit measured at 3,300 workloads/s), and pays a
/// thread wake-up for each.
const LINGER: Duration = Duration::from_millis(2);
/// Retention is enforced after this many records.
const PRUNE_EVERY: u64 = 500;

/// A record to write, and where to say whether it was written if someone waits for that.
pub(super) struct Job {
    pub record: Record,
    pub ack: Option<oneshot::Sender<bool>>,
}

pub(super) struct Writer {
    pub conn: Connection,
    pub max_records: u64,
    /// Records taken from the queue and done with, written or not.
    pub done: watch::Sender<u64>,
    /// Set while the last write failed.
    pub failing: Arc<AtomicBool>,
    pub errors: IntCounter,
    /// Told when results with a callback were written.
    pub events: broadcast::Sender<Event>,
}

impl Writer {
    /// Writes batches until every sender is gone and the queue is empty.
    pub fn run(mut self, mut queue: mpsc::Receiver<Job>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut since_prune = 0;
        let mut last_commit = Instant::now();
        while queue.blocking_recv_many(&mut batch, MAX_BATCH) > 0 {
            if batch.len() < MAX_BATCH && last_commit.elapsed() < LINGER {
                std::thread::sleep(LINGER);
                while batch.len() < MAX_BATCH
                    && let Ok(job) = queue.try_recv()
                {
                    batch.push(job);
                }
            }
            let written = self.write_batch(&batch);
            let batch_has_callbacks = batch.iter().any(|job| job.record.callback_url.is_some());
            self.failing.store(!written, Ordering::SeqCst);
            let count = batch.len() as u64;
            for job in batch.drain(..) {
                if let Some(ack) = job.ack {
                    let _ = ack.send(written);
                }
            }
            self.done.send_modify(|done| *done += count);
            if written && batch_has_callbacks {
                let _ = self.events.send(Event::Webhook);
            }
            last_commit = Instant::now();
            since_prune += count;
            if since_prune >= PRUNE_EVERY {
                since_prune = 0;
                if let Err(err) = prune(&self.conn, self.max_records) {
                    tracing::error!(error = %err, "pruning history failed");
                }
            }
        }
    }

    /// Commits the batch in one transaction. If that fails, each record of a larger batch is
    /// tried in a transaction of its own so that one bad record does not cost the others; the
    /// batch counts as written only if every record was.
    fn write_batch(&mut self, batch: &[Job]) -> bool {
        let all = (|| -> Result<()> {
            let transaction = self.conn.transaction()?;
            for job in batch {
                write(&transaction, &job.record)?;
            }
            Ok(transaction.commit()?)
        })();
        let err = match (all, batch) {
            (Ok(()), _) => return true,
            (Err(err), [job]) => {
                self.failed(job, &err);
                return false;
            }
            (Err(err), _) => err,
        };
        tracing::warn!(error = %err, records = batch.len(), "history batch failed; writing its records one by one");
        let mut written = true;
        for job in batch {
            if let Err(err) = write(&self.conn, &job.record) {
                self.failed(job, &err);
                written = false;
            }
        }
        written
    }

    /// Counts and logs a record that could not be written.
    fn failed(&self, job: &Job, err: &Error) {
        self.errors.inc();
        tracing::error!(error = %err, id = job.record.id, "history write failed");
    }
}

pub(super) fn write(conn: &Connection, record: &Record) -> Result<()> {
    let summary = serde_json::to_string(&summarise(record)).expect("summary serialises");
    let json = serde_json::to_string(record).expect("record serialises");
    conn.prepare_cached(
        "INSERT INTO workloads (id, created_at_ms, status, backend, summary, record, tenant)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        record.id,
        record.created_at_ms,
        record.status.as_str(),
        record.backend.as_str(),
        summary,
        json,
        record.tenant
    ])?;
    super::webhooks::insert(conn, record, &json)?;
    Ok(())
}

pub(super) fn prune(conn: &Connection, max_records: u64) -> Result<usize> {
    let deleted = conn.execute(
        "DELETE FROM workloads WHERE status NOT IN ('queued', 'running')
         AND id <= (SELECT id FROM workloads ORDER BY id DESC LIMIT 1 OFFSET ?1)",
        [max_records],
    )?;
    conn.execute(
        "DELETE FROM webhooks WHERE workload_id NOT IN (SELECT id FROM workloads)",
        [],
    )?;
    Ok(deleted)
}
