//! The isolate tier: each workload runs in a fresh V8 isolate (a Web Worker, used once) inside
//! a Deno host process (`isolate-host/`) that this module starts, sandboxes and supervises. A
//! host runs one workload at a time, so whatever goes wrong in one (a heap overflow aborting
//! the process, a worker that cannot be stopped) only ever takes down that workload's host,
//! which is then replaced, a started spare taking its place meanwhile.
//!
//! Limits and who enforces them:
//! - timeout: the host answers `timeout` at the deadline; a worker that will not stop poisons
//!   its host, and a host that has not answered [`DEADLINE_GRACE`] after the deadline is
//!   killed here, so no workload burns CPU past its deadline;
//! - memory (`memory_mb`, heap and off-heap together): the workers' V8 heap limit (the host's
//!   V8 flag: V8 aborts the host past it); the host's memory cgroup, capped for each workload
//!   at what the host held before it plus `memory_mb` plus [`HEADROOM_BYTES`] (the kernel
//!   kills the host past it); and its committed memory, watched every [`WATCH_EVERY`], which
//!   counts memory allocated but never written (a fresh `ArrayBuffer`) that the cgroup does
//!   not see. Each ends the workload as `memory_limit`, and the peak is reported;
//! - threads: the host's pids cgroup;
//! - capabilities: the host and its workers hold no permission but the host's socket; seccomp
//!   forbids `kill(2)`; the jail (`jail.rs`, bubblewrap) leaves a V8 escape a read-only view of
//!   little more than Deno itself and no network;
//! - a host stopped by a signal (SIGSTOP) during a workload is noticed within ~50 ms, and
//!   the workload ends as `backend_crashed`.
//!
//! # Layout
//! - `command.rs`    the host's command line
//! - `sandbox.rs`    seccomp, cgroup join and parent-death signal, applied before `exec`
//! - `jail.rs`       bubblewrap: namespaces and a minimal read-only file system
//! - `cgroup.rs`     memory and pids cgroups (v1 or v2), capped per workload
//! - `host.rs`       one host process: start, readiness, stderr, reaping
//! - `pool.rs`       the supervisor: leases, heap sizes, retirement
//! - `upkeep.rs`     the pool's background work: starts, next workers, exits, pings
//! - `retirement.rs` why a host goes, and what a workload says about its host
//! - `client.rs`     frames over the host's Unix socket
//! - `protocol.rs`   the frames, and a run's answer as an `Outcome`
//! - `metrics.rs`    the tier's Prometheus metrics

mod cgroup;
mod client;
mod command;
mod host;
mod jail;
mod metrics;
mod pool;
mod protocol;
mod retirement;
mod sandbox;
mod upkeep;

use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use prometheus::Registry;

use self::cgroup::{Cgroups, HostCgroup, WorkloadMemory};
use self::command::HostCommand;
use self::host::{Host, Launcher};
use self::jail::Jail;
pub use self::jail::JailMode;
use self::metrics::IsolateMetrics;
pub use self::pool::PoolSettings;
use self::pool::{Lease, Pool};
use self::protocol::{Answer, Job, RunAnswer, RunHead, Served};
use self::retirement::{Retirement, Verdict};
use self::sandbox::Sandbox;
use super::{
    Backend, BackendKind, Capabilities, Health, Language, LanguageFeature, LimitRange, Outcome,
    Status, Workload, WorkloadError,
};
use crate::error::{Error, Result};
use crate::typescript;

/// How long after a workload's deadline the agent waits for its host's answer before it kills
/// the host. The host itself gives a busy worker 10 ms to stop (`isolate-host/src/deadline.ts`).
pub const DEADLINE_GRACE: Duration = Duration::from_millis(75);
/// How long a workload may wait for a free host.
const QUEUE_WAIT: Duration = Duration::from_secs(30);
/// How often a running workload's host is looked at: its committed memory every time, whether
/// it is stopped (SIGSTOP) every [`STOPPED_EVERY`] looks.
const WATCH_EVERY: Duration = Duration::from_millis(5);
/// Looks between checks for a stopped host: it must be seen stopped twice, ~50 ms apart.
const STOPPED_EVERY: u32 = 5;
/// What a host may hold beyond its baseline and the workload's `memory_mb` while it runs: its
/// own share (the frames, the worker's messages).
pub const HEADROOM_BYTES: u64 = 8 << 20;
/// How long after a broken connection the host's exit is awaited, to tell why it died.
const EXIT_WAIT: Duration = Duration::from_millis(500);
/// The smallest heap: with 4 MiB or less V8 cannot even start a worker, and aborts the whole
/// host ("GC during deserialization"); 6 MiB was the smallest that worked here.
pub const MIN_HEAP_MB: u64 = 8;
/// What V8 prints when it aborts a process out of heap.
const V8_OUT_OF_MEMORY: &str = "Fatal JavaScript out of memory";

