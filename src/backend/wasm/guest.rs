//! The protocol between the host and the QuickJS guest (`engine-wasm/src/protocol.rs`): one
//! request on stdin, one response on stdout, each a JSON header line followed by raw text
//! (the code and the input's JSON text; the output's JSON text), so neither side escapes or
//! scans what it only passes on. Everything read back is treated as hostile: it is parsed
//! from a capped pipe, the output is checked to be JSON, and the caps are checked again here.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::backend::well_formed::well_formed_text;
use crate::backend::{Limits, LogLine, Status, WorkloadError};

/// The request's header line.
#[derive(Serialize)]
struct RequestHeader {
    /// Bytes of code after the header; the input's JSON text follows it.
    code_bytes: usize,
    /// Seeds `Math.random`, which the snapshot would otherwise freeze.
    seed: u64,
    max_output_bytes: u64,
    max_log_bytes: u64,
    max_log_lines: u64,
}

/// What the guest reads from stdin: the header line, the code, then the input.
pub fn request(code: &str, input: &RawValue, seed: u64, limits: &Limits) -> Vec<u8> {
    let header = RequestHeader {
        code_bytes: code.len(),
        seed,
        max_output_bytes: limits.max_output_bytes,
        max_log_bytes: limits.max_log_bytes,
        max_log_lines: limits.max_log_lines,
    };
    let mut bytes = serde_json::to_vec(&header).expect("a header of numbers serialises");
    bytes.reserve(1 + code.len() + input.get().len());
    bytes.push(b'\n');
    bytes.extend_from_slice(code.as_bytes());
    bytes.extend_from_slice(input.get().as_bytes());
    bytes
}

/// The response's header line (the output, if any, follows it).
#[derive(Deserialize)]
struct ResponseHeader {
    status: String,
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
    let newline = stdout
        .iter()
        .position(|&byte| byte == b'\n')
        .ok_or("guest wrote no response header")?;
    let (header, output) = (&stdout[..newline], &stdout[newline + 1..]);
    // `JSON.stringify` writes lone surrogates as escapes, which serde_json refuses in logs
    // and which would make the API's answer unreadable in `output`.
    let response: ResponseHeader =
        serde_json::from_str(&well_formed_text(&String::from_utf8_lossy(header)))
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
        "succeeded" if output.len() as u64 > limits.max_output_bytes => {
            result.status = Status::OutputLimit;
            result.error = Some(WorkloadError::output_limit(output.len() as u64, limits));
        }
        "succeeded" => {
            let text = well_formed_text(&String::from_utf8_lossy(output)).into_owned();
            let output = RawValue::from_string(text)
                .map_err(|err| format!("guest wrote an output that is not JSON: {err}"))?;
            result.output = Some(output);
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
            b"{\"status\":\"succeeded\",\"logs\":[],\"logs_truncated\":false}\n{\"a\":1}",
            &limits(),
        )
        .unwrap();
        assert_eq!(result.status, Status::Succeeded);
        assert_eq!(result.output.unwrap().get(), r#"{"a":1}"#);
    }

    #[test]
    fn a_null_output_is_kept_as_null() {
        let result = parse_response(b"{\"status\":\"succeeded\"}\nnull", &limits()).unwrap();
        assert_eq!(result.output.unwrap().get(), "null");
    }

    #[test]
    fn output_over_the_cap_is_an_output_limit_even_if_the_guest_says_success() {
        let result =
            parse_response(b"{\"status\":\"succeeded\"}\n\"0123456789abc\"", &limits()).unwrap();
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
        assert!(parse_response(b"not json\n", &limits()).is_err());
        assert!(parse_response(b"{\"status\":\"pwned\"}\n", &limits()).is_err());
        assert!(parse_response(b"{\"status\":\"error\"}\n", &limits()).is_err());
        // The output is checked to be JSON: the guest is not trusted to have written it.
        assert!(parse_response(b"{\"status\":\"succeeded\"}\n{\"a\":", &limits()).is_err());
        assert!(parse_response(b"{\"status\":\"succeeded\"}\n", &limits()).is_err());
    }
}
