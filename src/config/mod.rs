//! Command-line and environment configuration. Every flag has a long name, a `VULCAN_*`
//! environment variable and a documented default; the README's tables mirror this file
//! (access control's flags and commands are in `access.rs`, connections' in `connections.rs`,
//! the client commands' in `client.rs`).

mod access;
mod client;
mod connections;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use access::{AccessArgs, KeysCommand, StoreArgs, TenantsCommand};
pub use client::{
    CalibrateArgs, ExperimentCommand, LimitsExperimentArgs, RoutingExperimentArgs, RunArgs,
};
pub use connections::ConnectionArgs;

use crate::access::AuthMode;
use crate::access::quotas::Quotas;
use crate::backend::LimitRange;
use crate::backend::isolate::JailMode;
use crate::store::StoreLocation;

#[derive(Debug, Parser)]
#[command(
    name = "vulcan",
    version,
    about = "Run untrusted JavaScript and TypeScript in isolation tiers",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `vulcan` with no subcommand serves, with these options.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (the default).
    Serve(Box<ServeArgs>),
    /// Run one workload file on a running server and print its output.
    Run(RunArgs),
    /// Experiments on a running server.
    #[command(subcommand)]
    Experiment(ExperimentCommand),
    /// Measure the wasm tier's fuel per millisecond on a running server.
    Calibrate(CalibrateArgs),
    /// API keys, in the agent's store: create (shown once), list, revoke.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Tenants' own quotas, in the agent's store.
    #[command(subcommand)]
    Tenants(TenantsCommand),
}

#[derive(Clone, Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Loopback by default: expose it deliberately.
    #[arg(long, env = "VULCAN_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Directory for the embedded history database (`vulcan.db`) and caches.
    #[arg(long, env = "VULCAN_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Where the history lives: `sqlite:PATH`, or `postgres://USER@HOST:PORT/DB` for many
    /// agents sharing one [default: sqlite:<data-dir>/vulcan.db].
    #[arg(long, env = "VULCAN_STORE")]
    pub store: Option<StoreLocation>,
    /// Directory for the compiled wasm guest [default: <data-dir>/cache].
    #[arg(long, env = "VULCAN_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Routing policy for `isolation: "auto"`: `isolate-first`, `wasm-first`, or a policy
    /// file (`.toml` or `.json`; see `policies/`).
    #[arg(long, env = "VULCAN_POLICY", default_value = "isolate-first")]
    pub policy: String,
    /// Wasm workloads running at once; more wait for a place [default: CPU count].
    #[arg(long, env = "VULCAN_WASM_THREADS")]
    pub wasm_threads: Option<usize>,
    /// Workloads accepted at once, running or queued; more get 429.
    #[arg(long, env = "VULCAN_MAX_IN_FLIGHT", default_value_t = 256)]
    pub max_in_flight: usize,
    /// After SIGTERM, how long `/healthz` answers 503 `draining` while the agent still serves,
    /// before it stops accepting: behind a balancer, longer than its health checks take to
    /// mark the agent down (0: stop accepting at once).
    #[arg(long, env = "VULCAN_DRAIN_MS", default_value_t = 0)]
    pub drain_ms: u64,
    /// How long an agent's claim on a running workload lasts without a heartbeat (renewed
    /// every third of it); past it, another agent returns the workload to the queue.
    #[arg(long, env = "VULCAN_LEASE_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(300..))]
    pub lease_ms: u64,
    /// Runs of one workload at most, when its agents are lost (1: never run twice); then it
    /// ends `backend_crashed` (`AgentLost`).
    #[arg(long, env = "VULCAN_MAX_ATTEMPTS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,
    /// Queued workloads this agent claims and runs at once [default: CPU count]. Four times
    /// as many measured no faster on PostgreSQL (its CPU is the bound; BENCHMARKS.md).
    #[arg(long, env = "VULCAN_QUEUE_CONCURRENCY", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub queue_concurrency: Option<u64>,
    /// Workloads waiting in the queue at most (all agents together); past it, asynchronous
    /// submissions get 429.
    #[arg(long, env = "VULCAN_MAX_QUEUED", default_value_t = 10_000)]
    pub max_queued: u64,
    /// Addresses (`host:port`, comma-separated) that workloads' `callback_url`s may name;
    /// none by default, so a submitter cannot make the agent call arbitrary addresses.
    #[arg(long, env = "VULCAN_CALLBACK_ALLOW", value_delimiter = ',')]
    pub callback_allow: Vec<String>,
    /// The secret results POSTed to callbacks are signed with (HMAC-SHA256); needed with
    /// `--callback-allow`, the same on every agent.
    #[arg(long, env = "VULCAN_CALLBACK_SECRET", hide_env_values = true)]
    pub callback_secret: Option<String>,
    /// Workloads kept in the history; older ones are deleted.
    #[arg(long, env = "VULCAN_HISTORY_MAX_RECORDS", default_value_t = 100_000)]
    pub history_max_records: u64,
    /// The built web page served at `/` (`npm run build` in `web/` writes it).
    #[arg(
        long,
        env = "VULCAN_WEB_DIR",
        default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/web/dist")
    )]
    pub web_dir: PathBuf,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub isolate: IsolateArgs,
    #[command(flatten)]
    pub access: AccessArgs,
    #[command(flatten)]
    pub connections: ConnectionArgs,
}