#[derive(Clone, Debug)]
pub struct IsolateConfig {
    /// The `isolate-host/` directory (its Deno is installed under `node_modules/`).
    pub host_dir: PathBuf,
    pub pool: PoolSettings,
    /// Memory cap of one host process between workloads (its cgroup): Deno itself and the warm
    /// worker. While a workload runs, the cap is the workload's own.
    pub host_memory_mb: u64,
    /// Thread and process cap of one host (its pids cgroup).
    pub host_max_pids: u64,
    pub jail: JailMode,
    pub timeout_ms: LimitRange,
    pub memory_mb: LimitRange,
}

pub struct IsolateBackend {
    pool: Option<Pool>,
    /// Why the tier cannot run at all (Deno missing, …); `None` when it can.
    broken: Option<String>,
    /// Limits and defences missing here, said in the health detail.
    caveats: Vec<String>,
    config: IsolateConfig,
}

/// What stopped a workload from outside its host, noticed while it ran.
enum Alarm {
    /// The host was stopped by a signal.
    Stopped,
    /// The host committed more memory than the workload may use.
    Committed(u64),
}

impl IsolateBackend {
    /// Starts the hosts. Never fails: a tier that cannot start is reported unhealthy, with
    /// the reason, and the agent serves the other tiers.
    pub async fn start(mut config: IsolateConfig, registry: &Registry) -> IsolateBackend {
        let heap = &mut config.memory_mb;
        heap.min = heap.min.max(MIN_HEAP_MB);
        heap.default = heap.default.max(heap.min);
        heap.max = heap.max.max(heap.default);
        config.pool.heap_mb = heap.default;
        let metrics = IsolateMetrics::new(registry);
        // Unique per backend, also when tests start several agents in one process.
        static INSTANCES: AtomicU64 = AtomicU64::new(0);
        let tag = format!(
            "vulcan-{}-{}",
            std::process::id(),
            INSTANCES.fetch_add(1, Ordering::Relaxed)
        );
        let cgroups = Cgroups::detect(&tag);
        let mut caveats = Vec::new();
        match &cgroups {
            Ok(cgroups) => tracing::info!("isolate tier: host caps by {}", cgroups.describe()),
            Err(reason) => caveats.push(format!(
                "off-heap memory and thread caps are NOT enforced (no usable cgroups: {reason})"
            )),
        }
        sweep_stale_run_dirs();
        let run_dir = std::env::temp_dir().join(&tag);
        let launcher = Self::launcher(&config, cgroups.ok(), run_dir, &mut caveats);
        for caveat in &caveats {
            tracing::warn!("isolate tier: {caveat}");
        }
        let (pool, broken) = match launcher {
            Ok(launcher) => {
                let pool = Pool::start(launcher, config.pool.clone(), metrics).await;
                (Some(pool), None)
            }
            Err(reason) => {
                tracing::error!("isolate tier unavailable: {reason}");
                (None, Some(reason))
            }
        };
        IsolateBackend {
            pool,
            broken,
            caveats,
            config,
        }
    }

