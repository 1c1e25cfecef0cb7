//! The guest protocol: exactly one JSON request on stdin, one JSON response on stdout.
//!
//! The input and output values stay raw JSON text end to end: the input is parsed inside
//! QuickJS and the output is QuickJS's own `JSON.stringify` result, never re-encoded here.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// One workload to run.
#[derive(Debug, Deserialize)]
pub struct Request {
    /// ES module source; its default export is the workload function.
    pub code: String,
    /// Argument for the default export, as JSON text.
    pub input: Box<RawValue>,
    /// Seed for `Math.random`, an integer in `0..2^53`.
    pub seed: u64,
    /// Largest accepted output, in UTF-8 bytes of its JSON text.
    pub max_output_bytes: usize,
    /// Largest total of log message bytes kept; later entries are dropped.
    pub max_log_bytes: usize,
    /// Largest number of log entries kept; later entries are dropped.
    pub max_log_lines: usize,
}

/// What became of the workload, plus the logs it wrote on the way.
#[derive(Debug, Serialize)]
pub struct Response {
    #[serde(flatten)]
    pub outcome: Outcome,
    pub logs: Vec<LogEntry>,
    pub logs_truncated: bool,
}

#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Succeeded { output: Box<RawValue> },
    Error { error: ErrorInfo },
    OutputLimit { output_bytes: usize },
}

/// A workload failure as the user sees it: a JavaScript error's fields, positions 1-based
/// in the user's code.
#[derive(Debug, Serialize, PartialEq)]
pub struct ErrorInfo {
    pub name: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
}

impl ErrorInfo {
    /// An error raised by the engine itself rather than by the workload's code.
    pub fn new(name: &str, message: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            message: message.into(),
            line: None,
            column: None,
            stack: None,
        }
    }
}

/// One `console.*` call.
#[derive(Debug, Serialize, PartialEq)]
pub struct LogEntry {
    pub level: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn succeeded_response_embeds_output_raw() {
        let response = Response {
            outcome: Outcome::Succeeded {
                output: RawValue::from_string(r#"{"a":[1,2]}"#.to_owned()).unwrap(),
            },
            logs: vec![LogEntry {
                level: "log".to_owned(),
                message: "hi".to_owned(),
            }],
            logs_truncated: false,
        };
        assert_eq!(
            serde_json::to_string(&response).unwrap(),
            r#"{"status":"succeeded","output":{"a":[1,2]},"logs":[{"level":"log","message":"hi"}],"logs_truncated":false}"#
        );
    }

    #[test]
    fn error_response_omits_unknown_positions() {
        let response = Response {
            outcome: Outcome::Error {
                error: ErrorInfo::new("ContractError", "module has no default export"),
            },
            logs: Vec::new(),
            logs_truncated: true,
        };
        assert_eq!(
            serde_json::to_string(&response).unwrap(),
            r#"{"status":"error","error":{"name":"ContractError","message":"module has no default export"},"logs":[],"logs_truncated":true}"#
        );
    }
}
