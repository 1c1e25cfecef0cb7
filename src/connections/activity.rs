//! What one connection is doing, and so which timer governs it: reading a request's head
//! (`--header-read-timeout-ms`, from the head's first byte, or from the opening for the first
//! request), idle between requests (`--idle-timeout-ms`, from the end of the last response),
//! or busy with a request (no timer here: its body has a deadline of its own, and its
//! workload has its `timeout_ms`).
//!
//! hyper's own `header_read_timeout` is not used: it restarts when a response ends, so it
//! would also be the idle timeout, and it cannot tell a keep-alive connection waiting for its
//! next request from one trickling a head in.
//!
//! Invariant: the state only changes while the connection's future is polled (its reads, its
//! service, its response bodies all run inside that poll), so [`super::watchdog`] reads an
//! up-to-date deadline right after each poll.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::Late;

#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub header_read: Duration,
    pub idle: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// A request's head is arriving, begun at `since`.
    Head { since: Instant },
    /// Requests handed to the service whose responses have not ended.
    Busy { requests: u32 },
    /// The last response ended at `since`; no byte of another request since.
    Idle { since: Instant },
}

/// One connection's state, shared by its IO, its service and its watchdog.
#[derive(Clone, Debug)]
pub struct Activity(Arc<Mutex<State>>);

impl Activity {
    /// A connection opened at `now`: its first request's head is due from now on.
    pub fn opened(now: Instant) -> Self {
        Activity(Arc::new(Mutex::new(State::Head { since: now })))
    }

    /// Bytes arrived at `now`: on an idle connection, the next head has begun.
    pub fn bytes_arrived(&self, now: Instant) {
        let mut state = self.lock();
        if let State::Idle { .. } = *state {
            *state = State::Head { since: now };
        }
    }

    /// A request's head was read and handed to the service; it is in progress until the
    /// returned guard drops (with its response's body, once that has been sent).
    pub fn request_started(&self) -> InProgress {
        self.begin();
        InProgress(self.clone())
    }

    fn begin(&self) {
        let mut state = self.lock();
        *state = match *state {
            State::Busy { requests } => State::Busy {
                requests: requests + 1,
            },
            State::Head { .. } | State::Idle { .. } => State::Busy { requests: 1 },
        };
    }

    fn end(&self, now: Instant) {
        let mut state = self.lock();
        if let State::Busy { requests } = *state {
            *state = if requests > 1 {
                State::Busy {
                    requests: requests - 1,
                }
            } else {
                State::Idle { since: now }
            };
        }
    }

    /// When the connection is to be closed if nothing changes, and why; none while busy.
    ///
    /// Bytes of a pipelined request read while the previous one was busy do not start a head:
    /// such a head is held to the idle timeout instead, which still bounds it.
    pub fn deadline(&self, timeouts: Timeouts) -> Option<(Instant, Late)> {
        match *self.lock() {
            State::Head { since } => Some((since + timeouts.header_read, Late::Header)),
            State::Idle { since } => Some((since + timeouts.idle, Late::Idle)),
            State::Busy { .. } => None,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a plain value, valid whatever a panicking holder was doing.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A request in progress on its connection, until dropped.
pub struct InProgress(Activity);

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.end(Instant::now());
    }
}

/// A client's socket that tells its [`Activity`] when bytes arrive.
pub struct TrackedIo {
    stream: TcpStream,
    activity: Activity,
}

impl TrackedIo {
    pub fn new(stream: TcpStream, activity: Activity) -> Self {
        TrackedIo { stream, activity }
    }
}

impl AsyncRead for TrackedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_arrived(Instant::now());
        }
        polled
    }
}

impl AsyncWrite for TrackedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUTS: Timeouts = Timeouts {
        header_read: Duration::from_secs(10),
        idle: Duration::from_secs(60),
    };

    fn at(start: Instant, secs: u64) -> Instant {
        start + Duration::from_secs(secs)
    }

    #[test]
    fn the_first_head_is_due_a_header_timeout_after_the_opening() {
        let start = Instant::now();
        let activity = Activity::opened(start);
        activity.bytes_arrived(at(start, 5));
        assert_eq!(
            activity.deadline(TIMEOUTS),
            Some((at(start, 10), Late::Header))
        );
    }

    #[test]
    fn a_busy_connection_has_no_deadline() {
        let start = Instant::now();
        let activity = Activity::opened(start);
        activity.begin();
        activity.bytes_arrived(at(start, 100));
        assert_eq!(activity.deadline(TIMEOUTS), None);
    }

    #[test]
    fn after_a_response_the_idle_timeout_runs_from_its_end() {
        let start = Instant::now();
        let activity = Activity::opened(start);
        activity.begin();
        activity.end(at(start, 3));
        assert_eq!(
            activity.deadline(TIMEOUTS),
            Some((at(start, 63), Late::Idle))
        );
    }

    #[test]
    fn the_next_heads_first_byte_starts_the_header_timeout() {
        let start = Instant::now();
        let activity = Activity::opened(start);
        activity.begin();
        activity.end(at(start, 3));
        activity.bytes_arrived(at(start, 20));
        activity.bytes_arrived(at(start, 25));
        assert_eq!(
            activity.deadline(TIMEOUTS),
            Some((at(start, 30), Late::Header))
        );
    }

    #[test]
    fn the_connection_is_idle_only_when_every_request_has_ended() {
        let start = Instant::now();
        let activity = Activity::opened(start);
        activity.begin();
        activity.begin();
        activity.end(at(start, 1));
        assert_eq!(activity.deadline(TIMEOUTS), None);
        activity.end(at(start, 2));
        assert_eq!(
            activity.deadline(TIMEOUTS),
            Some((at(start, 62), Late::Idle))
        );
    }
}