    fn launcher(
        config: &IsolateConfig,
        cgroups: Option<Cgroups>,
        run_dir: PathBuf,
        caveats: &mut Vec<String>,
    ) -> std::result::Result<Launcher, String> {
        let command = HostCommand::new(&config.host_dir)?;
        let sandbox = Sandbox::new()?;
        // A leftover of an agent that had this pid before.
        let _ = std::fs::remove_dir_all(&run_dir);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&run_dir)
            .map_err(|err| format!("creating {}: {err}", run_dir.display()))?;
        let jail = match config.jail {
            JailMode::Off => {
                caveats.push("hosts are NOT jailed (--isolate-jail off)".into());
                None
            }
            mode => match Jail::detect(command.deno(), command.host_dir(), &run_dir) {
                Ok(jail) => {
                    tracing::info!("isolate tier: hosts jailed by bubblewrap");
                    Some(jail)
                }
                Err(reason) if mode == JailMode::Required => {
                    return Err(format!("the jail is required but unusable: {reason}"));
                }
                Err(reason) => {
                    caveats.push(format!("hosts are NOT jailed ({reason})"));
                    None
                }
            },
        };
        // The jail's own process counts in the host's pids cgroup.
        let jail_pids = u64::from(jail.is_some());
        Ok(Launcher {
            command,
            sandbox,
            jail,
            cgroups,
            run_dir,
            host_memory_bytes: config.host_memory_mb << 20,
            host_max_pids: config.host_max_pids + jail_pids,
        })
    }

    /// Runs `workload` (its code as JavaScript) on the leased host.
    async fn run_on(&self, lease: &Lease, workload: &Workload, code: &str) -> (Outcome, Verdict) {
        let host = &lease.host;
        let started = Instant::now();
        let limits = &workload.limits;
        let workload_bytes = (limits.memory_mb << 20) + HEADROOM_BYTES;
        let mut memory = host.cgroup.as_ref().and_then(|cgroup| {
            cgroup
                .cap_for_workload(workload_bytes)
                .map_err(|err| tracing::warn!(host = host.id, error = %err, "could not cap an isolate host's memory"))
                .ok()
        });
        let committed_baseline = host.committed_bytes();
        let module_name = match workload.language {
            Language::Javascript => "workload.js",
            Language::Typescript => "workload.ts",
        };
        let head = serde_json::to_vec(&RunHead::new(workload, module_name)).expect("a run head");
        let job = Job {
            code,
            input: &workload.input,
        };
        let payload = serde_json::to_vec(&job).expect("a job");
        let max_answer = usize::try_from(
            limits.max_output_bytes
                + 2 * limits.max_log_bytes
                + 64 * limits.max_log_lines
                + (1 << 20),
        )
        .unwrap_or(usize::MAX);
        let deadline = Duration::from_millis(limits.timeout_ms) + DEADLINE_GRACE;
        let call = host.client.call(&head, &payload, max_answer);
        let answer = tokio::select! {
            answer = tokio::time::timeout(deadline, call) => Ok(answer),
            alarm = watch(host, committed_baseline, workload_bytes) => Err(alarm),
        };
        let mut served = Served {
            host_id: host.id,
            host_pid: host.pid,
            waited_for_worker_ms: lease.waited_for_worker_ms,
            memory_peak_bytes: memory_peak(host, memory.as_mut()),
        };
        let failed = |status, error, reason, served: &Served| {
            let mut outcome = Outcome::failed(status, error, ms(started));
            outcome.metadata = Some(served.unanswered());
            (outcome, Verdict::Retire(reason))
        };
        let crashed = |message: String| {
            let error = WorkloadError::new("BackendCrashed", message);
            failed(Status::BackendCrashed, error, Retirement::Crashed, &served)
        };
        let answer = match answer {
            Ok(answer) => answer,
            Err(alarm) => {
                host.kill();
                let (status, error, reason) = alarmed(alarm, host, workload);
                return failed(status, error, reason, &served);
            }
        };
        match answer {
            Err(_) => {
                let message = format!("workload exceeded its timeout of {} ms", limits.timeout_ms);
                let error = WorkloadError::new("Timeout", message);
                failed(Status::Timeout, error, Retirement::Runaway, &served)
            }
            Ok(Ok(frame)) => {
                match Answer::<RunAnswer>::parse(&frame.head).and_then(Answer::answered) {
                    Ok(answer) => {
                        let verdict = if answer.poisoned {
                            Verdict::Retire(Retirement::Poisoned)
                        } else {
                            Verdict::Keep
                        };
                        match answer.into_outcome(&frame.payload, workload, served) {
                            Ok(outcome) => (outcome, verdict),
                            Err(reason) => {
                                crashed(format!("the isolate host broke the protocol: {reason}"))
                            }
                        }
                    }
                    Err(reason) => crashed(reason),
                }
            }
            Ok(Err(err)) => {
                let (status, error, reason) = died(host, workload, &err).await;
                // The host's memory as it died (its cgroup outlives it while `host` is held).
                served.memory_peak_bytes = memory_peak(host, memory.as_mut());
                failed(status, error, reason, &served)
            }
        }
    }
}