impl ServeArgs {
    pub fn store(&self) -> StoreLocation {
        store_location(&self.store, &self.data_dir)
    }

    /// Access control as configured, or as it must be: off by default only on loopback.
    pub fn auth_mode(&self) -> Result<AuthMode, String> {
        match (self.access.auth, self.listen.ip().is_loopback()) {
            (Some(mode), _) => Ok(mode),
            (None, true) => Ok(AuthMode::Off),
            (None, false) => Err(format!(
                "listening on {} (not loopback) needs access control: --auth required \
                 (create a key first: vulcan keys create --tenant T --scopes admin), or \
                 --auth off to serve anyone who can reach it",
                self.listen
            )),
        }
    }

    /// The quotas of a tenant with none of its own.
    pub fn default_quotas(&self) -> Quotas {
        let access = &self.access;
        Quotas {
            max_in_flight: access.tenant_max_in_flight,
            rate_per_sec: access.tenant_rate,
            burst: access.tenant_burst,
            max_timeout_ms: access
                .tenant_max_timeout_ms
                .unwrap_or(self.limits.max_timeout_ms),
            max_memory_mb: access
                .tenant_max_memory_mb
                .unwrap_or(self.limits.max_memory_mb),
            max_fuel: access.tenant_max_fuel.unwrap_or(self.limits.max_fuel),
        }
    }

    pub fn queue_concurrency(&self) -> usize {
        self.queue_concurrency
            .map_or_else(cpu_count, |count| count as usize)
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.cache_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("cache"))
    }

    pub fn wasm_threads(&self) -> usize {
        self.wasm_threads.unwrap_or_else(cpu_count).max(1)
    }
}

pub(crate) fn store_location(
    store: &Option<StoreLocation>,
    data_dir: &std::path::Path,
) -> StoreLocation {
    store
        .clone()
        .unwrap_or_else(|| StoreLocation::Sqlite(data_dir.join("vulcan.db")))
}

/// The isolate tier's pool of Deno host processes.
#[derive(Clone, Debug, Args)]
pub struct IsolateArgs {
    /// The isolate host program (`isolate-host/`; its Deno is under `node_modules/`).
    #[arg(
        long = "isolate-host-dir",
        env = "VULCAN_ISOLATE_HOST_DIR",
        default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/isolate-host")
    )]
    pub host_dir: PathBuf,
    /// Workloads the isolate tier runs at once, one per host process [default: CPU count].
    #[arg(long = "isolate-hosts", env = "VULCAN_ISOLATE_HOSTS", value_parser = at_least_one())]
    pub hosts: Option<usize>,
    /// Extra started hosts, so a workload finds a warm worker while other hosts make their next
    /// one, and a retired host is replaced without waiting for a boot.
    #[arg(
        long = "isolate-spares",
        env = "VULCAN_ISOLATE_SPARES",
        default_value_t = 1
    )]
    pub spares: usize,
    /// Workloads a host runs before it is replaced (1: a fresh process per workload).
    #[arg(
        long = "isolate-recycle-after",
        env = "VULCAN_ISOLATE_RECYCLE_AFTER",
        default_value_t = 200,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub recycle_after: u64,
    /// Resident memory (MiB) above which a host is replaced after its workload.
    #[arg(
        long = "isolate-recycle-rss-mb",
        env = "VULCAN_ISOLATE_RECYCLE_RSS_MB",
        default_value_t = 512
    )]
    pub recycle_rss_mb: u64,
    /// Memory cap (MiB) of one host process between workloads, by cgroup (Deno and its warm
    /// worker), and the ceiling of the cap a workload runs under (`memory_mb` above what the
    /// host held before it).
    #[arg(
        long = "isolate-host-memory-mb",
        env = "VULCAN_ISOLATE_HOST_MEMORY_MB",
        default_value_t = 1024
    )]
    pub host_memory_mb: u64,
    /// Threads (and processes) one host process may have, by cgroup.
    #[arg(
        long = "isolate-host-max-pids",
        env = "VULCAN_ISOLATE_HOST_MAX_PIDS",
        default_value_t = 128
    )]
    pub host_max_pids: u64,
    /// Run each host in a bubblewrap jail (namespaces, minimal read-only file system, no
    /// network): `auto` when it works here (loudly unjailed when not), `required`, or `off`.
    #[arg(
        long = "isolate-jail",
        env = "VULCAN_ISOLATE_JAIL",
        value_enum,
        default_value_t = JailMode::Auto
    )]
    pub jail: JailMode,
}

