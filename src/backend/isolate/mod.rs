//! The isolate tier: each workload runs in a fresh V8 isolate (a `node:worker_threads` worker,
//! used once) inside a Deno host process (`isolate-host/`) that this module starts, sandboxes
//! and supervises.
//!
//! Limits and who enforces them:
//! - timeout: the host answers `timeout` at the deadline; a worker that will not stop poisons
//!   its host, and a host that has not answered [`DEADLINE_GRACE`] after the deadline is
//!   killed here, so no workload burns CPU past its deadline;
//! - heap: the worker's V8 heap limit (`memory_mb`), reported by the host as `memory_limit`;
//! - off-heap memory and threads: the host's cgroups (`cgroup.rs`); an OOM kill of the host
//!   during a workload is `memory_limit`;
//! - capabilities: the host holds no permission but its socket; seccomp forbids `kill(2)`;
//!   the jail (`jail.rs`, bubblewrap) leaves a V8 escape a read-only view of little more than
//!   Deno itself and no network;
//! - a host stopped by a signal (SIGSTOP) during a workload is noticed within ~50 ms, and
//!   the workload ends as `backend_crashed`.
//!
//! # Layout
//! - `command.rs`  the host's command line
//! - `sandbox.rs`  seccomp, cgroup join and parent-death signal, applied before `exec`
//! - `jail.rs`     bubblewrap: namespaces and a minimal read-only file system
//! - `cgroup.rs`   memory and pids cgroups (v1 or v2)
//! - `host.rs`     one host process: start, readiness, stderr, reaping
//! - `pool.rs`     the supervisor: leases, retirement, replacement, backoff, health pings
//! - `client.rs`   HTTP over the host's Unix socket
//! - `protocol.rs` the host's request and answer, and the answer as an `Outcome`
//! - `metrics.rs`  the tier's Prometheus metrics

mod cgroup;
mod client;
mod command;
mod host;
mod jail;
mod metrics;
mod pool;
mod protocol;
mod sandbox;

use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hyper::{Method, StatusCode};
use prometheus::Registry;

use self::cgroup::Cgroups;
use self::command::HostCommand;
use self::host::{Host, Launcher};
use self::jail::Jail;
pub use self::jail::JailMode;
use self::metrics::IsolateMetrics;
pub use self::pool::PoolSettings;
use self::pool::{Pool, Retirement, Verdict};
use self::protocol::{ExecuteRequest, ExecuteResponse, Served};
use self::sandbox::Sandbox;
use super::{
    Backend, BackendKind, Capabilities, Health, Language, LimitRange, Outcome, Status, Workload,
    WorkloadError,
};
use crate::backend::well_formed::well_formed_text;
use crate::error::{Error, Result};

/// How long after a workload's deadline the agent waits for its host's answer before it kills
/// the host. The host itself gives a busy worker 10 ms to stop (`isolate-host/src/deadline.ts`).
pub const DEADLINE_GRACE: Duration = Duration::from_millis(75);
/// How long a workload may wait for a free host.
const QUEUE_WAIT: Duration = Duration::from_secs(30);
/// How often a host running a workload is checked for being stopped (SIGSTOP): a stopped
/// host would otherwise hold its workloads until their deadlines.
const STOPPED_POLL: Duration = Duration::from_millis(25);
/// How long after a broken connection the host's exit is awaited, to tell why it died.
const EXIT_WAIT: Duration = Duration::from_millis(500);
/// The smallest worker heap: with 4 MiB or less V8 cannot even start the worker, and aborts
/// the whole host ("GC during deserialization"); 6 MiB was the smallest that worked here.
pub const MIN_HEAP_MB: u64 = 8;
/// What V8 prints when it aborts a process out of heap (a worker whose limit could not hold).
const V8_OUT_OF_MEMORY: &str = "Fatal JavaScript out of memory";

