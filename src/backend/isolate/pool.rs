//! The supervisor: a pool of host processes, each running at most `per_host` workloads at
//! once, `hosts + spares` of them kept started so nobody waits for a boot.
//!
//! A workload leases the idle host that has waited longest (its warm worker is the most likely
//! to be ready) and hands it back with a [`Verdict`]. A host is retired when a workload says so
//! (poisoned, timed out, crashed), after `recycle_after` workloads, above `recycle_rss_bytes`,
//! or when a health ping fails: it takes no new work, and is killed once its last workload
//! ends. Every retirement, and every host that exits on its own, starts a replacement; failed
//! starts are retried with exponential backoff, and the last failure is the tier's health.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::host::{Host, Launcher};
use super::metrics::IsolateMetrics;
use super::protocol::HealthResponse;

const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
const PING_EVERY: Duration = Duration::from_secs(5);
const PING_DEADLINE: Duration = Duration::from_secs(2);

#[derive(Clone, Debug)]
pub struct PoolSettings {
    /// Host processes serving workloads at once.
    pub hosts: usize,
    /// Extra started hosts, so a retired one is replaced without waiting for a boot.
    pub spares: usize,
    /// Workloads one host runs at once.
    pub per_host: usize,
    /// Workloads a host runs before it is replaced.
    pub recycle_after: u64,
    /// Resident memory above which a host is replaced.
    pub recycle_rss_bytes: u64,
}

/// Why a host stopped taking work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retirement {
    /// It ran `recycle_after` workloads.
    Recycled,
    /// Its resident memory passed `recycle_rss_bytes`.
    Rss,
    /// It could not stop a worker.
    Poisoned,
    /// It did not answer by a workload's deadline (a worker that will not stop).
    Runaway,
    /// It broke the protocol or died during a workload.
    Crashed,
    /// It was stopped by a signal (SIGSTOP) during a workload.
    Stopped,
    /// It failed a health ping.
    Unresponsive,
    /// It exited on its own while idle.
    Exited,
}

impl Retirement {
    pub const ALL: [Retirement; 8] = [
        Retirement::Recycled,
        Retirement::Rss,
        Retirement::Poisoned,
        Retirement::Runaway,
        Retirement::Crashed,
        Retirement::Stopped,
        Retirement::Unresponsive,
        Retirement::Exited,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Retirement::Recycled => "recycled",
            Retirement::Rss => "rss",
            Retirement::Poisoned => "poisoned",
            Retirement::Runaway => "runaway",
            Retirement::Crashed => "crashed",
            Retirement::Stopped => "stopped",
            Retirement::Unresponsive => "unresponsive",
            Retirement::Exited => "exited",
        }
    }
}

/// What a finished workload says about its host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    Retire(Retirement),
}

pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    launcher: Launcher,
    settings: PoolSettings,
    state: Mutex<State>,
    /// Signalled whenever a host becomes free or ready, or a start fails.
    changed: Notify,
    capacity: Arc<Semaphore>,
    metrics: IsolateMetrics,
    closed: AtomicBool,
}

#[derive(Default)]
struct State {
    slots: Vec<Slot>,
    booting: usize,
    next_id: u64,
    failures_in_row: u32,
    last_failure: Option<String>,
}

struct Slot {
    host: Arc<Host>,
    active: usize,
    served: u64,
    idle_since: Instant,
    retiring: Option<Retirement>,
}