/// Why the host died when its connection broke: `memory_limit` if its cgroup OOM-killed it
/// or V8 aborted it out of heap.
async fn died(
    host: &Host,
    workload: &Workload,
    err: &std::io::Error,
) -> (Status, WorkloadError, Retirement) {
    let exit = tokio::time::timeout(EXIT_WAIT, host.exited())
        .await
        .ok()
        .flatten();
    if exit.is_some() {
        // V8's "out of memory" may still be in the pipe when the exit is seen.
        let _ = tokio::time::timeout(EXIT_WAIT, host.stderr_closed()).await;
    }
    let memory_mb = workload.limits.memory_mb;
    let memory_limit = |detail: &str| {
        let message = format!("memory limit of {memory_mb} MiB reached ({detail})");
        (
            Status::MemoryLimit,
            WorkloadError::new("MemoryLimit", message),
            Retirement::MemoryLimit,
        )
    };
    let died = match exit {
        Some(exit) if exit.oom_killed => {
            memory_limit("heap and off-heap memory such as ArrayBuffers and WebAssembly memories")
        }
        Some(_) if host.stderr_tail().contains(V8_OUT_OF_MEMORY) => {
            memory_limit("JS heap out of memory")
        }
        Some(exit) => (
            Status::BackendCrashed,
            WorkloadError::new(
                "BackendCrashed",
                format!("the isolate host died ({})", exit.status),
            ),
            Retirement::Crashed,
        ),
        None => (
            Status::BackendCrashed,
            WorkloadError::new("BackendCrashed", format!("lost the isolate host: {err}")),
            Retirement::Crashed,
        ),
    };
    if died.0 == Status::BackendCrashed {
        tracing::warn!(host = host.id, error = %died.1.message, stderr = %host.stderr_tail(), "an isolate host failed a workload");
    }
    died
}

/// How a workload stopped by `alarm` (its host killed) ended.
fn alarmed(alarm: Alarm, host: &Host, workload: &Workload) -> (Status, WorkloadError, Retirement) {
    match alarm {
        Alarm::Stopped => (
            Status::BackendCrashed,
            WorkloadError::new(
                "BackendCrashed",
                format!(
                    "the isolate host (pid {}) was stopped by a signal during the workload",
                    host.pid
                ),
            ),
            Retirement::Stopped,
        ),
        Alarm::Committed(bytes) => (
            Status::MemoryLimit,
            WorkloadError::new(
                "MemoryLimit",
                format!(
                    "memory limit of {} MiB reached: its host committed {} MiB more than before \
                     it (memory allocated counts, even never written, such as a fresh ArrayBuffer)",
                    workload.limits.memory_mb,
                    bytes >> 20
                ),
            ),
            Retirement::MemoryLimit,
        ),
    }
}

/// The most the host held above its baseline during the workload `memory` measured.
fn memory_peak(host: &Host, memory: Option<&mut WorkloadMemory>) -> u64 {
    let (Some(cgroup), Some(memory)) = (&host.cgroup, memory) else {
        return 0;
    };
    cgroup
        .peak_bytes(memory)
        .map_or(0, |peak| peak.saturating_sub(memory.baseline_bytes))
}

/// Resolves when `host`, running a workload, has committed more than `workload_bytes` above
/// `baseline` (checked every [`WATCH_EVERY`]) or has been seen stopped twice in a row.
async fn watch(host: &Host, baseline: Option<u64>, workload_bytes: u64) -> Alarm {
    let mut poll = tokio::time::interval_at(tokio::time::Instant::now() + WATCH_EVERY, WATCH_EVERY);
    let mut looks = 0u32;
    let mut seen_stopped = false;
    loop {
        poll.tick().await;
        if let (Some(baseline), Some(committed)) = (baseline, host.committed_bytes())
            && committed.saturating_sub(baseline) > workload_bytes
        {
            return Alarm::Committed(committed - baseline);
        }
        looks += 1;
        if looks.is_multiple_of(STOPPED_EVERY) {
            let stopped = host.is_stopped();
            if stopped && seen_stopped {
                return Alarm::Stopped;
            }
            seen_stopped = stopped;
        }
    }
}

