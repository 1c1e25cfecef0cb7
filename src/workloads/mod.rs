//! A workload's life, with no HTTP in sight: a submission is accepted (sizes checked, routed
//! under a policy, limits set for its tier), run on its tier, and its record handed to the
//! history. The API's handlers, the experiments and calibration all go through here.

mod accept;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub use accept::{Accepted, WorkloadRequest};

use crate::backend::{Backend, BackendKind, Capabilities, Outcome, Status, WorkloadError};
use crate::config::LimitArgs;
use crate::metrics::Metrics;
use crate::router::TierState;
use crate::store::{History, Record};

/// What running a workload needs: the tiers, the history, metrics and the agent's limits.
#[derive(Clone)]
pub struct Workloads {
    /// The configured tiers; a tier that is not configured is absent.
    pub backends: Arc<[Arc<dyn Backend>]>,
    pub history: Arc<dyn History>,
    pub metrics: Arc<Metrics>,
    pub limits: Arc<LimitArgs>,
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
        let Accepted {
            workload,
            isolation,
            tag,
            route,
        } = accepted;
        let backend = self
            .backend(route.backend)
            .expect("the router only picks configured tiers");
        let created_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis() as u64);
        let (code, input, language, limits) = (
            workload.code.clone(),
            workload.input.clone(),
            workload.language,
            workload.limits,
        );
        self.metrics.in_flight.inc();
        let outcome = backend.execute(workload).await.unwrap_or_else(|err| {
            tracing::error!(error = %err, backend = route.backend.as_str(), "backend failed");
            let message = format!("the {} tier failed: {err}", route.backend.as_str());
            Outcome::failed(
                Status::BackendCrashed,
                WorkloadError::new("BackendCrashed", message),
                0.0,
            )
        });
        self.metrics.in_flight.dec();
        self.metrics.observe_outcome(route.backend, &outcome);
        Record {
            id: uuid::Uuid::now_v7().to_string(),
            created_at_ms,
            status: outcome.status,
            backend: route.backend,
            route_reason: route.reason,
            tag,
            isolation,
            language,
            limits,
            output: outcome.output,
            error: outcome.error,
            logs: outcome.logs,
            logs_truncated: outcome.logs_truncated,
            duration_ms: outcome.duration_ms,
            metadata: outcome.metadata,
            code,
            input,
        }
    }

    /// Hands the record to the history and says whether it took it (the history logs and
    /// counts why not).
    pub async fn record(&self, record: Record) -> bool {
        self.history.record(record).await
    }
}
