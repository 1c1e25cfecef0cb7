//! The protocol between the host and the QuickJS guest: one JSON request on stdin, one
//! JSON response on stdout. Everything read back is treated as hostile: it is parsed from
//! a capped pipe and its caps are checked again here.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::backend::well_formed::well_formed_text;
use crate::backend::{Limits, LogLine, Status, WorkloadError, json_null};

/// What the guest reads from stdin.
#[derive(Serialize)]
pub struct GuestRequest<'a> {
    pub code: &'a str,
    pub input: &'a RawValue,
    /// Seeds `Math.random`, which the snapshot would otherwise freeze.
    pub seed: u64,
    pub max_output_bytes: u64,
    pub max_log_bytes: u64,
    pub max_log_lines: u64,
}

/// What the guest writes to stdout.
#[derive(Deserialize)]
struct GuestResponse {
    status: String,
    #[serde(default)]
    output: Option<Box<RawValue>>,
    #[serde(default)]
    error: Option<WorkloadError>,
    #[serde(default)]
    output_bytes: Option<u64>,
    #[serde(default)]
    logs: Vec<LogLine>,
    #[serde(default)]
    logs_truncated: bool,
}

/// A guest response, checked against the workload's limits.
#[derive(Debug)]
pub struct GuestResult {
    pub status: Status,
    pub output: Option<Box<RawValue>>,
    pub error: Option<WorkloadError>,
    pub logs: Vec<LogLine>,
    pub logs_truncated: bool,
}

/// The log lines the guest streamed to stderr before it stopped (one JSON object a line),
/// capped like any logs; other lines (a Rust panic message) are returned as text.
pub fn streamed_logs(stderr: &[u8], limits: &Limits) -> (Vec<LogLine>, bool, String) {
    let text = String::from_utf8_lossy(stderr);
    let text = well_formed_text(&text);
    let mut logs = Vec::new();
    let mut other = String::new();
    for line in text.lines() {
        match serde_json::from_str::<LogLine>(line) {
            Ok(log) => logs.push(log),
            Err(_) => other.push_str(line),
        }
    }
    let (logs, cut) = cap_logs(logs, limits);
    (logs, cut, other)
}

/// Bytes the stdout pipe must hold for any response within `limits`.
pub fn stdout_capacity(limits: &Limits) -> usize {
    let output = usize::try_from(limits.max_output_bytes).unwrap_or(usize::MAX);
    output.saturating_add(stderr_capacity(limits))
}

/// Bytes the stderr pipe must hold: every log line within `limits` (JSON escaping can take
/// six bytes per byte of text), plus room for a panic message.
pub fn stderr_capacity(limits: &Limits) -> usize {
    let bound = 6 * limits.max_log_bytes + 64 * limits.max_log_lines;
    usize::try_from(bound)
        .unwrap_or(usize::MAX)
        .saturating_add(4096)
}

/// Parses and checks the guest's stdout.
pub fn parse_response(stdout: &[u8], limits: &Limits) -> Result<GuestResult, String> {
    // `JSON.stringify` writes lone surrogates as escapes, which serde_json refuses in logs
    // and which would make the API's answer unreadable in `output`.
    let text = String::from_utf8_lossy(stdout);
    let response: GuestResponse = serde_json::from_str(&well_formed_text(&text))
        .map_err(|err| format!("guest wrote an unreadable response: {err}"))?;
    let (logs, cut) = cap_logs(response.logs, limits);
    let logs_truncated = response.logs_truncated || cut;
    let mut result = GuestResult {
        status: Status::Succeeded,
        output: None,
        error: None,
        logs,
        logs_truncated,
    };
    match response.status.as_str() {
        "succeeded" => {
            // `"output": null` deserialises as `None`.
            let output = response.output.unwrap_or_else(json_null);
            if output.get().len() as u64 > limits.max_output_bytes {
                result.status = Status::OutputLimit;
                result.error = Some(WorkloadError::output_limit(
                    output.get().len() as u64,
                    limits,
                ));
            } else {
                result.output = Some(output);
            }
        }
        "error" => {
            result.status = Status::Error;
            result.error = Some(
                response
                    .error
                    .ok_or("guest reported an error without one")?,
            );
        }
        "output_limit" => {
            result.status = Status::OutputLimit;
            let bytes = response.output_bytes.unwrap_or(limits.max_output_bytes + 1);
            result.error = Some(WorkloadError::output_limit(bytes, limits));
        }
        other => return Err(format!("guest reported an unknown status {other:?}")),
    }
    Ok(result)
}

