//! The supervisor: a pool of host processes, each running one workload at a time, `hosts +
//! spares` of them kept started for the default heap size so nobody waits for a boot.
//!
//! A host's cycle: idle, its warm worker ready → leased by one workload → handed back with a
//! [`Verdict`] → its next worker made (`prepare`, in the background, once its memory cap is
//! restored; see `upkeep.rs`) → idle again. A workload leases the idle host of its heap size
//! that has waited longest. Web Workers take no heap limit of their own, so a host serves one
//! heap size (V8's flag): a workload asking for another size gets an extra host started for it
//! (it waits for that boot, and says so in its metadata); extras stay for later workloads of
//! their size until unused for a while.
//!
//! A host is retired when a workload says so (poisoned, timed out, crashed, over its memory),
//! when its next worker cannot be made, after `recycle_after` workloads, above
//! `recycle_rss_bytes`, or when a health ping fails: it takes no new work and is killed once no
//! task uses it. Every retirement, and every host that exits on its own, starts a replacement;
//! failed starts are retried with exponential backoff, and the last failure is the tier's
//! health.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::host::{Host, Launcher};
use super::metrics::IsolateMetrics;
use super::retirement::{Retirement, Verdict};
use super::upkeep;

#[derive(Clone, Debug)]
pub struct PoolSettings {
    /// Workloads running at once (one per host).
    pub hosts: usize,
    /// Extra started hosts, so a host busy making its next worker, or retired, is not waited
    /// for.
    pub spares: usize,
    /// Workloads a host runs before it is replaced.
    pub recycle_after: u64,
    /// Resident memory above which a host is replaced.
    pub recycle_rss_bytes: u64,
    /// The heap limit (MiB) of the hosts kept started: the default `memory_mb`.
    pub heap_mb: u64,
}

pub struct Pool {
    inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) launcher: Launcher,
    pub(super) settings: PoolSettings,
    state: Mutex<State>,
    /// Signalled whenever a host becomes idle, a start fails, or a host goes.
    pub(super) changed: Notify,
    capacity: Arc<Semaphore>,
    pub(super) metrics: IsolateMetrics,
    closed: AtomicBool,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) slots: Vec<Slot>,
    /// Heap sizes of the hosts being started.
    pub(super) booting: Vec<u64>,
    next_id: u64,
    pub(super) failures_in_row: u32,
    pub(super) last_failure: Option<String>,
    /// The last failed start of an extra host, by heap size.
    pub(super) extra_failure: Option<(u64, String)>,
}

pub(super) struct Slot {
    pub(super) host: Arc<Host>,
    pub(super) phase: Phase,
    served: u64,
    retiring: Option<Retirement>,
    /// When it last became idle, its warm worker ready.
    pub(super) ready_at: Instant,
}

/// What a host is doing; only an `Idle` one may be leased, and only an `Idle` one is killed
/// right away when retired (otherwise the task using it ends first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    Idle,
    /// Running a workload.
    Busy,
    /// Making its next worker.
    Preparing,
    /// Answering a health ping.
    Checking,
}

/// One workload's claim on one host; hand it back with [`Lease::finish`].
pub struct Lease {
    pub host: Arc<Host>,
    /// How long the workload waited for its host's worker to be made (0 when one was ready).
    pub waited_for_worker_ms: f64,
    inner: Arc<Inner>,
    verdict: Verdict,
    _permit: OwnedSemaphorePermit,
}

/// A snapshot for health and metrics.
pub struct PoolView {
    pub ready: usize,
    pub booting: usize,
    pub last_failure: Option<String>,
}

impl Pool {
    /// Starts the first hosts and waits until each has started or failed once.
    pub async fn start(
        launcher: Launcher,
        settings: PoolSettings,
        metrics: IsolateMetrics,
    ) -> Pool {
        let capacity = Arc::new(Semaphore::new(settings.hosts));
        let inner = Arc::new(Inner {
            launcher,
            settings,
            state: Mutex::new(State::default()),
            changed: Notify::new(),
            capacity,
            metrics,
            closed: AtomicBool::new(false),
        });
        inner.fill(&mut inner.lock());
        loop {
            let changed = inner.changed.notified();
            {
                let state = inner.lock();
                if state.booting.is_empty() || state.last_failure.is_some() {
                    break;
                }
            }
            changed.await;
        }
        tokio::spawn(upkeep::ping_loop(Arc::downgrade(&inner)));
        Pool { inner }
    }

