//! The frames exchanged with a host (`isolate-host/src/protocol.ts`): `run`, `prepare` and
//! `health` requests, their answers, and a run's answer turned into an [`Outcome`]. The host is
//! not trusted blindly: its status must be one the isolate tier can produce, the output must be
//! JSON, and the output cap is checked again here.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::backend::well_formed::well_formed_text;
use crate::backend::{
    IsolateMetadata, LogLine, Metadata, Outcome, Status, Workload, WorkloadError,
};

/// The head of a `prepare` request: make the next warm worker.
pub const PREPARE: &[u8] = br#"{"type":"prepare"}"#;
/// The head of a `health` request.
pub const HEALTH: &[u8] = br#"{"type":"health"}"#;

/// The head of a `run` request; the payload is [`Job`].
#[derive(Serialize)]
pub struct RunHead {
    #[serde(rename = "type")]
    kind: &'static str,
    timeout_ms: u64,
    max_output_bytes: u64,
    max_log_bytes: u64,
    max_log_lines: u64,
    /// What errors call the module: `workload.js`, or `workload.ts` for stripped TypeScript.
    module_name: &'static str,
}

/// The payload of a `run` request, read by the worker alone.
#[derive(Serialize)]
pub struct Job<'a> {
    /// JavaScript (TypeScript has had its types stripped, every position kept).
    pub code: &'a str,
    pub input: &'a RawValue,
}

impl RunHead {
    pub fn new(workload: &Workload, module_name: &'static str) -> RunHead {
        let limits = &workload.limits;
        RunHead {
            kind: "run",
            timeout_ms: limits.timeout_ms,
            max_output_bytes: limits.max_output_bytes,
            max_log_bytes: limits.max_log_bytes,
            max_log_lines: limits.max_log_lines,
            module_name,
        }
    }
}

/// An answer head: what was asked for, or the host's refusal.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum Answer<T> {
    Refused(Refused),
    Answered(T),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refused {
    pub error: Refusal,
}

#[derive(Deserialize)]
pub struct Refusal {
    pub code: String,
    pub message: String,
}

impl<T: for<'de> Deserialize<'de>> Answer<T> {
    /// Parses an answer head (lone surrogates in logs mended first).
    pub fn parse(head: &[u8]) -> Result<Answer<T>, String> {
        let text = String::from_utf8_lossy(head);
        serde_json::from_str(&well_formed_text(&text))
            .map_err(|err| format!("the isolate host answered unreadable JSON: {err}"))
    }

    /// What was asked for; `Err` says why there is none.
    pub fn answered(self) -> Result<T, String> {
        match self {
            Answer::Answered(answer) => Ok(answer),
            Answer::Refused(Refused { error }) => Err(format!(
                "the isolate host refused ({}): {}",
                error.code, error.message
            )),
        }
    }
}

/// The answer to `run`, whatever the status; the output is the frame's payload.
#[derive(Deserialize)]
pub struct RunAnswer {
    status: String,
    error: Option<WorkloadError>,
    logs: Vec<LogLine>,
    logs_truncated: bool,
    duration_ms: f64,
    /// The host could not stop a worker: it must be replaced.
    pub poisoned: bool,
    metadata: RunMetadata,
}

#[derive(Deserialize)]
struct RunMetadata {
    worker_create_ms: f64,
    warm_age_ms: f64,
    heap_used_bytes: u64,
    heap_total_bytes: u64,
    external_bytes: u64,
}

/// The answer to `prepare`: the warm worker is ready. (It also says how long the worker took,
/// which the next run's answer repeats as `worker_ready_ms`.)
#[derive(Deserialize)]
pub struct PrepareAnswer {}

/// The answer to `health`.
#[derive(Deserialize)]
pub struct HealthAnswer {
    pub poisoned: bool,
}

/// What the agent knows of a run beyond the host's answer, for its metadata.
#[derive(Clone, Copy, Debug)]
pub struct Served {
    pub host_id: u64,
    pub host_pid: u32,
    /// Time the workload waited for its worker (and host) to be made; 0 when one was warm.
    pub waited_for_worker_ms: f64,
    /// The most the host held above its baseline during the run, when measured.
    pub memory_peak_bytes: u64,
}

impl Served {
    /// The metadata of a run the host did not answer (killed, died): the agent's side only.
    pub fn unanswered(&self) -> Metadata {
        Metadata::Isolate(IsolateMetadata {
            worker_create_ms: self.waited_for_worker_ms,
            warm_age_ms: 0.0,
            worker_ready_ms: 0.0,
            heap_used_bytes: 0,
            heap_total_bytes: 0,
            external_bytes: 0,
            memory_peak_bytes: self.memory_peak_bytes,
            host_id: self.host_id,
            host_pid: self.host_pid,
        })
    }
}

