//! Workloads that outlive their request: submitted to the store's queue (asynchronously, or
//! with an idempotency key), claimed and run by any agent, their leases renewed while they run,
//! the leases of lost agents reaped, and their ends waited for.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, broadcast, watch};

use super::{Accepted, Workloads};
use crate::admission::Admission;
use crate::backend::{BackendKind, Status};
use crate::error::Result;
use crate::store::{Claim, Event, Record, Submission, Submitted, now_ms};

/// A queue's settings, the same on every agent of a deployment.
#[derive(Clone, Debug)]
pub struct QueueSettings {
    /// This agent, as the owner of the leases it holds (unique per start).
    pub owner: Arc<str>,
    pub lease: Duration,
    pub max_attempts: u32,
    pub max_queued: u64,
    /// Queued workloads this agent runs at once.
    pub concurrency: usize,
}

/// With nothing heard, an idle agent still looks at the queue this often.
const SLOW_POLL: Duration = Duration::from_secs(5);
/// After a failed claim (the store is unreachable), before the next.
const RETRY_AFTER: Duration = Duration::from_secs(1);

impl Workloads {
    /// Adds an accepted workload to the store: queued for any agent, or (`run_here`) claimed
    /// by this one, which then runs it with [`Workloads::run_claimed`].
    pub async fn submit(
        &self,
        accepted: &Accepted,
        idempotency_key: Option<String>,
        run_here: bool,
    ) -> Result<Submitted> {
        let status = match run_here {
            true => Status::Running,
            false => Status::Queued,
        };
        self.history
            .submit(Submission {
                record: accepted.pending(status),
                owner: run_here.then(|| self.queue.owner.to_string()),
                idempotency_key,
                max_attempts: self.queue.max_attempts,
                lease: self.queue.lease,
            })
            .await
    }

    /// Runs a claimed workload and finishes it in the store. The record comes back whether
    /// or not the claim still held (a late finish changes nothing and is counted), with
    /// whether it is the one recorded.
    pub async fn run_claimed(&self, accepted: Accepted, claim: &Claim) -> (Record, bool) {
        let record = self.run(accepted).await;
        let recorded = match self.history.finish(&record, claim).await {
            Ok(true) => true,
            Ok(false) => {
                self.metrics.late_finishes.inc();
                tracing::warn!(
                    id = record.id,
                    attempt = claim.attempt,
                    "lease lost: result dropped"
                );
                false
            }
            Err(err) => {
                self.metrics.history_write_errors.inc();
                tracing::error!(error = %err, id = record.id, "finishing a workload failed");
                false
            }
        };
        (record, recorded)
    }

    /// The workload's record once it has ended, or as it is when `timeout` passes first;
    /// `None` when there is no such workload.
    pub async fn wait_finished(&self, id: &str, timeout: Duration) -> Result<Option<Record>> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut events = self.history.events();
        loop {
            let record = self.history.get(id.to_owned()).await?;
            let ended = record
                .as_ref()
                .is_none_or(|record| record.status.is_final());
            if ended || tokio::time::Instant::now() >= deadline {
                return Ok(record);
            }
            // Woken by its end, or after the slow poll (an event missed while the store's
            // listener reconnected).
            let wake = tokio::time::Instant::now() + SLOW_POLL;
            let _ = tokio::time::timeout_at(deadline.min(wake), finished(&mut events, id)).await;
        }
    }

    /// Claims and runs queued workloads until `stop` turns true, at most `concurrency` at
    /// once and each holding an admission place.
    pub async fn serve_queue(self, admission: Arc<Admission>, mut stop: watch::Receiver<bool>) {
        let running = Arc::new(Semaphore::new(self.queue.concurrency));
        let mut events = self.history.events();
        while !*stop.borrow() {
            let (Ok(slot), ticket) = (
                Arc::clone(&running).acquire_owned().await,
                admission.admit().await,
            ) else {
                return;
            };
            if *stop.borrow() {
                return;
            }
            let claimed = self
                .history
                .claim(&self.queue.owner, &self.tiers(), self.queue.lease)
                .await;
            let wait = match claimed {
                Ok(Some((record, claim))) => {
                    let waited = now_ms().saturating_sub(record.created_at_ms as i64);
                    self.metrics.queue_wait.observe(waited as f64 / 1000.0);
                    let workloads = self.clone();
                    tokio::spawn(async move {
                        let _held = (slot, ticket);
                        workloads
                            .run_claimed(Accepted::from_record(record), &claim)
                            .await;
                    });
                    continue;
                }
                Ok(None) => SLOW_POLL,
                Err(err) => {
                    tracing::warn!(error = %err, "claiming from the queue failed");
                    RETRY_AFTER
                }
            };
            drop((slot, ticket));
            tokio::select! {
                _ = queued(&mut events) => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Renews this agent's leases every third of a lease and reaps expired ones every half,
    /// until dropped.
    pub async fn upkeep(self) {
        let mut renew = tokio::time::interval(self.queue.lease / 3);
        let mut reap = tokio::time::interval(self.queue.lease / 2);
        loop {
            tokio::select! {
                _ = renew.tick() => {
                    if let Err(err) = self.history.renew(&self.queue.owner, self.queue.lease).await {
                        tracing::warn!(error = %err, "renewing leases failed");
                    }
                }
                _ = reap.tick() => match self.history.reap().await {
                    Ok(reaped) => {
                        let counter = &self.metrics.leases_reaped;
                        counter.with_label_values(&["requeued"]).inc_by(reaped.requeued);
                        counter.with_label_values(&["ended"]).inc_by(reaped.ended);
                    }
                    Err(err) => tracing::warn!(error = %err, "reaping leases failed"),
                },
            }
        }
    }

    /// The healthy tiers of this agent: the only ones it claims work for.
    fn tiers(&self) -> Vec<BackendKind> {
        self.backends
            .iter()
            .filter(|backend| backend.health().healthy)
            .map(|backend| backend.kind())
            .collect()
    }
}

/// Resolves when the workload `id` is reported ended (or events were missed).
async fn finished(events: &mut broadcast::Receiver<Event>, id: &str) {
    loop {
        match events.recv().await {
            Ok(Event::Finished(done)) if done == id => return,
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => return,
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        }
    }
}

/// Resolves when a workload is reported queued (or events were missed).
async fn queued(events: &mut broadcast::Receiver<Event>) {
    loop {
        match events.recv().await {
            Ok(Event::Queued) | Err(broadcast::error::RecvError::Lagged(_)) => return,
            Ok(Event::Finished(_) | Event::Webhook) => {}
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        }
    }
}