/// Whether `name` is an instance tag (`vulcan-<pid>-<n>`) of an agent process that is gone.
fn is_stale(name: &str) -> bool {
    let Some(pid) = name
        .strip_prefix("vulcan-")
        .and_then(|rest| rest.split_once('-'))
        .and_then(|(pid, _)| pid.parse::<u32>().ok())
    else {
        return false;
    };
    pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes the private directories that agents which are gone left in `$TMPDIR`.
fn sweep_stale_run_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        if is_stale(&entry.file_name().to_string_lossy()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

/// V8's environment in a Deno Web Worker with no permissions.
const FEATURES: [LanguageFeature; 11] = [
    LanguageFeature::full("Temporal"),
    LanguageFeature::full("Atomics"),
    LanguageFeature::full("SharedArrayBuffer"),
    LanguageFeature::full("BigInt"),
    LanguageFeature::full("WeakRef"),
    LanguageFeature::full("Intl"),
    LanguageFeature::full("WebAssembly"),
    LanguageFeature::full("structuredClone"),
    LanguageFeature::full("TextEncoder"),
    LanguageFeature::full("URL"),
    LanguageFeature::full("crypto"),
];

#[async_trait]
impl Backend for IsolateBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Isolate
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            languages: vec![Language::Javascript, Language::Typescript],
            meters_fuel: false,
            timeout_ms: self.config.timeout_ms,
            memory_mb: self.config.memory_mb,
            fuel_max: None,
            features: FEATURES.to_vec(),
            unmetered_without_fuel: false,
        }
    }

    fn health(&self) -> Health {
        let Some(pool) = &self.pool else {
            let detail = self.broken.clone().unwrap_or_default();
            return Health {
                healthy: false,
                detail,
            };
        };
        let view = pool.view();
        let mut detail = match (&view.last_failure, view.ready) {
            (Some(failure), 0) => format!("no host is running: {failure}"),
            (None, 0) => format!("{} hosts starting", view.booting),
            (_, ready) => format!("{ready} hosts ready, {} starting", view.booting),
        };
        for caveat in &self.caveats {
            detail.push_str("; ");
            detail.push_str(caveat);
        }
        // Hosts being replaced after a clean retirement will come: workloads wait for them.
        let replacing = view.booting > 0 && view.last_failure.is_none();
        Health {
            healthy: view.ready > 0 || replacing,
            detail,
        }
    }

    async fn execute(&self, workload: Workload) -> Result<Outcome> {
        let unavailable = |reason: String| Error::TierUnavailable {
            kind: BackendKind::Isolate,
            reason,
        };
        let pool = self
            .pool
            .as_ref()
            .ok_or_else(|| unavailable(self.broken.clone().unwrap_or_default()))?;
        let code = match typescript::javascript(&workload.code, workload.language) {
            Ok(code) => code,
            Err(error) => return Ok(Outcome::failed(Status::Error, error, 0.0)),
        };
        let lease = pool
            .lease(workload.limits.memory_mb, QUEUE_WAIT)
            .await
            .map_err(unavailable)?;
        let cpu_usec = || lease.host.cgroup.as_deref().and_then(HostCgroup::cpu_usec);
        let cpu_before = cpu_usec();
        let (mut outcome, verdict) = self.run_on(&lease, &workload, &code).await;
        outcome.cpu_ms = cpu_before
            .zip(cpu_usec())
            .map(|(before, after)| after.saturating_sub(before) as f64 / 1000.0);
        lease.finish(verdict);
        Ok(outcome)
    }

    async fn shutdown(&self) {
        if let Some(pool) = &self.pool {
            pool.shutdown().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_stale;

    #[test]
    fn only_tags_of_agents_that_are_gone_are_stale() {
        // pid_max is at most 2^22 on Linux: this pid cannot exist.
        assert!(is_stale("vulcan-4000000000-0"));
        assert!(!is_stale(&format!("vulcan-{}-0", std::process::id())));
        assert!(!is_stale("vulcan-1-3"), "pid 1 is alive");
        assert!(!is_stale("vulcan-cache"));
        assert!(!is_stale("other-4000000000-0"));
    }
}
