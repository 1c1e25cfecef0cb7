//! A workload's record as the API answers with it: the stored [`Record`] and whether the
//! history took it, serialised into a buffer sized for it up front. `axum::Json` starts at
//! 128 bytes and doubles, so a trivial workload's record (~700 bytes) was copied three times
//! on the way out: ~2 of the ~35 µs the agent adds to a trivial wasm workload (timed in the
//! handler; BENCHMARKS.md).

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::value::RawValue;
use utoipa::ToSchema;

use super::error::AppError;
use crate::backend::{BackendKind, Language, Limits, LogLine, Metadata, Status, WorkloadError};
use crate::error::Error;
use crate::router::Isolation;
use crate::store::{Delivery, Record};

/// One workload as run and recorded.
#[derive(Serialize, ToSchema)]
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
    /// CPU time of the run, where the tier can tell (the wasm guest's time; the isolate
    /// host's CPU time, by its cgroup).
    pub cpu_ms: Option<f64>,
    pub metadata: Option<Metadata>,
    pub code: String,
    #[schema(value_type = Value)]
    pub input: Box<RawValue>,
    /// The delivery of the result to the workload's `callback_url`, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback: Option<Delivery>,
    /// Whose workload it is (`default` when access control is off).
    pub tenant: String,
    /// The API key it was submitted with.
    pub key_id: Option<String>,
    /// False in an answer whose record the history could not take: it is closed, or its
    /// writes are failing (a full disk) and this record's failed too. While writes succeed,
    /// records are written just after their answers; a failure then is logged and counted
    /// in `vulcan_history_write_errors_total`.
    pub recorded: bool,
}

impl WorkloadRecord {
    pub fn new(record: Record, recorded: bool) -> WorkloadRecord {
        let Record {
            id,
            created_at_ms,
            status,
            backend,
            route_reason,
            tag,
            isolation,
            language,
            limits,
            output,
            error,
            logs,
            logs_truncated,
            duration_ms,
            cpu_ms,
            metadata,
            code,
            input,
            callback_url: _,
            callback,
            tenant,
            key_id,
        } = record;
        WorkloadRecord {
            id,
            created_at_ms,
            status,
            backend,
            route_reason,
            tag,
            isolation,
            language,
            limits,
            output,
            error,
            logs,
            logs_truncated,
            duration_ms,
            cpu_ms,
            metadata,
            code,
            input,
            callback,
            tenant,
            key_id,
            recorded,
        }
    }

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
        let callback = self.callback.as_ref().map_or(0, |callback| {
            CALLBACK_JSON_BYTES
                + callback.url.len()
                + callback.last_error.as_ref().map_or(0, String::len)
        });
        FIXED_JSON_BYTES
            + callback
            + self.code.len()
            + self.input.get().len()
            + raw(&self.output)
            + self.route_reason.len()
            + self.tag.as_ref().map_or(0, String::len)
            + self.tenant.len()
            + self.key_id.as_ref().map_or(0, String::len)
            + error
            + logs
    }
}

/// Bytes of a record's JSON besides its variable parts: its field names, limits and metadata
/// (~660 for a trivial wasm workload, at most ~900 with the isolate tier's metadata).
const FIXED_JSON_BYTES: usize = 1024;
/// A callback's delivery besides its URL and error: field names and numbers.
const CALLBACK_JSON_BYTES: usize = 160;
/// Per log line: its level and the object around it.
const LOG_LINE_JSON_BYTES: usize = 32;

impl IntoResponse for WorkloadRecord {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(self.json_size_hint());
        match serde_json::to_writer(&mut body, &self) {
            Ok(()) => {
                let json = HeaderValue::from_static("application/json");
                ([(header::CONTENT_TYPE, json)], body).into_response()
            }
            Err(err) => AppError::from(Error::Engine(format!("serialising a record: {err}")))
                .into_response(),
        }
    }
}
