//! The `Backend` trait that every isolation tier implements, and the types that cross it.
//!
//! A workload that hits a limit is an [`Outcome`] with a [`Status`], never an `Err`:
//! `Err` is kept for the agent's own faults (a broken engine, a host that will not start).

pub mod isolate;
pub mod wasm;
pub mod well_formed;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

use crate::error::Result;

/// The isolation tiers Vulcan knows about.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// A fresh V8 isolate in a supervised Deno host.
    Isolate,
    /// A fresh QuickJS-in-WebAssembly instance run by wasmtime.
    Wasm,
}

impl BackendKind {
    pub const ALL: [BackendKind; 2] = [BackendKind::Isolate, BackendKind::Wasm];

    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Isolate => "isolate",
            BackendKind::Wasm => "wasm",
        }
    }
}

/// The source language of a workload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Javascript,
    Typescript,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Javascript => "javascript",
            Language::Typescript => "typescript",
        }
    }
}

/// Limits resolved for one workload (defaults applied, ranges checked).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Limits {
    /// Wall-clock budget from the start of execution.
    pub timeout_ms: u64,
    /// Memory cap of the workload's engine instance.
    pub memory_mb: u64,
    /// Deterministic instruction budget; `None` means unmetered (only the timeout applies).
    pub fuel: Option<u64>,
    /// Cap on the JSON text of the output.
    pub max_output_bytes: u64,
    /// Cap on the total bytes of captured console lines.
    pub max_log_bytes: u64,
    /// Cap on the number of captured console lines.
    pub max_log_lines: u64,
}

/// One unit of work: an ES module whose default export is called with `input`.
#[derive(Clone, Debug)]
pub struct Workload {
    pub code: String,
    pub language: Language,
    /// Any JSON value, already validated.
    pub input: Box<RawValue>,
    pub limits: Limits,
}

/// Where a workload is: waiting for an agent (`queued`), `running`, or how it ended. A tier's
/// outcome is never `queued` or `running`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    Running,
    Succeeded,
    /// A JS exception, a syntax error, or a breach of the workload contract.
    Error,
    Timeout,
    MemoryLimit,
    FuelExhausted,
    OutputLimit,
    BackendCrashed,
    /// The tier refused the workload before running it.
    Rejected,
}

impl Status {
    pub const ALL: [Status; 10] = [
        Status::Queued,
        Status::Running,
        Status::Succeeded,
        Status::Error,
        Status::Timeout,
        Status::MemoryLimit,
        Status::FuelExhausted,
        Status::OutputLimit,
        Status::BackendCrashed,
        Status::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Error => "error",
            Status::Timeout => "timeout",
            Status::MemoryLimit => "memory_limit",
            Status::FuelExhausted => "fuel_exhausted",
            Status::OutputLimit => "output_limit",
            Status::BackendCrashed => "backend_crashed",
            Status::Rejected => "rejected",
        }
    }

    /// Whether the workload has ended (it is neither queued nor running).
    pub fn is_final(self) -> bool {
        !matches!(self, Status::Queued | Status::Running)
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|status| status.as_str() == s)
    }
}

/// What went wrong inside a workload, in the user's terms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkloadError {
    /// `SyntaxError`, `TypeError`, `ContractError`, `OutputError`, …, or the limit hit.
    pub name: String,
    pub message: String,
    /// 1-based line in the submitted source, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based column in the submitted source, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
}

impl WorkloadError {
    pub fn new(name: &str, message: impl Into<String>) -> Self {
        WorkloadError {
            name: name.to_owned(),
            message: message.into(),
            line: None,
            column: None,
            stack: None,
        }
    }

    /// The output's JSON text is over `limits.max_output_bytes`.
    pub fn output_limit(bytes: u64, limits: &Limits) -> Self {
        let max = limits.max_output_bytes;
        WorkloadError::new(
            "OutputLimit",
            format!("output is {bytes} bytes of JSON, over the limit of {max} bytes"),
        )
    }
}

/// JSON `null`, the output of a workload that returns nothing.
pub fn json_null() -> Box<RawValue> {
    RawValue::from_string("null".to_owned()).expect("null is JSON")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Log,
    Info,
    Warn,
    Error,
    Debug,
}

/// One `console.*` call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LogLine {
    pub level: LogLevel,
    pub message: String,
}

/// Facts about a run that only the wasm tier knows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WasmMetadata {
    /// Time to create the store and instantiate the pre-initialised module.
    pub instantiate_ms: f64,
    /// Whether the run counted fuel: the guest compiled with fuel metering runs workloads that
    /// ask for a fuel budget; the others run a faster build that only checks the timeout.
    /// Records from before this field were all metered.
    #[serde(default = "metered_by_default")]
    pub metered: bool,
    /// Fuel (roughly, wasm instructions) consumed by the run; 0 when it was not metered.
    pub fuel_consumed: u64,
    /// Largest linear memory size the instance reached.
    pub memory_peak_bytes: u64,
}

