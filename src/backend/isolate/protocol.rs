//! The host's `POST /execute` and `GET /health` bodies (`isolate-host/src/protocol.ts`), and
//! the answer turned into an [`Outcome`]. The host is not trusted blindly: its status must be
//! one the isolate tier can produce, and the output cap is checked again here.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::backend::{
    IsolateMetadata, Language, LogLine, Metadata, Outcome, Status, Workload, WorkloadError,
    json_null,
};

#[derive(Serialize)]
pub struct ExecuteRequest<'a> {
    pub code: &'a str,
    pub language: Language,
    pub input: &'a RawValue,
    pub timeout_ms: u64,
    pub memory_mb: u64,
    pub max_output_bytes: u64,
    pub max_log_bytes: u64,
    pub max_log_lines: u64,
}

impl<'a> ExecuteRequest<'a> {
    pub fn new(workload: &'a Workload) -> Self {
        let limits = &workload.limits;
        ExecuteRequest {
            code: &workload.code,
            language: workload.language,
            input: &workload.input,
            timeout_ms: limits.timeout_ms,
            memory_mb: limits.memory_mb,
            max_output_bytes: limits.max_output_bytes,
            max_log_bytes: limits.max_log_bytes,
            max_log_lines: limits.max_log_lines,
        }
    }
}

#[derive(Deserialize)]
pub struct ExecuteResponse {
    status: String,
    output: Option<Box<RawValue>>,
    error: Option<WorkloadError>,
    logs: Vec<LogLine>,
    logs_truncated: bool,
    duration_ms: f64,
    /// The host could not stop a worker: it must be replaced.
    pub poisoned: bool,
    metadata: HostMetadata,
}

#[derive(Deserialize)]
struct HostMetadata {
    worker_create_ms: f64,
    warm_age_ms: f64,
    heap_used_bytes: u64,
    heap_total_bytes: u64,
    external_bytes: u64,
}

#[derive(Deserialize)]
pub struct HealthResponse {
    pub poisoned: bool,
}

/// Which host served a workload, for its metadata.
#[derive(Clone, Copy, Debug)]
pub struct Served {
    pub host_id: u64,
    pub host_pid: u32,
}

impl ExecuteResponse {
    /// The outcome, or `Err` with why the answer cannot be believed.
    pub fn into_outcome(self, workload: &Workload, served: Served) -> Result<Outcome, String> {
        let status = match self.status.as_str() {
            "succeeded" => Status::Succeeded,
            "error" => Status::Error,
            "timeout" => Status::Timeout,
            "memory_limit" => Status::MemoryLimit,
            "output_limit" => Status::OutputLimit,
            other => return Err(format!("the host answered an unknown status {other:?}")),
        };
        let mut outcome = Outcome {
            status,
            output: None,
            error: self.error,
            logs: self.logs,
            logs_truncated: self.logs_truncated,
            duration_ms: self.duration_ms,
            metadata: Some(Metadata::Isolate(IsolateMetadata {
                worker_create_ms: self.metadata.worker_create_ms,
                warm_age_ms: self.metadata.warm_age_ms,
                heap_used_bytes: self.metadata.heap_used_bytes,
                heap_total_bytes: self.metadata.heap_total_bytes,
                external_bytes: self.metadata.external_bytes,
                host_id: served.host_id,
                host_pid: served.host_pid,
            })),
        };
        if status == Status::Succeeded {
            // `"output": null` deserialises as `None`.
            let output = self.output.unwrap_or_else(json_null);
            let bytes = output.get().len() as u64;
            if bytes > workload.limits.max_output_bytes {
                outcome.status = Status::OutputLimit;
                outcome.error = Some(WorkloadError::output_limit(bytes, &workload.limits));
            } else {
                outcome.output = Some(output);
            }
        } else if outcome.error.is_none() {
            return Err(format!(
                "the host answered {} without an error",
                self.status
            ));
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Limits;

    fn workload() -> Workload {
        Workload {
            code: "export default () => 1".into(),
            language: Language::Javascript,
            input: json_null(),
            limits: Limits {
                timeout_ms: 1000,
                memory_mb: 64,
                fuel: None,
                max_output_bytes: 10,
                max_log_bytes: 100,
                max_log_lines: 10,
            },
        }
    }

    fn answer(status: &str, output: &str, error: &str) -> ExecuteResponse {
        let text = format!(
            r#"{{"status":"{status}","output":{output},"error":{error},"logs":[],
            "logs_truncated":false,"duration_ms":1.5,"poisoned":false,"metadata":
            {{"worker_create_ms":0,"warm_age_ms":12,"heap_used_bytes":1,"heap_total_bytes":2,
            "external_bytes":3}}}}"#
        );
        serde_json::from_str(&text).expect("a well-formed answer")
    }

    const SERVED: Served = Served {
        host_id: 7,
        host_pid: 42,
    };

    #[test]
    fn success_keeps_the_raw_output_and_names_the_host() {
        let outcome = answer("succeeded", "[1, 2]", "null")
            .into_outcome(&workload(), SERVED)
            .unwrap();
        assert_eq!(outcome.status, Status::Succeeded);
        assert_eq!(outcome.output.unwrap().get(), "[1, 2]");
        let Some(Metadata::Isolate(metadata)) = outcome.metadata else {
            panic!("isolate metadata expected");
        };
        assert_eq!((metadata.host_id, metadata.host_pid), (7, 42));
        assert_eq!(metadata.warm_age_ms, 12.0);
    }

    #[test]
    fn output_over_the_cap_is_output_limit_even_if_the_host_let_it_through() {
        let outcome = answer("succeeded", r#""0123456789abc""#, "null")
            .into_outcome(&workload(), SERVED)
            .unwrap();
        assert_eq!(outcome.status, Status::OutputLimit);
        assert!(outcome.output.is_none());
    }

    #[test]
    fn statuses_the_tier_cannot_produce_are_refused() {
        let error = r#"{"name":"X","message":"y"}"#;
        assert!(
            answer("fuel_exhausted", "null", error)
                .into_outcome(&workload(), SERVED)
                .is_err()
        );
        assert!(
            answer("error", "null", "null")
                .into_outcome(&workload(), SERVED)
                .is_err()
        );
        let timeout = answer("timeout", "null", error).into_outcome(&workload(), SERVED);
        assert_eq!(timeout.unwrap().status, Status::Timeout);
    }
}
