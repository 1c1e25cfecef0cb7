//! The pool's background work: starting hosts (with backoff after failures), noticing hosts
//! that exit on their own, making each host's next worker after a workload, and pinging idle
//! hosts. Each task changes the pool's state under its lock and signals waiting leases.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::host::Host;
use super::pool::{Inner, Phase};
use super::protocol::{Answer, HEALTH, HealthAnswer, PREPARE, PrepareAnswer};
use super::retirement::Retirement;

pub const BACKOFF_START: Duration = Duration::from_millis(100);
pub const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// How often idle hosts are pinged, and how long each may take to answer.
const PING_EVERY: Duration = Duration::from_secs(5);
const PING_DEADLINE: Duration = Duration::from_secs(2);
/// How long a host may take to make its next worker (tens of ms on an idle machine).
const PREPARE_DEADLINE: Duration = Duration::from_secs(10);
/// How long an extra host (a heap size other than the default) is kept unused.
const EXTRA_IDLE: Duration = Duration::from_secs(30);
/// Bytes any answer but a workload's may take.
const SMALL_ANSWER: usize = 4096;
/// How long a host ready again may take to lose the thread of its last worker.
const LEFTOVER_WAIT: Duration = Duration::from_millis(50);

pub async fn boot(inner: Arc<Inner>, id: u64, heap_mb: u64, delay: Duration) {
    tokio::time::sleep(delay).await;
    let started = Instant::now();
    let result = if inner.is_closed() {
        Err("the isolate tier is shut down".to_owned())
    } else {
        Host::start(&inner.launcher, id, heap_mb).await
    };
    let extra = heap_mb != inner.settings.heap_mb;
    let mut state = inner.lock();
    if let Some(at) = state.booting.iter().position(|&heap| heap == heap_mb) {
        state.booting.swap_remove(at);
    }
    match result {
        Ok(host) if !inner.is_closed() => {
            let host = Arc::new(host);
            inner.metrics.started(true, started.elapsed());
            tracing::debug!(
                host = id,
                pid = host.pid,
                heap_mb,
                ms = started.elapsed().as_millis(),
                "isolate host ready"
            );
            if !extra {
                state.failures_in_row = 0;
                state.last_failure = None;
            }
            inner.add(&mut state, Arc::clone(&host));
            tokio::spawn(watch_exit(Arc::clone(&inner), host));
        }
        Ok(host) => host.kill(),
        Err(reason) => {
            if !inner.is_closed() {
                inner.metrics.started(false, started.elapsed());
                tracing::error!(host = id, heap_mb, error = %reason, "an isolate host failed to start");
                if extra {
                    state.extra_failure = Some((heap_mb, reason));
                } else {
                    state.failures_in_row += 1;
                    state.last_failure = Some(reason);
                    inner.fill(&mut state);
                }
            }
        }
    }
    inner.publish(&state);
    drop(state);
    inner.changed.notify_waiters();
}

/// Removes a host that exited by itself (a workload on it sees the broken connection).
async fn watch_exit(inner: Arc<Inner>, host: Arc<Host>) {
    let exit = host.exited().await;
    let mut state = inner.lock();
    if let Some(index) = state.index_of(&host) {
        let slot = &mut state.slots[index];
        let reason = if slot.phase == Phase::Busy {
            Retirement::Crashed
        } else {
            tracing::warn!(host = host.id, exit = ?exit.map(|exit| exit.status), stderr = %host.stderr_tail(), "an isolate host exited");
            Retirement::Exited
        };
        slot.phase = Phase::Idle;
        inner.retire(&mut state, index, reason);
        inner.fill(&mut state);
        inner.publish(&state);
    }
    drop(state);
    inner.changed.notify_waiters();
}