fn metered_by_default() -> bool {
    true
}

/// Facts about a run that only the isolate tier knows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IsolateMetadata {
    /// How long this workload waited for its worker (and its host) to be made; 0 when a warm
    /// one was ready.
    pub worker_create_ms: f64,
    /// How long the warm worker had waited for this workload.
    pub warm_age_ms: f64,
    /// How long the worker took to be made and warmed up, before it was offered (off the
    /// workload's path unless `worker_create_ms` says otherwise).
    #[serde(default)]
    pub worker_ready_ms: f64,
    /// The worker isolate's V8 heap when the workload ended (0 when it could not report).
    pub heap_used_bytes: u64,
    pub heap_total_bytes: u64,
    /// Memory of `ArrayBuffer`s and other objects outside the V8 heap.
    pub external_bytes: u64,
    /// The most memory the workload's host held above what it held when the workload started:
    /// the workload's peak, heap and off-heap (0 where cgroups cannot measure it).
    #[serde(default)]
    pub memory_peak_bytes: u64,
    /// Which host process ran it: the supervisor's number for it, and its pid.
    pub host_id: u64,
    pub host_pid: u32,
}

/// Tier-specific facts about one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "tier", rename_all = "lowercase")]
pub enum Metadata {
    Isolate(IsolateMetadata),
    Wasm(WasmMetadata),
}

/// The result of running one workload, whatever its status.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Outcome {
    pub status: Status,
    /// The JSON-serialised return value, on success.
    pub output: Option<Box<RawValue>>,
    pub error: Option<WorkloadError>,
    pub logs: Vec<LogLine>,
    /// True when console lines beyond the log caps were dropped.
    pub logs_truncated: bool,
    /// Wall time of the run inside the tier.
    pub duration_ms: f64,
    /// CPU time of the run, where the tier can tell.
    #[serde(default)]
    pub cpu_ms: Option<f64>,
    pub metadata: Option<Metadata>,
}

impl Outcome {
    /// An outcome with no output and no logs, e.g. a limit hit before anything was written.
    pub fn failed(status: Status, error: WorkloadError, duration_ms: f64) -> Self {
        Outcome {
            status,
            output: None,
            error: Some(error),
            logs: Vec::new(),
            logs_truncated: false,
            duration_ms,
            cpu_ms: None,
            metadata: None,
        }
    }
}

/// An inclusive range with a default, for one limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct LimitRange {
    pub min: u64,
    pub default: u64,
    pub max: u64,
}

/// What a tier accepts.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Capabilities {
    pub languages: Vec<Language>,
    /// Whether the tier can stop a workload on a deterministic fuel budget.
    pub meters_fuel: bool,
    pub timeout_ms: LimitRange,
    pub memory_mb: LimitRange,
    /// Largest fuel budget a workload may ask for; absent when the tier does not meter fuel.
    /// Workloads that ask for none are unmetered (only the timeout applies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fuel_max: Option<u64>,
    /// True when a workload without a fuel budget runs code compiled without fuel counting,
    /// which is faster (the wasm tier; its records say which ran in `metadata.metered`).
    pub unmetered_without_fuel: bool,
    /// Notable parts of the JavaScript environment where the tiers differ, and whether this
    /// one has each (the contract corpus checks the list against a workload's view).
    pub features: Vec<LanguageFeature>,
}

/// A global a workload may look for, and how much of it the tier provides.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, ToSchema)]
pub struct LanguageFeature {
    /// The global it is reached by (`Temporal`, `Intl`, …).
    pub name: &'static str,
    pub support: Support,
    /// What `partial` support leaves out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Support {
    Full,
    Partial,
    /// The global is absent.
    None,
}

impl LanguageFeature {
    pub const fn full(name: &'static str) -> Self {
        LanguageFeature {
            name,
            support: Support::Full,
            note: None,
        }
    }

    pub const fn partial(name: &'static str, note: &'static str) -> Self {
        LanguageFeature {
            name,
            support: Support::Partial,
            note: Some(note),
        }
    }

    pub const fn none(name: &'static str) -> Self {
        LanguageFeature {
            name,
            support: Support::None,
            note: None,
        }
    }
}

/// Whether a tier can take work now, and why not.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Health {
    pub healthy: bool,
    pub detail: String,
}

/// One isolation tier.
#[async_trait]
pub trait Backend: Send + Sync {
    fn kind(&self) -> BackendKind;
    fn capabilities(&self) -> Capabilities;
    fn health(&self) -> Health;
    /// Runs one workload in a fresh sandbox. Limits hit are statuses in the `Outcome`.
    async fn execute(&self, workload: Workload) -> Result<Outcome>;
    /// Stops background work; in-flight workloads may still finish.
    async fn shutdown(&self);
}
