//! The guest protocol: one request on stdin, one response on stdout, each a line of JSON
//! (the header) followed by raw text:
//!
//! - request: `{"code_bytes":…,"seed":…,"max_output_bytes":…,…}\n`, then the code (exactly
//!   `code_bytes` bytes of UTF-8), then the input's JSON text to the end;
//! - response: `{"status":…,"logs":[…],…}\n`, then, for `succeeded`, the output's JSON text
//!   (QuickJS's own `JSON.stringify` result) to the end.
//!
//! The code, the input and the output are never escaped, unescaped or scanned here: the
//! input is parsed once, by QuickJS, and the output is checked once, by the host. A header
//! is written by serde_json, so it holds no raw newline.

use serde::{Deserialize, Serialize};

/// The request's header line.
#[derive(Debug, Deserialize)]
pub struct RequestHeader {
    /// Length in bytes of the code that follows the header.
    pub code_bytes: usize,
    /// Seed for `Math.random`, an integer in `0..2^53`.
    pub seed: u64,
    /// Largest accepted output, in UTF-8 bytes of its JSON text.
    pub max_output_bytes: usize,
    /// Largest total of log message bytes kept; later entries are dropped.
    pub max_log_bytes: usize,
    /// Largest number of log entries kept; later entries are dropped.
    pub max_log_lines: usize,
}

/// One workload to run.
#[derive(Debug)]
pub struct Request {
    pub header: RequestHeader,
    /// ES module source; its default export is the workload function.
    pub code: String,
    /// Argument for the default export, as JSON text.
    pub input: String,
}

impl Request {
    /// Splits a request into its header, code and input.
    pub fn parse(mut bytes: Vec<u8>) -> Result<Request, String> {
        let newline = bytes
            .iter()
            .position(|&byte| byte == b'\n')
            .ok_or("no header line")?;
        let header: RequestHeader =
            serde_json::from_slice(&bytes[..newline]).map_err(|error| error.to_string())?;
        let code_end = newline
            .checked_add(1 + header.code_bytes)
            .filter(|&end| end <= bytes.len())
            .ok_or("the code is shorter than code_bytes")?;
        let input = bytes.split_off(code_end);
        bytes.drain(..=newline);
        Ok(Request {
            header,
            code: String::from_utf8(bytes).map_err(|_| "the code is not UTF-8")?,
            input: String::from_utf8(input).map_err(|_| "the input is not UTF-8")?,
        })
    }
}

/// What became of the workload, plus the logs it wrote on the way.
#[derive(Debug, Serialize)]
pub struct Response {
    #[serde(flatten)]
    pub outcome: Outcome,
    pub logs: Vec<LogEntry>,
    pub logs_truncated: bool,
}

impl Response {
    /// The header line, then the output's JSON text if it succeeded.
    pub fn write_to(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        serde_json::to_writer(&mut *out, self)?;
        out.write_all(b"\n")?;
        if let Outcome::Succeeded { output } = &self.outcome {
            out.write_all(output.as_bytes())?;
        }
        Ok(())
    }
}

#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// `output` is JSON text, written after the header.
    Succeeded {
        #[serde(skip)]
        output: String,
    },
    Error {
        error: ErrorInfo,
    },
    OutputLimit {
        output_bytes: usize,
    },
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

    fn written(response: &Response) -> String {
        let mut out = Vec::new();
        response.write_to(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_request_splits_into_header_code_and_input() {
        let code = "export default (s) => s + \"\\n\";";
        let bytes = format!(
            "{{\"code_bytes\":{},\"seed\":7,\"max_output_bytes\":10,\"max_log_bytes\":1,\"max_log_lines\":2}}\n{code}{{\"a\":\"x\\ny\"}}",
            code.len()
        );
        let request = Request::parse(bytes.into_bytes()).unwrap();
        assert_eq!(request.code, code);
        assert_eq!(request.input, r#"{"a":"x\ny"}"#);
        assert_eq!(request.header.seed, 7);
        assert_eq!(request.header.max_log_lines, 2);
    }

    #[test]
    fn a_request_whose_code_is_cut_short_is_refused() {
        let bytes = b"{\"code_bytes\":99,\"seed\":1,\"max_output_bytes\":1,\"max_log_bytes\":1,\"max_log_lines\":1}\nabc".to_vec();
        assert!(Request::parse(bytes).unwrap_err().contains("shorter"));
        assert!(Request::parse(b"no newline".to_vec()).is_err());
    }

    #[test]
    fn succeeded_response_puts_the_output_after_the_header() {
        let response = Response {
            outcome: Outcome::Succeeded {
                output: r#"{"a":[1,2]}"#.to_owned(),
            },
            logs: vec![LogEntry {
                level: "log".to_owned(),
                message: "hi".to_owned(),
            }],
            logs_truncated: false,
        };
        assert_eq!(
            written(&response),
            "{\"status\":\"succeeded\",\"logs\":[{\"level\":\"log\",\"message\":\"hi\"}],\"logs_truncated\":false}\n{\"a\":[1,2]}"
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
            written(&response),
            "{\"status\":\"error\",\"error\":{\"name\":\"ContractError\",\"message\":\"module has no default export\"},\"logs\":[],\"logs_truncated\":true}\n"
        );
    }
}
