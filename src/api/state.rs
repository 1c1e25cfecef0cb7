//! What every handler can reach: the tiers, the history, metrics, admission and settings.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::{Arc, RwLock};

use futures_util::FutureExt;

use super::detached::Detached;
use crate::admission::Admission;
use crate::backend::{Backend, BackendKind, Capabilities};
use crate::config::LimitArgs;
use crate::error::Error;
use crate::experiment::calibration::Calibration;
use crate::metrics::Metrics;
use crate::policy::PolicySlot;
use crate::router::TierState;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    /// The configured tiers; a tier that is not configured is absent.
    pub backends: Arc<[Arc<dyn Backend>]>,
    pub store: Arc<Store>,
    pub metrics: Arc<Metrics>,
    pub admission: Arc<Admission>,
    /// The policy `auto` follows.
    pub policy: Arc<PolicySlot>,
    pub limits: Arc<LimitArgs>,
    /// The built web page served at `/`.
    pub web_dir: Arc<Path>,
    /// The wasm tier's fuel per millisecond, once `POST /v1/calibrate` has measured it.
    pub calibration: Arc<RwLock<Option<Calibration>>>,
}

impl AppState {
    pub fn backend(&self, kind: BackendKind) -> Option<&Arc<dyn Backend>> {
        self.backends.iter().find(|backend| backend.kind() == kind)
    }

    /// What the tier a route chose can do (the router only picks configured tiers).
    pub fn capabilities(&self, kind: BackendKind) -> Capabilities {
        self.backend(kind)
            .expect("the router only picks configured tiers")
            .capabilities()
    }

    /// Takes an admission place (`Overloaded`, counted, when none is free) and runs `work`
    /// holding it; a client that hangs up cannot cut the work short (see `detached.rs`). A
    /// panic in `work` is an `Engine` error.
    pub async fn admitted<T: Send + 'static>(
        &self,
        what: &str,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, Error> {
        let Some(ticket) = self.admission.try_admit() else {
            self.metrics.rejected.inc();
            return Err(Error::Overloaded);
        };
        let work = AssertUnwindSafe(async move {
            let _ticket = ticket;
            work.await
        });
        Detached::new(work.catch_unwind())
            .await
            .map_err(|_| Error::Engine(format!("the {what} panicked")))
    }

    pub fn calibration(&self) -> Option<Calibration> {
        self.calibration
            .read()
            .unwrap_or_else(|err| err.into_inner())
            .clone()
    }

    pub fn set_calibration(&self, calibration: Calibration) {
        *self
            .calibration
            .write()
            .unwrap_or_else(|err| err.into_inner()) = Some(calibration);
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
}