impl RunAnswer {
    /// The outcome, or `Err` with why the answer cannot be believed. `output` is the frame's
    /// payload: the workload's own bytes, so output that is not JSON is the workload's error.
    pub fn into_outcome(
        self,
        output: &[u8],
        workload: &Workload,
        served: Served,
    ) -> Result<Outcome, String> {
        let status = match self.status.as_str() {
            "succeeded" => Status::Succeeded,
            "error" => Status::Error,
            "timeout" => Status::Timeout,
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
            cpu_ms: None,
            metadata: Some(Metadata::Isolate(IsolateMetadata {
                worker_create_ms: served.waited_for_worker_ms,
                warm_age_ms: self.metadata.warm_age_ms,
                worker_ready_ms: self.metadata.worker_create_ms,
                heap_used_bytes: self.metadata.heap_used_bytes,
                heap_total_bytes: self.metadata.heap_total_bytes,
                external_bytes: self.metadata.external_bytes,
                memory_peak_bytes: served.memory_peak_bytes,
                host_id: served.host_id,
                host_pid: served.host_pid,
            })),
        };
        if status == Status::Succeeded {
            let bytes = output.len() as u64;
            if bytes > workload.limits.max_output_bytes {
                outcome.status = Status::OutputLimit;
                outcome.error = Some(WorkloadError::output_limit(bytes, &workload.limits));
            } else {
                match parse_output(output) {
                    Ok(output) => outcome.output = Some(output),
                    Err(error) => {
                        outcome.status = Status::Error;
                        outcome.error = Some(error);
                    }
                }
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

/// The output's JSON text, lone surrogates mended; anything else was forged by the workload.
fn parse_output(output: &[u8]) -> Result<Box<RawValue>, WorkloadError> {
    let refused = |reason: String| {
        WorkloadError::new(
            "OutputError",
            format!("the workload's output is not JSON: {reason}"),
        )
    };
    let text = std::str::from_utf8(output).map_err(|err| refused(err.to_string()))?;
    RawValue::from_string(well_formed_text(text).into_owned())
        .map_err(|err| refused(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Language, Limits, json_null};

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

    fn answer(status: &str, error: &str) -> RunAnswer {
        let text = format!(
            r#"{{"status":"{status}","error":{error},"logs":[],
            "logs_truncated":false,"duration_ms":1.5,"poisoned":false,"metadata":
            {{"worker_create_ms":9,"warm_age_ms":12,"heap_used_bytes":1,"heap_total_bytes":2,
            "external_bytes":3}}}}"#
        );
        match Answer::<RunAnswer>::parse(text.as_bytes()).unwrap() {
            Answer::Answered(answer) => answer,
            Answer::Refused(_) => panic!("a run answer read as a refusal"),
        }
    }

    const SERVED: Served = Served {
        host_id: 7,
        host_pid: 42,
        waited_for_worker_ms: 0.0,
        memory_peak_bytes: 4096,
    };

    #[test]
    fn success_keeps_the_raw_output_and_names_the_host() {
        let outcome = answer("succeeded", "null")
            .into_outcome(b"[1, 2]", &workload(), SERVED)
            .unwrap();
        assert_eq!(outcome.status, Status::Succeeded);
        assert_eq!(outcome.output.unwrap().get(), "[1, 2]");
        let Some(Metadata::Isolate(metadata)) = outcome.metadata else {
            panic!("isolate metadata expected");
        };
        assert_eq!((metadata.host_id, metadata.host_pid), (7, 42));
        assert_eq!(
            (metadata.warm_age_ms, metadata.worker_ready_ms),
            (12.0, 9.0)
        );
        assert_eq!(metadata.worker_create_ms, 0.0, "a warm worker was ready");
        assert_eq!(metadata.memory_peak_bytes, 4096);
    }

    #[test]
    fn output_over_the_cap_is_output_limit_even_if_the_host_let_it_through() {
        let outcome = answer("succeeded", "null")
            .into_outcome(br#""0123456789abc""#, &workload(), SERVED)
            .unwrap();
        assert_eq!(outcome.status, Status::OutputLimit);
        assert!(outcome.output.is_none());
    }

    #[test]
    fn output_that_is_not_json_is_the_workloads_error_and_lone_surrogates_are_mended() {
        let outcome = answer("succeeded", "null")
            .into_outcome(b"{nope", &workload(), SERVED)
            .unwrap();
        assert_eq!(outcome.status, Status::Error);
        assert_eq!(outcome.error.unwrap().name, "OutputError");
        let outcome = answer("succeeded", "null")
            .into_outcome(br#""\ud800""#, &workload(), SERVED)
            .unwrap();
        assert_eq!(outcome.output.unwrap().get(), r#""\ufffd""#);
    }

    #[test]
    fn statuses_the_tier_cannot_produce_are_refused() {
        let error = r#"{"name":"X","message":"y"}"#;
        let run = |status, error| answer(status, error).into_outcome(b"", &workload(), SERVED);
        assert!(run("fuel_exhausted", error).is_err());
        assert!(
            run("memory_limit", error).is_err(),
            "the agent decides memory_limit"
        );
        assert!(run("error", "null").is_err());
        assert_eq!(run("timeout", error).unwrap().status, Status::Timeout);
    }

    #[test]
    fn a_refusal_is_told_from_an_answer() {
        let refused = br#"{"error":{"code":"poisoned","message":"replace me"}}"#;
        let reason = Answer::<PrepareAnswer>::parse(refused)
            .unwrap()
            .answered()
            .err()
            .unwrap();
        assert_eq!(reason, "the isolate host refused (poisoned): replace me");
        let ready = Answer::<PrepareAnswer>::parse(br#"{"worker_create_ms":12.5}"#).unwrap();
        assert!(ready.answered().is_ok());
    }
}
