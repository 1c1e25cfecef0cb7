//! What the history holds: a workload's full record and its summary for listings.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

use super::webhook::Delivery;
use crate::backend::{BackendKind, Language, Limits, LogLine, Metadata, Status, WorkloadError};
use crate::router::Isolation;

/// One workload as run and recorded. The API answers with its own body built from this
/// (`api::WorkloadRecord`), so the two can change apart.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    /// Time-ordered (UUIDv7).
    pub id: String,
    /// Milliseconds since the Unix epoch when the workload was accepted.
    pub created_at_ms: u64,
    pub status: Status,
    pub backend: BackendKind,
    /// Why `backend` was chosen (`requested`, or the `auto` policy's reasoning).
    pub route_reason: String,
    /// The client's label for the workload, which routing rules can match.
    #[serde(default)]
    pub tag: Option<String>,
    pub isolation: Isolation,
    pub language: Language,
    pub limits: Limits,
    /// The return value as JSON, when `status` is `succeeded`.
    pub output: Option<Box<RawValue>>,
    pub error: Option<WorkloadError>,
    pub logs: Vec<LogLine>,
    pub logs_truncated: bool,
    /// Wall time of the run inside the tier.
    pub duration_ms: f64,
    /// CPU time of the run, where the tier can tell.
    #[serde(default)]
    pub cpu_ms: Option<f64>,
    pub metadata: Option<Metadata>,
    pub code: String,
    pub input: Box<RawValue>,
    /// Where the result is POSTed once the workload has ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// That delivery, as read from the outbox (never stored in the record itself).
    #[serde(default, skip_serializing)]
    pub callback: Option<Delivery>,
    /// Whose workload it is (`default` when access control is off).
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// The API key it was submitted with.
    #[serde(default)]
    pub key_id: Option<String>,
}

/// The tenant of workloads run without access control.
pub const DEFAULT_TENANT: &str = "default";

fn default_tenant() -> String {
    DEFAULT_TENANT.to_owned()
}

/// A history entry without the bulky fields.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct WorkloadSummary {
    pub id: String,
    pub created_at_ms: u64,
    pub status: Status,
    pub backend: BackendKind,
    pub language: Language,
    pub duration_ms: f64,
    /// CPU time of the run, where the tier can tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ms: Option<f64>,
    #[serde(default)]
    pub tag: Option<String>,
    /// The first line of the code, at most 80 characters.
    pub code_preview: String,
}

pub(super) fn summarise(record: &Record) -> WorkloadSummary {
    let first_line = record
        .code
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("");
    WorkloadSummary {
        id: record.id.clone(),
        created_at_ms: record.created_at_ms,
        status: record.status,
        backend: record.backend,
        language: record.language,
        duration_ms: record.duration_ms,
        cpu_ms: record.cpu_ms,
        tag: record.tag.clone(),
        code_preview: first_line.trim().chars().take(80).collect(),
    }
}