    /// Waits (at most `wait`) for an idle host whose workers' heap limit is `heap_mb`, starting
    /// one if none of that size is coming. `Err` says why none came.
    pub async fn lease(&self, heap_mb: u64, wait: Duration) -> Result<Lease, String> {
        let asked = Instant::now();
        let deadline = tokio::time::Instant::now() + wait;
        let waited = || format!("no isolate host was free within {} ms", wait.as_millis());
        let permit =
            tokio::time::timeout_at(deadline, Arc::clone(&self.inner.capacity).acquire_owned())
                .await
                .map_err(|_| waited())?
                .map_err(|_| "the isolate tier is shut down".to_owned())?;
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut state = self.inner.lock();
                if let Some(slot) = state.take(heap_mb) {
                    let waited_for_worker_ms = if slot.ready_at > asked {
                        asked.elapsed().as_secs_f64() * 1000.0
                    } else {
                        0.0
                    };
                    let host = Arc::clone(&slot.host);
                    self.inner.publish(&state);
                    return Ok(Lease {
                        host,
                        waited_for_worker_ms,
                        inner: Arc::clone(&self.inner),
                        verdict: Verdict::Keep,
                        _permit: permit,
                    });
                }
                if heap_mb == self.inner.settings.heap_mb {
                    if let (0, Some(failure)) = (state.serving(), &state.last_failure) {
                        return Err(failure.clone());
                    }
                } else if !state.coming(heap_mb) {
                    match state.extra_failure.take() {
                        Some((heap, failure)) if heap == heap_mb => return Err(failure),
                        _ => self.inner.start_extra(&mut state, heap_mb),
                    }
                }
            }
            tokio::time::timeout_at(deadline, changed)
                .await
                .map_err(|_| waited())?;
        }
    }

    pub fn view(&self) -> PoolView {
        let state = self.inner.lock();
        PoolView {
            ready: state.serving(),
            booting: state.booting.len(),
            last_failure: state.last_failure.clone(),
        }
    }

    /// Kills every host and waits (briefly) until all are gone.
    pub async fn shutdown(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        self.inner.capacity.close();
        let hosts: Vec<Arc<Host>> = {
            let mut state = self.inner.lock();
            state.slots.drain(..).map(|slot| slot.host).collect()
        };
        for host in &hosts {
            host.kill();
        }
        let gone = async {
            for host in &hosts {
                host.exited().await;
            }
            loop {
                let changed = self.inner.changed.notified();
                if self.inner.lock().booting.is_empty() {
                    break;
                }
                changed.await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(10), gone)
            .await
            .is_err()
        {
            tracing::error!("isolate hosts still running 10 s after shutdown");
        }
        // Their cgroups go with them, before the agent's own.
        drop(hosts);
        self.inner.publish(&self.inner.lock());
        if let Some(cgroups) = &self.inner.launcher.cgroups {
            cgroups.remove();
        }
        let _ = std::fs::remove_dir_all(&self.inner.launcher.run_dir);
    }
}

impl Lease {
    /// Hands the host back, with what the workload showed about it.
    pub fn finish(mut self, verdict: Verdict) {
        self.verdict = verdict;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.inner.release(&self.host, self.verdict);
    }
}

impl State {
    /// Hosts of the default heap size taking new work (busy or not).
    fn serving(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| slot.retiring.is_none())
            .count()
    }

    /// Claims the idle host of `heap_mb` that waited longest.
    fn take(&mut self, heap_mb: u64) -> Option<&Slot> {
        let slot = self
            .slots
            .iter_mut()
            .filter(|slot| {
                slot.retiring.is_none() && slot.phase == Phase::Idle && slot.host.heap_mb == heap_mb
            })
            .min_by_key(|slot| slot.ready_at)?;
        slot.phase = Phase::Busy;
        Some(slot)
    }

    /// Whether a host of `heap_mb` is starting or making its next worker.
    fn coming(&self, heap_mb: u64) -> bool {
        self.booting.contains(&heap_mb)
            || self.slots.iter().any(|slot| {
                slot.host.heap_mb == heap_mb
                    && slot.retiring.is_none()
                    && matches!(slot.phase, Phase::Preparing | Phase::Checking)
            })
    }

    pub(super) fn index_of(&self, host: &Host) -> Option<usize> {
        self.slots.iter().position(|slot| slot.host.id == host.id)
    }
}

