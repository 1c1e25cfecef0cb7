//! The bounded sink behind `console.*`.
//!
//! Invariant: the kept messages never exceed the request's `max_log_bytes` (UTF-8 bytes of
//! all messages) or `max_log_lines` (entries). The first entry that does not fit closes the
//! sink: it and everything after it are dropped, not buffered, and `truncated` is set.
//! The `console` object itself is JavaScript (prelude.js); it formats each call into one
//! message and hands it to [`emit_function`].
//!
//! Every kept entry is also written at once to stderr as one JSON line, so the host still
//! has the logs when the workload never finishes (timeout, fuel, memory).

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

use rquickjs::{Ctx, Function};

use crate::protocol::LogEntry;
use crate::text::to_string_lossy;

#[derive(Debug, Default)]
pub struct Logs {
    entries: Vec<LogEntry>,
    bytes: usize,
    max_bytes: usize,
    max_lines: usize,
    truncated: bool,
}

impl Logs {
    /// Sets the caps for the coming workload (both start at zero: nothing is kept).
    pub fn limit(&mut self, max_bytes: usize, max_lines: usize) {
        self.max_bytes = max_bytes;
        self.max_lines = max_lines;
    }

    /// Keeps the entry if it fits; returns whether the sink is still open.
    pub fn push(&mut self, level: String, message: String) -> bool {
        let fits = self.entries.len() < self.max_lines
            && self.bytes.saturating_add(message.len()) <= self.max_bytes;
        if self.truncated || !fits {
            self.truncated = true;
            return false;
        }
        self.bytes += message.len();
        let entry = LogEntry { level, message };
        stream(&entry);
        self.entries.push(entry);
        true
    }

    /// The kept entries and whether any were dropped.
    pub fn take(&mut self) -> (Vec<LogEntry>, bool) {
        (std::mem::take(&mut self.entries), self.truncated)
    }
}

/// Writes one entry as a JSON line to stderr. A full pipe only loses the streamed copy.
fn stream(entry: &LogEntry) {
    let mut line = serde_json::to_vec(entry).expect("a log entry serialises");
    line.push(b'\n');
    let _ = std::io::stderr().write_all(&line);
}

/// The prelude's `emit(level, message)`: pushes into `logs`, returns whether it is still open.
pub fn emit_function<'js>(
    ctx: &Ctx<'js>,
    logs: Rc<RefCell<Logs>>,
) -> rquickjs::Result<Function<'js>> {
    Function::new(
        ctx.clone(),
        move |level: String, message: rquickjs::String<'js>| {
            let message = to_string_lossy(message.as_value()).unwrap_or_default();
            logs.borrow_mut().push(level, message)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logs(max_bytes: usize, max_lines: usize) -> Logs {
        let mut logs = Logs::default();
        logs.limit(max_bytes, max_lines);
        logs
    }

    #[test]
    fn entries_within_caps_are_kept() {
        let mut logs = logs(10, 2);
        assert!(logs.push("log".into(), "hello".into()));
        assert!(logs.push("warn".into(), "world".into()));
        let (entries, truncated) = logs.take();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].level, "warn");
        assert!(!truncated);
    }

    #[test]
    fn line_cap_drops_the_rest() {
        let mut logs = logs(100, 1);
        assert!(logs.push("log".into(), "a".into()));
        assert!(!logs.push("log".into(), "b".into()));
        let (entries, truncated) = logs.take();
        assert_eq!(entries.len(), 1);
        assert!(truncated);
    }

    #[test]
    fn byte_cap_counts_utf8_and_closes_the_sink() {
        let mut logs = logs(4, 10);
        assert!(logs.push("log".into(), "é".into()));
        assert!(!logs.push("log".into(), "abc".into()));
        assert!(
            !logs.push("log".into(), "a".into()),
            "closed after the first drop"
        );
        let (entries, truncated) = logs.take();
        assert_eq!(entries.len(), 1);
        assert!(truncated);
    }
}