impl IsolateArgs {
    pub fn hosts(&self) -> usize {
        self.hosts.unwrap_or_else(cpu_count)
    }
}

fn at_least_one() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::new().range(1..)
}

/// Limits on workloads: per-request ones (default and maximum) and server-wide caps.
#[derive(Clone, Debug, Args)]
pub struct LimitArgs {
    /// Wall-clock timeout of a workload when the request names none.
    #[arg(long, env = "VULCAN_TIMEOUT_MS", default_value_t = 2_000)]
    pub timeout_ms: u64,
    /// Largest `timeout_ms` a request may ask for.
    #[arg(long, env = "VULCAN_MAX_TIMEOUT_MS", default_value_t = 30_000)]
    pub max_timeout_ms: u64,
    /// Memory cap of a workload when the request names none.
    #[arg(long, env = "VULCAN_MEMORY_MB", default_value_t = 64)]
    pub memory_mb: u64,
    /// Largest `memory_mb` a request may ask for.
    #[arg(long, env = "VULCAN_MAX_MEMORY_MB", default_value_t = 512)]
    pub max_memory_mb: u64,
    /// Largest `fuel` budget a request may ask for (wasm tier; none asked = unmetered).
    #[arg(long, env = "VULCAN_MAX_FUEL", default_value_t = 1_000_000_000_000)]
    pub max_fuel: u64,
    /// Largest `code`, in bytes.
    #[arg(long, env = "VULCAN_MAX_CODE_BYTES", default_value_t = 1 << 20)]
    pub max_code_bytes: u64,
    /// Largest `input`, in bytes of JSON.
    #[arg(long, env = "VULCAN_MAX_INPUT_BYTES", default_value_t = 1 << 20)]
    pub max_input_bytes: u64,
    /// Largest output, in bytes of JSON; more is `output_limit`.
    #[arg(long, env = "VULCAN_MAX_OUTPUT_BYTES", default_value_t = 1 << 20)]
    pub max_output_bytes: u64,
    /// Console bytes kept per workload; more are dropped (`logs_truncated`).
    #[arg(long, env = "VULCAN_MAX_LOG_BYTES", default_value_t = 64 << 10)]
    pub max_log_bytes: u64,
    /// Console lines kept per workload; more are dropped (`logs_truncated`).
    #[arg(long, env = "VULCAN_MAX_LOG_LINES", default_value_t = 1_000)]
    pub max_log_lines: u64,
    /// Runs one experiment may make (routing: policies × workloads × repeats; limits: runs).
    #[arg(long, env = "VULCAN_MAX_EXPERIMENT_RUNS", default_value_t = 2_000)]
    pub max_experiment_runs: u64,
}

impl LimitArgs {
    /// Refuses defaults that no request could use: zero, or over their maximum.
    pub fn check(&self) -> Result<(), String> {
        for (name, default, max_name, max) in [
            (
                "--timeout-ms",
                self.timeout_ms,
                "--max-timeout-ms",
                self.max_timeout_ms,
            ),
            (
                "--memory-mb",
                self.memory_mb,
                "--max-memory-mb",
                self.max_memory_mb,
            ),
        ] {
            if default == 0 || default > max {
                return Err(format!(
                    "{name} {default} must be between 1 and {max_name} ({max})"
                ));
            }
        }
        Ok(())
    }

    pub fn timeout_ms_range(&self) -> LimitRange {
        LimitRange {
            min: 1,
            default: self.timeout_ms,
            max: self.max_timeout_ms,
        }
    }

    pub fn memory_mb_range(&self) -> LimitRange {
        LimitRange {
            min: 1,
            default: self.memory_mb,
            max: self.max_memory_mb,
        }
    }

    /// Largest request body: code and input, each possibly doubled by JSON escaping.
    pub fn max_body_bytes(&self) -> usize {
        let bytes = 2 * (self.max_code_bytes + self.max_input_bytes) + (64 << 10);
        usize::try_from(bytes).unwrap_or(usize::MAX)
    }
}

/// CPUs this process may use (2 when that cannot be read).
fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}
