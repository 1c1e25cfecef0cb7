//! What every handler can reach: the workloads' life (tiers, history, metrics, limits),
//! admission, the routing policy and settings.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::{Arc, RwLock};

use futures_util::FutureExt;
use tokio::sync::watch;

use super::detached::Detached;
use crate::access::Access;
use crate::admission::{Admission, Ticket};
use crate::error::Error;
use crate::experiment::calibration::Calibration;
use crate::policy::PolicySlot;
use crate::workloads::Workloads;

#[derive(Clone)]
pub struct AppState {
    pub workloads: Workloads,
    /// Who may do what: keys, tenants, quotas.
    pub access: Arc<Access>,
    pub admission: Arc<Admission>,
    /// The policy `auto` follows.
    pub policy: Arc<PolicySlot>,
    /// The built web page served at `/`.
    pub web_dir: Arc<Path>,
    /// The wasm tier's fuel per millisecond, once `POST /v1/calibrate` has measured it.
    pub calibration: Arc<RwLock<Option<Calibration>>>,
    /// True once the agent has been told to stop: `/healthz` says so, so a balancer sends it
    /// nothing new, and the queue runner claims nothing more, while it finishes what it has.
    pub draining: Arc<watch::Sender<bool>>,
}

impl AppState {
    /// Takes an admission place (`Overloaded`, counted, when none is free) and runs `work`
    /// holding it; a client that hangs up cannot cut the work short (see `detached.rs`). A
    /// panic in `work` is an `Engine` error.
    pub async fn admitted<T: Send + 'static>(
        &self,
        what: &str,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, Error> {
        let Some(ticket) = self.admission.try_admit() else {
            self.workloads.metrics.rejected.inc();
            return Err(Error::Overloaded);
        };
        self.holding(ticket, what, work).await
    }

    /// Runs `work` holding an admission place already taken; a client that hangs up cannot
    /// cut it short, and a panic in it is an `Engine` error.
    pub async fn holding<T: Send + 'static>(
        &self,
        ticket: Ticket,
        what: &str,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, Error> {
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
}