/// One workload's claim on one host; hand it back with [`Lease::finish`].
pub struct Lease {
    pub host: Arc<Host>,
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
        let capacity = Arc::new(Semaphore::new(settings.hosts * settings.per_host));
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
                if state.booting == 0 || state.last_failure.is_some() {
                    break;
                }
            }
            changed.await;
        }
        tokio::spawn(ping_loop(Arc::downgrade(&inner)));
        Pool { inner }
    }

    /// Waits (at most `wait`) for a host with room. `Err` says why none came.
    pub async fn lease(&self, wait: Duration) -> Result<Lease, String> {
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
                if let Some(host) = state.take(self.inner.settings.per_host) {
                    self.inner.publish(&state);
                    return Ok(Lease {
                        host,
                        inner: Arc::clone(&self.inner),
                        verdict: Verdict::Keep,
                        _permit: permit,
                    });
                }
                if let (true, Some(failure)) = (state.serving() == 0, &state.last_failure) {
                    return Err(failure.clone());
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
            booting: state.booting,
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
                if self.inner.lock().booting == 0 {
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
    /// Slots taking new work.
    fn serving(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| slot.retiring.is_none())
            .count()
    }

    /// Claims the idle host that waited longest, else the least busy one with room.
    fn take(&mut self, per_host: usize) -> Option<Arc<Host>> {
        let slot = self
            .slots
            .iter_mut()
            .filter(|slot| slot.retiring.is_none() && slot.active < per_host)
            .min_by_key(|slot| (slot.active, slot.idle_since))?;
        slot.active += 1;
        Some(Arc::clone(&slot.host))
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("isolate pool lock")
    }

    fn release(self: &Arc<Self>, host: &Host, verdict: Verdict) {
        let rss = host.rss_bytes();
        let mut state = self.lock();
        if let Some(index) = state.slots.iter().position(|slot| slot.host.id == host.id) {
            let slot = &mut state.slots[index];
            slot.active -= 1;
            slot.served += 1;
            slot.idle_since = Instant::now();
            let recycle = if slot.served >= self.settings.recycle_after {
                Some(Retirement::Recycled)
            } else if rss.is_some_and(|rss| rss > self.settings.recycle_rss_bytes) {
                Some(Retirement::Rss)
            } else {
                None
            };
            let reason = match verdict {
                Verdict::Retire(reason) => Some(reason),
                Verdict::Keep => recycle,
            };
            self.retire(&mut state, index, reason);
        }
        self.fill(&mut state);
        self.publish(&state);
        drop(state);
        self.changed.notify_waiters();
    }

    /// Marks slot `index` retiring (when `reason` is given), and kills and removes it once idle.
    fn retire(&self, state: &mut State, index: usize, reason: Option<Retirement>) {
        let slot = &mut state.slots[index];
        if let (None, Some(reason)) = (slot.retiring, reason) {
            slot.retiring = Some(reason);
            self.metrics.retired(reason);
            tracing::debug!(
                host = slot.host.id,
                reason = reason.as_str(),
                "retiring an isolate host"
            );
        }
        if slot.retiring.is_some() && slot.active == 0 {
            state.slots.swap_remove(index).host.kill();
        }
    }

    /// Starts hosts until `hosts + spares` are serving or booting.
    fn fill(self: &Arc<Self>, state: &mut State) {
        if self.closed.load(Ordering::SeqCst) {
            return;
        }
        let target = self.settings.hosts + self.settings.spares;
        while state.serving() + state.booting < target {
            state.booting += 1;
            state.next_id += 1;
            let delay = match state.failures_in_row {
                0 => Duration::ZERO,
                n => (BACKOFF_START * 2u32.saturating_pow(n - 1)).min(BACKOFF_MAX),
            };
            tokio::spawn(boot(Arc::clone(self), state.next_id, delay));
        }
    }

    fn publish(&self, state: &State) {
        let idle = state
            .slots
            .iter()
            .filter(|slot| slot.retiring.is_none() && slot.active == 0)
            .count();
        let active = state.slots.iter().map(|slot| slot.active).sum();
        self.metrics
            .publish(state.slots.len(), state.booting, idle, active);
    }
}

async fn boot(inner: Arc<Inner>, id: u64, delay: Duration) {
    tokio::time::sleep(delay).await;
    let started = Instant::now();
    let result = if inner.closed.load(Ordering::SeqCst) {
        Err("the isolate tier is shut down".to_owned())
    } else {
        Host::start(&inner.launcher, id).await
    };
    let mut state = inner.lock();
    state.booting -= 1;
    match result {
        Ok(host) if !inner.closed.load(Ordering::SeqCst) => {
            let host = Arc::new(host);
            inner.metrics.started(true, started.elapsed());
            tracing::debug!(
                host = id,
                pid = host.pid,
                ms = started.elapsed().as_millis(),
                "isolate host ready"
            );
            state.failures_in_row = 0;
            state.last_failure = None;
            state.slots.push(Slot {
                host: Arc::clone(&host),
                active: 0,
                served: 0,
                idle_since: Instant::now(),
                retiring: None,
            });
            tokio::spawn(watch_exit(Arc::clone(&inner), host));
        }
        Ok(host) => host.kill(),
        Err(reason) => {
            if !inner.closed.load(Ordering::SeqCst) {
                inner.metrics.started(false, started.elapsed());
                tracing::error!(host = id, error = %reason, "an isolate host failed to start");
                state.failures_in_row += 1;
                state.last_failure = Some(reason);
                inner.fill(&mut state);
            }
        }
    }
    inner.publish(&state);
    drop(state);
    inner.changed.notify_waiters();
}

/// Removes a host that exited by itself (its workloads see the broken connection).
async fn watch_exit(inner: Arc<Inner>, host: Arc<Host>) {
    let exit = host.exited().await;
    let mut state = inner.lock();
    if let Some(index) = state.slots.iter().position(|slot| slot.host.id == host.id) {
        if state.slots[index].retiring.is_none() {
            tracing::warn!(host = host.id, exit = ?exit.map(|exit| exit.status), stderr = %host.stderr_tail(), "an isolate host exited");
        }
        let reason = if state.slots[index].active > 0 {
            Retirement::Crashed
        } else {
            Retirement::Exited
        };
        state.slots[index].active = 0;
        inner.retire(&mut state, index, Some(reason));
        inner.fill(&mut state);
        inner.publish(&state);
    }
    drop(state);
    inner.changed.notify_waiters();
}

/// Every [`PING_EVERY`]: asks each idle host for its health; retires the ones that do not
/// answer, are poisoned or hold too much memory; publishes the hosts' total RSS.
async fn ping_loop(inner: std::sync::Weak<Inner>) {
    let mut ticks = tokio::time::interval(PING_EVERY);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        if inner.closed.load(Ordering::SeqCst) {
            return;
        }
        let hosts: Vec<Arc<Host>> = inner
            .lock()
            .slots
            .iter()
            .map(|slot| Arc::clone(&slot.host))
            .collect();
        let mut rss_total = 0;
        for host in hosts {
            let verdict = ping(&host).await;
            rss_total += host.rss_bytes().unwrap_or(0);
            let Some(reason) = verdict else { continue };
            let mut state = inner.lock();
            if let Some(index) = state.slots.iter().position(|slot| slot.host.id == host.id) {
                inner.retire(&mut state, index, Some(reason));
                inner.fill(&mut state);
                inner.publish(&state);
            }
        }
        inner.metrics.host_rss(rss_total);
    }
}

async fn ping(host: &Host) -> Option<Retirement> {
    let call = host.client.call(Method::GET, "/health", Vec::new(), 4096);
    let health = match tokio::time::timeout(PING_DEADLINE, call).await {
        Ok(Ok((StatusCode::OK, body))) => serde_json::from_slice::<HealthResponse>(&body).ok(),
        _ => None,
    };
    match health {
        None => Some(Retirement::Unresponsive),
        Some(health) if health.poisoned => Some(Retirement::Poisoned),
        Some(_) => None,
    }
}
