//! What the history holds: a workload's full record and its summary for listings.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

use crate::backend::{BackendKind, Language, Limits, LogLine, Metadata, Status, WorkloadError};
use crate::router::Isolation;

/// One workload as run and recorded: what the API returns.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkloadRecord {
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
    #[schema(value_type = Option<Value>)]
    pub output: Option<Box<RawValue>>,
    pub error: Option<WorkloadError>,
    pub logs: Vec<LogLine>,
    pub logs_truncated: bool,
    /// Wall time of the run inside the tier.
    pub duration_ms: f64,
    pub metadata: Option<Metadata>,
    pub code: String,
    #[schema(value_type = Value)]
    pub input: Box<RawValue>,
    /// False in an answer whose record the history could not take: it is closed, or its
    /// writes are failing (a full disk) and this record's failed too. While writes succeed,
    /// records are written just after their answers; a failure then is logged and counted
    /// in `vulcan_history_write_errors_total`.
    #[serde(default = "recorded_default")]
    pub recorded: bool,
}

fn recorded_default() -> bool {
    true
}

/// Bytes of a record's JSON besides its variable parts: its field names, limits and metadata
/// (~660 for a trivial wasm workload, at most ~900 with the isolate tier's metadata).
const FIXED_JSON_BYTES: usize = 1024;
/// Per log line: its level and the object around it.
const LOG_LINE_JSON_BYTES: usize = 32;

impl WorkloadRecord {
    /// About how long the record's JSON is: enough that serialising it seldom reallocates.
    pub fn json_size_hint(&self) -> usize {
        let raw =
            |value: &Option<Box<RawValue>>| value.as_ref().map_or(0, |value| value.get().len());
        let error = self.error.as_ref().map_or(0, |error| {
            error.name.len() + error.message.len() + error.stack.as_ref().map_or(0, String::len)
        });
        let logs: usize = self
            .logs
            .iter()
            .map(|line| line.message.len() + LOG_LINE_JSON_BYTES)
            .sum();
        FIXED_JSON_BYTES
            + self.code.len()
            + self.input.get().len()
            + raw(&self.output)
            + self.route_reason.len()
            + self.tag.as_ref().map_or(0, String::len)
            + error
            + logs
    }
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
    #[serde(default)]
    pub tag: Option<String>,
    /// The first line of the code, at most 80 characters.
    pub code_preview: String,
}

pub(super) fn summarise(record: &WorkloadRecord) -> WorkloadSummary {
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
        tag: record.tag.clone(),
        code_preview: first_line.trim().chars().take(80).collect(),
    }
}
