//! The answer's JSON buffer is sized so that even the longest record seldom reallocates.

use serde_json::value::RawValue;

use crate::api::WorkloadRecord;
use crate::backend::{
    BackendKind, IsolateMetadata, Language, Limits, LogLevel, LogLine, Metadata, Status,
    WorkloadError,
};
use crate::router::Isolation;
use crate::store::{Delivery, Record};

#[test]
fn the_json_size_hint_covers_a_record_with_every_field_at_its_longest() {
    let fat = Record {
        id: uuid::Uuid::now_v7().to_string(),
        created_at_ms: u64::MAX,
        status: Status::BackendCrashed,
        backend: BackendKind::Isolate,
        route_reason: "policy \"small-on-wasm\": rule 3 matched (code_bytes < 4096)".into(),
        tag: Some("t".repeat(64)),
        isolation: Isolation::Isolate,
        language: Language::Typescript,
        limits: Limits {
            timeout_ms: u64::MAX,
            memory_mb: u64::MAX,
            fuel: Some(u64::MAX),
            max_output_bytes: u64::MAX,
            max_log_bytes: u64::MAX,
            max_log_lines: u64::MAX,
        },
        output: Some(RawValue::from_string("[1, 2, 3]".into()).unwrap()),
        error: Some(WorkloadError {
            name: "TypeError".into(),
            message: "x is not a function".into(),
            line: Some(u32::MAX),
            column: Some(u32::MAX),
            stack: Some("at main (workload.js:1:1)".into()),
        }),
        logs: vec![
            LogLine {
                level: LogLevel::Debug,
                message: "one".into(),
            };
            20
        ],
        logs_truncated: true,
        duration_ms: 1.0 / 3.0,
        metadata: Some(Metadata::Isolate(IsolateMetadata {
            worker_create_ms: 2.0 / 3.0,
            warm_age_ms: 1e300 / 3.0,
            worker_ready_ms: 1e-300 / 3.0,
            heap_used_bytes: u64::MAX,
            heap_total_bytes: u64::MAX,
            external_bytes: u64::MAX,
            memory_peak_bytes: u64::MAX,
            host_id: u64::MAX,
            host_pid: u32::MAX,
        })),
        code: "\n  export default () => 1;\n".into(),
        input: RawValue::from_string("null".into()).unwrap(),
        callback_url: Some("http://hooks.internal:8080/vulcan/done".into()),
        callback: Some(Delivery {
            url: "http://hooks.internal:8080/vulcan/done".into(),
            attempts: u32::MAX,
            delivered_at_ms: Some(u64::MAX),
            last_error: Some("error sending request: connection refused".into()),
            gave_up: true,
        }),
        tenant: "t".repeat(64),
        key_id: Some("0123456789ab".into()),
        cpu_ms: Some(f64::MAX),
    };
    let answer = WorkloadRecord::new(fat, false);
    let json = serde_json::to_vec(&answer).unwrap();
    let hint = answer.json_size_hint();
    assert!(
        json.len() <= hint,
        "{} bytes of JSON, hint {hint}",
        json.len()
    );
}