/// After a workload: gives the host its own memory cap back, then has it make its next
/// worker; the host is idle again once that worker is ready. It is retired if it cannot make
/// one, if it says it is poisoned (the last worker did not stop once answered), or if more than
/// its warm worker's thread is left (a nested worker the workload started, which outlives its
/// parent and may spin on: Deno cannot stop it).
pub async fn prepare(inner: Arc<Inner>, host: Arc<Host>) {
    if let Some(cgroup) = &host.cgroup
        && let Err(err) = cgroup.restore_cap()
    {
        tracing::warn!(host = host.id, error = %err, "could not restore an isolate host's memory cap");
    }
    let call = host.client.call(PREPARE, &[], SMALL_ANSWER);
    let ready = match tokio::time::timeout(PREPARE_DEADLINE, call).await {
        Ok(Ok(frame)) => match Answer::<PrepareAnswer>::parse(&frame.head) {
            Ok(Answer::Answered(_)) => leftover_threads(&host).await,
            Ok(Answer::Refused(refused)) if refused.error.code == "poisoned" => {
                Err(Retirement::Poisoned)
            }
            Ok(Answer::Refused(_)) | Err(_) => Err(Retirement::Crashed),
        },
        Ok(Err(_)) | Err(_) => Err(Retirement::Crashed),
    };
    let mut state = inner.lock();
    if let Some(index) = state.index_of(&host) {
        let slot = &mut state.slots[index];
        slot.phase = Phase::Idle;
        match ready {
            Ok(()) => {
                slot.ready_at = Instant::now();
                // A host retired meanwhile (a failed ping cannot, but a shutdown can) goes now.
                if inner.is_closed() {
                    inner.retire(&mut state, index, Retirement::Exited);
                }
            }
            Err(reason) => {
                tracing::warn!(host = host.id, reason = reason.as_str(), stderr = %host.stderr_tail(), "an isolate host could not make its next worker");
                inner.retire(&mut state, index, reason);
            }
        }
        inner.fill(&mut state);
        inner.publish(&state);
    }
    drop(state);
    inner.changed.notify_waiters();
}

/// `Err(Poisoned)` if a worker thread beyond the warm one is still there, twice
/// [`LEFTOVER_WAIT`] apart (the last workload's own thread may take a moment to end).
async fn leftover_threads(host: &Host) -> Result<(), Retirement> {
    if host.worker_threads() <= 1 {
        return Ok(());
    }
    tokio::time::sleep(LEFTOVER_WAIT).await;
    match host.worker_threads() {
        0 | 1 => Ok(()),
        threads => {
            tracing::warn!(
                host = host.id,
                threads,
                "a worker thread outlived its workload; retiring its host"
            );
            Err(Retirement::Poisoned)
        }
    }
}

/// Every [`PING_EVERY`]: asks each idle host for its health and retires the ones that do not
/// answer or are poisoned; retires extra hosts unused for [`EXTRA_IDLE`]; publishes the hosts'
/// total resident memory.
pub async fn ping_loop(inner: Weak<Inner>) {
    let mut ticks = tokio::time::interval(PING_EVERY);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        if inner.is_closed() {
            return;
        }
        let (idle, rss_total) = {
            let mut state = inner.lock();
            let default = inner.settings.heap_mb;
            let unused = state.slots.iter().position(|slot| {
                slot.phase == Phase::Idle
                    && slot.host.heap_mb != default
                    && slot.ready_at.elapsed() > EXTRA_IDLE
            });
            if let Some(index) = unused {
                inner.retire(&mut state, index, Retirement::Unused);
            }
            let rss_total = state
                .slots
                .iter()
                .map(|slot| slot.host.rss_bytes().unwrap_or(0))
                .sum::<u64>();
            let idle: Vec<Arc<Host>> = state
                .slots
                .iter()
                .filter(|slot| slot.phase == Phase::Idle)
                .map(|slot| Arc::clone(&slot.host))
                .collect();
            (idle, rss_total)
        };
        inner.metrics.host_rss(rss_total);
        for host in idle {
            // One at a time, and only if still idle: a ping takes its host from the leases.
            {
                let mut state = inner.lock();
                match state.index_of(&host) {
                    Some(index) if state.slots[index].phase == Phase::Idle => {
                        state.slots[index].phase = Phase::Checking;
                    }
                    _ => continue,
                }
            }
            let verdict = ping(&host).await;
            let mut state = inner.lock();
            if let Some(index) = state.index_of(&host) {
                state.slots[index].phase = Phase::Idle;
                if let Some(reason) = verdict {
                    inner.retire(&mut state, index, reason);
                    inner.fill(&mut state);
                }
                inner.publish(&state);
            }
            drop(state);
            inner.changed.notify_waiters();
        }
    }
}

async fn ping(host: &Host) -> Option<Retirement> {
    let call = host.client.call(HEALTH, &[], SMALL_ANSWER);
    let health = match tokio::time::timeout(PING_DEADLINE, call).await {
        Ok(Ok(frame)) => Answer::<HealthAnswer>::parse(&frame.head)
            .ok()
            .and_then(|answer| answer.answered().ok()),
        _ => None,
    };
    match health {
        None => Some(Retirement::Unresponsive),
        Some(health) if health.poisoned => Some(Retirement::Poisoned),
        Some(_) => None,
    }
}