impl Inner {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("isolate pool lock")
    }

    pub(super) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    fn release(self: &Arc<Self>, host: &Arc<Host>, verdict: Verdict) {
        let rss = host.rss_bytes();
        let mut state = self.lock();
        if let Some(index) = state.index_of(host) {
            let slot = &mut state.slots[index];
            slot.served += 1;
            let reason = match verdict {
                Verdict::Retire(reason) => Some(reason),
                Verdict::Keep if slot.served >= self.settings.recycle_after => {
                    Some(Retirement::Recycled)
                }
                Verdict::Keep if rss.is_some_and(|rss| rss > self.settings.recycle_rss_bytes) => {
                    Some(Retirement::Rss)
                }
                Verdict::Keep => None,
            };
            match reason {
                Some(reason) => {
                    slot.phase = Phase::Idle;
                    self.retire(&mut state, index, reason);
                }
                None => {
                    slot.phase = Phase::Preparing;
                    tokio::spawn(upkeep::prepare(Arc::clone(self), Arc::clone(host)));
                }
            }
        }
        self.fill(&mut state);
        self.publish(&state);
        drop(state);
        self.changed.notify_waiters();
    }

    /// Marks slot `index` retiring for `reason` (the first reason counts), and kills and
    /// removes it if no task uses it.
    pub(super) fn retire(&self, state: &mut State, index: usize, reason: Retirement) {
        let slot = &mut state.slots[index];
        if slot.retiring.is_none() {
            slot.retiring = Some(reason);
            self.metrics.retired(reason);
            tracing::debug!(
                host = slot.host.id,
                reason = reason.as_str(),
                "retiring an isolate host"
            );
        }
        if slot.phase == Phase::Idle {
            state.slots.swap_remove(index).host.kill();
        }
    }

    /// Starts hosts of the default heap size until `hosts + spares` are serving or starting.
    pub(super) fn fill(self: &Arc<Self>, state: &mut State) {
        if self.is_closed() {
            return;
        }
        let heap_mb = self.settings.heap_mb;
        let target = self.settings.hosts + self.settings.spares;
        let count = |state: &State| {
            let serving = state
                .slots
                .iter()
                .filter(|slot| slot.retiring.is_none() && slot.host.heap_mb == heap_mb)
                .count();
            serving
                + state
                    .booting
                    .iter()
                    .filter(|&&heap| heap == heap_mb)
                    .count()
        };
        while count(state) < target {
            let delay = match state.failures_in_row {
                0 => Duration::ZERO,
                n => (upkeep::BACKOFF_START * 2u32.saturating_pow(n - 1)).min(upkeep::BACKOFF_MAX),
            };
            self.start_host(state, heap_mb, delay);
        }
    }

    /// Starts an extra host for `heap_mb`; at most `hosts` extras live at once, the one unused
    /// longest giving way.
    fn start_extra(self: &Arc<Self>, state: &mut State, heap_mb: u64) {
        let default = self.settings.heap_mb;
        let extras = state
            .slots
            .iter()
            .filter(|slot| slot.retiring.is_none() && slot.host.heap_mb != default)
            .count()
            + state
                .booting
                .iter()
                .filter(|&&heap| heap != default)
                .count();
        if extras >= self.settings.hosts {
            let unused = state
                .slots
                .iter()
                .enumerate()
                .filter(|(_, slot)| {
                    slot.retiring.is_none()
                        && slot.phase == Phase::Idle
                        && slot.host.heap_mb != default
                })
                .min_by_key(|(_, slot)| slot.ready_at)
                .map(|(index, _)| index);
            if let Some(index) = unused {
                self.retire(state, index, Retirement::Unused);
            }
        }
        self.start_host(state, heap_mb, Duration::ZERO);
    }

    fn start_host(self: &Arc<Self>, state: &mut State, heap_mb: u64, delay: Duration) {
        state.booting.push(heap_mb);
        state.next_id += 1;
        tokio::spawn(upkeep::boot(
            Arc::clone(self),
            state.next_id,
            heap_mb,
            delay,
        ));
    }

    /// Adds a host that has just started, idle with its warm worker.
    pub(super) fn add(&self, state: &mut State, host: Arc<Host>) {
        state.slots.push(Slot {
            host,
            phase: Phase::Idle,
            served: 0,
            retiring: None,
            ready_at: Instant::now(),
        });
    }

    pub(super) fn publish(&self, state: &State) {
        let idle = state
            .slots
            .iter()
            .filter(|slot| slot.retiring.is_none() && slot.phase == Phase::Idle)
            .count();
        let active = state
            .slots
            .iter()
            .filter(|slot| slot.phase == Phase::Busy)
            .count();
        self.metrics
            .publish(state.slots.len(), state.booting.len(), idle, active);
    }
}
