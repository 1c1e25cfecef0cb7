//! The client commands' arguments: `vulcan run`, `experiment`, `calibrate`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::router::Isolation;

#[derive(Clone, Debug, Args)]
pub struct RunArgs {
    /// The workload: an ES module whose default export is called with the input.
    pub file: PathBuf,
    /// Input as JSON.
    #[arg(long, default_value = "null")]
    pub input: String,
    #[arg(long, value_enum, default_value_t = Isolation::Auto)]
    pub isolation: Isolation,
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    #[arg(long)]
    pub memory_mb: Option<u64>,
    #[arg(long)]
    pub fuel: Option<u64>,
    /// The Vulcan server to run it on.
    #[arg(long, env = "VULCAN_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
}

#[derive(Debug, Subcommand)]
pub enum ExperimentCommand {
    /// Replay workloads under each routing policy and compare tiers chosen, latency,
    /// failures and CPU time.
    Routing(RoutingExperimentArgs),
    /// Run one workload file N times under both a fuel budget and a timeout: which stops it
    /// first, and how stable fuel and time are.
    Limits(LimitsExperimentArgs),
}

#[derive(Clone, Debug, Args)]
pub struct LimitsExperimentArgs {
    /// The workload: an ES module whose default export is called with the input.
    pub file: PathBuf,
    /// Input as JSON.
    #[arg(long, default_value = "null")]
    pub input: String,
    #[arg(long)]
    pub fuel: u64,
    #[arg(long)]
    pub timeout_ms: u64,
    #[arg(long, default_value_t = 10)]
    pub runs: u32,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// The Vulcan server to run it on.
    #[arg(long, env = "VULCAN_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
}

#[derive(Clone, Debug, Args)]
pub struct CalibrateArgs {
    /// Print the calibration as JSON.
    #[arg(long)]
    pub json: bool,
    /// The Vulcan server to calibrate.
    #[arg(long, env = "VULCAN_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
}

#[derive(Clone, Debug, Args)]
pub struct RoutingExperimentArgs {
    /// Folders of workloads (`*.js`, `*.mjs`, `*.ts`, `*.mts` files of code, and `*.json`
    /// files holding a whole `POST /v1/workloads` body), and/or `history` for recorded
    /// workloads (replayed after the folders').
    #[arg(long, required = true, num_args = 1..)]
    pub workloads: Vec<String>,
    /// With `history` among `--workloads`: how many of the newest recorded workloads.
    #[arg(long, default_value_t = 50)]
    pub history_limit: u32,
    /// Policies to compare: built-in names or policy files (`.toml`, `.json`).
    #[arg(long, required = true, num_args = 1..)]
    pub policies: Vec<String>,
    /// Runs of each workload under each policy.
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    /// Print the report as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// The Vulcan server to run them on.
    #[arg(long, env = "VULCAN_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
}