/// Keeps the first lines that fit both log caps; true when any were dropped.
fn cap_logs(mut logs: Vec<LogLine>, limits: &Limits) -> (Vec<LogLine>, bool) {
    let mut bytes = 0u64;
    let keep = logs
        .iter()
        .take(usize::try_from(limits.max_log_lines).unwrap_or(usize::MAX))
        .take_while(|line| {
            bytes += line.message.len() as u64;
            bytes <= limits.max_log_bytes
        })
        .count();
    let cut = keep < logs.len();
    logs.truncate(keep);
    (logs, cut)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::LogLevel;

    fn limits() -> Limits {
        Limits {
            timeout_ms: 1000,
            memory_mb: 64,
            fuel: None,
            max_output_bytes: 10,
            max_log_bytes: 8,
            max_log_lines: 2,
        }
    }

    #[test]
    fn success_keeps_the_raw_output() {
        let result = parse_response(
            br#"{"status":"succeeded","output":{"a":1},"logs":[],"logs_truncated":false}"#,
            &limits(),
        )
        .unwrap();
        assert_eq!(result.status, Status::Succeeded);
        assert_eq!(result.output.unwrap().get(), r#"{"a":1}"#);
    }

    #[test]
    fn a_null_output_is_kept_as_null() {
        let result = parse_response(br#"{"status":"succeeded","output":null}"#, &limits()).unwrap();
        assert_eq!(result.output.unwrap().get(), "null");
    }

    #[test]
    fn output_over_the_cap_is_an_output_limit_even_if_the_guest_says_success() {
        let result = parse_response(
            br#"{"status":"succeeded","output":"0123456789abc"}"#,
            &limits(),
        )
        .unwrap();
        assert_eq!(result.status, Status::OutputLimit);
        assert!(result.output.is_none());
    }

    #[test]
    fn logs_beyond_either_cap_are_dropped_and_flagged() {
        let line = |m: &str| LogLine {
            level: LogLevel::Log,
            message: m.into(),
        };
        let (kept, cut) = cap_logs(vec![line("abcd"), line("efgh"), line("i")], &limits());
        assert_eq!(kept, vec![line("abcd"), line("efgh")]);
        assert!(cut);
        let (kept, cut) = cap_logs(vec![line("abcdefghi")], &limits());
        assert!(kept.is_empty());
        assert!(cut);
    }

    #[test]
    fn streamed_logs_are_parsed_capped_and_kept_apart_from_other_text() {
        let stderr = b"{\"level\":\"log\",\"message\":\"ab\"}\npanicked at x\n{\"level\":\"warn\",\"message\":\"c\"}\n{\"level\":\"log\",\"message\":\"d\"}\n";
        let (logs, cut, other) = streamed_logs(stderr, &limits());
        assert_eq!(logs.len(), 2);
        assert_eq!(logs[1].level, LogLevel::Warn);
        assert!(cut);
        assert_eq!(other, "panicked at x");
    }

    #[test]
    fn garbage_and_unknown_statuses_are_rejected() {
        assert!(parse_response(b"not json", &limits()).is_err());
        assert!(parse_response(br#"{"status":"pwned"}"#, &limits()).is_err());
        assert!(parse_response(br#"{"status":"error"}"#, &limits()).is_err());
    }
}
