//! A workload's life, with no HTTP in sight: a submission is accepted (sizes checked, routed
//! under a policy, limits set for its tier), run on its tier, and its record handed to the
//! history. The API's handlers, the experiments and calibration all go through here.

mod accept;
mod queue;
mod webhooks;

use std::sync::Arc;

pub use accept::{Accepted, WorkloadRequest};
pub use queue::QueueSettings;
pub use webhooks::{SIGNATURE_HEADER, WebhookSettings};

use crate::backend::{Backend, BackendKind, Capabilities, Outcome, Status, WorkloadError};
use crate::config::LimitArgs;
use crate::error::Error;
use crate::metrics::Metrics;
use crate::router::TierState;
use crate::store::{Record, Store};

/// What running a workload needs: the tiers, the history, metrics and the agent's limits.
#[derive(Clone)]
pub struct Workloads {
    /// The configured tiers; a tier that is not configured is absent.
    pub backends: Arc<[Arc<dyn Backend>]>,
    pub history: Arc<dyn Store>,
    pub metrics: Arc<Metrics>,
    pub limits: Arc<LimitArgs>,
    pub queue: QueueSettings,
    pub webhooks: WebhookSettings,
}

impl Workloads {
    pub fn backend(&self, kind: BackendKind) -> Option<&Arc<dyn Backend>> {
        self.backends.iter().find(|backend| backend.kind() == kind)
    }

    /// What the tier a route chose can do (the router only picks configured tiers).
    pub fn capabilities(&self, kind: BackendKind) -> Capabilities {
        self.backend(kind)
            .expect("the router only picks configured tiers")
            .capabilities()
    }

    /// The tiers as the router sees them, right now.
    pub fn tier_states(&self) -> Vec<TierState> {
        self.backends
            .iter()
            .map(|backend| {
                let health = backend.health();
                let capabilities = backend.capabilities();
                TierState {
                    kind: backend.kind(),
                    healthy: health.healthy,
                    detail: health.detail,
                    languages: capabilities.languages,
                    meters_fuel: capabilities.meters_fuel,
                }
            })
            .collect()
    }

    /// Runs an accepted workload on its tier; the record is not yet stored.
    pub async fn run(&self, accepted: Accepted) -> Record {
        let mut record = accepted.pending(Status::Running);
        let kind = accepted.route.backend;
        self.metrics.in_flight.inc();
        let outcome = match self.backend(kind) {
            Some(backend) => backend.execute(accepted.workload).await,
            // Claimed from the queue: submitted to an agent with a tier this one lacks.
            None => Err(Error::TierUnavailable {
                kind,
                reason: "is not configured on this agent".into(),
            }),
        };
        let outcome = outcome.unwrap_or_else(|err| {
            tracing::error!(error = %err, backend = kind.as_str(), "backend failed");
            let message = format!("the {} tier failed: {err}", kind.as_str());
            Outcome::failed(
                Status::BackendCrashed,
                WorkloadError::new("BackendCrashed", message),
                0.0,
            )
        });
        self.metrics.in_flight.dec();
        self.metrics.observe_outcome(kind, &outcome);
        record.status = outcome.status;
        record.output = outcome.output;
        record.error = outcome.error;
        record.logs = outcome.logs;
        record.logs_truncated = outcome.logs_truncated;
        record.duration_ms = outcome.duration_ms;
        record.cpu_ms = outcome.cpu_ms;
        record.metadata = outcome.metadata;
        record
    }

    /// Hands the record to the history and says whether it took it (the history logs and
    /// counts why not).
    pub async fn record(&self, record: Record) -> bool {
        self.history.record(record).await
    }
}