#[derive(Clone, Debug)]
pub struct IsolateConfig {
    /// The `isolate-host/` directory (its Deno is installed under `node_modules/`).
    pub host_dir: PathBuf,
    pub pool: PoolSettings,
    /// Memory cap of one host process (its cgroup): V8 heaps, off-heap memory, Deno itself.
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

impl IsolateBackend {
    /// Starts the hosts. Never fails: a tier that cannot start is reported unhealthy, with
    /// the reason, and the agent serves the other tiers.
    pub async fn start(mut config: IsolateConfig, registry: &Registry) -> IsolateBackend {
        let heap = &mut config.memory_mb;
        heap.min = heap.min.max(MIN_HEAP_MB);
        heap.default = heap.default.max(heap.min);
        heap.max = heap.max.max(heap.default);
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
        let command = HostCommand::new(
            &config.host_dir,
            config.memory_mb.default,
            config.pool.per_host,
        )?;
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

    async fn run_on(&self, host: &Host, workload: &Workload) -> (Outcome, Verdict) {
        let started = Instant::now();
        let body =
            serde_json::to_vec(&ExecuteRequest::new(workload)).expect("serialisable request");
        let limits = &workload.limits;
        let max_answer = usize::try_from(
            limits.max_output_bytes
                + 2 * limits.max_log_bytes
                + 64 * limits.max_log_lines
                + (1 << 20),
        )
        .unwrap_or(usize::MAX);
        let deadline = Duration::from_millis(limits.timeout_ms) + DEADLINE_GRACE;
        let call = host.client.call(Method::POST, "/execute", body, max_answer);
        let served = Served {
            host_id: host.id,
            host_pid: host.pid,
        };
        let failed_host = |message: String, retirement: Retirement| {
            let error = WorkloadError::new("BackendCrashed", message);
            let outcome = Outcome::failed(Status::BackendCrashed, error, ms(started));
            (outcome, Verdict::Retire(retirement))
        };
        let crashed = |message: String| failed_host(message, Retirement::Crashed);
        let answer = tokio::select! {
            answer = tokio::time::timeout(deadline, call) => answer,
            () = stopped(host) => {
                let message = format!(
                    "the isolate host (pid {}) was stopped by a signal during the workload",
                    host.pid
                );
                return failed_host(message, Retirement::Stopped);
            }
        };
        match answer {
            Err(_) => {
                let message = format!("workload exceeded its timeout of {} ms", limits.timeout_ms);
                let error = WorkloadError::new("Timeout", message);
                let outcome = Outcome::failed(Status::Timeout, error, ms(started));
                (outcome, Verdict::Retire(Retirement::Runaway))
            }
            Ok(Ok((StatusCode::OK, body))) => {
                // Logs may hold lone surrogates, which serde_json refuses.
                let text = String::from_utf8_lossy(&body);
                match serde_json::from_str::<ExecuteResponse>(&well_formed_text(&text)) {
                    Ok(answer) => {
                        let verdict = if answer.poisoned {
                            Verdict::Retire(Retirement::Poisoned)
                        } else {
                            Verdict::Keep
                        };
                        match answer.into_outcome(workload, served) {
                            Ok(outcome) => (outcome, verdict),
                            Err(reason) => {
                                crashed(format!("the isolate host broke the protocol: {reason}"))
                            }
                        }
                    }
                    Err(err) => {
                        crashed(format!("the isolate host answered unreadable JSON: {err}"))
                    }
                }
            }
            Ok(Ok((status, body))) => crashed(format!(
                "the isolate host refused the workload ({status}): {}",
                String::from_utf8_lossy(&body[..body.len().min(512)])
            )),
            Ok(Err(err)) => self.died(host, workload, &err, started).await,
        }
    }

    /// The connection broke: the host died. `memory_limit` if its cgroup OOM-killed it or V8
    /// aborted it out of heap.
    async fn died(
        &self,
        host: &Host,
        workload: &Workload,
        err: &std::io::Error,
        started: Instant,
    ) -> (Outcome, Verdict) {
        let exit = tokio::time::timeout(EXIT_WAIT, host.exited())
            .await
            .ok()
            .flatten();
        let verdict = Verdict::Retire(Retirement::Crashed);
        let (status, error) = match exit {
            Some(exit) if exit.oom_killed => (
                Status::MemoryLimit,
                WorkloadError::new(
                    "MemoryLimit",
                    format!(
                        "the isolate host's memory cap of {} MiB was reached (heap and off-heap \
                         memory such as ArrayBuffers and WebAssembly memories)",
                        self.config.host_memory_mb
                    ),
                ),
            ),
            Some(_) if host.stderr_tail().contains(V8_OUT_OF_MEMORY) => (
                Status::MemoryLimit,
                WorkloadError::new(
                    "MemoryLimit",
                    format!(
                        "memory limit of {} MiB reached: V8 ran out of heap and aborted the \
                         isolate host",
                        workload.limits.memory_mb
                    ),
                ),
            ),
            Some(exit) => (
                Status::BackendCrashed,
                WorkloadError::new(
                    "BackendCrashed",
                    format!("the isolate host died ({})", exit.status),
                ),
            ),
            None => (
                Status::BackendCrashed,
                WorkloadError::new("BackendCrashed", format!("lost the isolate host: {err}")),
            ),
        };
        if status == Status::BackendCrashed {
            tracing::warn!(host = host.id, error = %error.message, stderr = %host.stderr_tail(), "an isolate host failed a workload");
        }
        (Outcome::failed(status, error, ms(started)), verdict)
    }
}

/// Resolves once `host` has been seen stopped twice in a row, [`STOPPED_POLL`] apart.
async fn stopped(host: &Host) {
    let mut poll =
        tokio::time::interval_at(tokio::time::Instant::now() + STOPPED_POLL, STOPPED_POLL);
    let mut seen = false;
    loop {
        poll.tick().await;
        let now = host.is_stopped();
        if now && seen {
            return;
        }
        seen = now;
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
        let lease = pool.lease(QUEUE_WAIT).await.map_err(unavailable)?;
        let (outcome, verdict) = self.run_on(&lease.host, &workload).await;
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
