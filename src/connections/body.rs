//! The request body's deadline (`--body-read-timeout-ms`, from the head's arrival): a body
//! still arriving past it fails with [`BodyTimeout`], which the API answers 408
//! `request_timeout` (`api/error.rs`); hyper then closes the connection, its body unread.
//! A total deadline, not one between frames: a body trickled a byte at a time is late too.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::BoxError;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use prometheus::IntCounter;
use tokio::time::{Instant, Sleep};

/// A request body that did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {timeout_ms} ms")]
pub struct BodyTimeout {
    pub timeout_ms: u64,
}

impl BodyTimeout {
    /// The `BodyTimeout` somewhere in `err`'s chain of sources, if any.
    pub fn find<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a BodyTimeout> {
        let mut next = Some(err);
        while let Some(err) = next {
            if let Some(timeout) = err.downcast_ref::<BodyTimeout>() {
                return Some(timeout);
            }
            next = err.source();
        }
        None
    }
}

/// `inner`, failing with [`BodyTimeout`] once its deadline passes.
pub struct DeadlineBody<B> {
    inner: B,
    /// None for a body that was empty from the start.
    deadline: Option<Pin<Box<Sleep>>>,
    /// The deadline passed: the body has ended, in error.
    expired: bool,
    timeout: Duration,
    timed_out: IntCounter,
}

impl<B: Body> DeadlineBody<B> {
    /// `inner` must have arrived `timeout` after `start`; each body too late counts in
    /// `timed_out`. An empty body gets no timer.
    pub fn new(inner: B, start: Instant, timeout: Duration, timed_out: IntCounter) -> Self {
        let deadline =
            (!inner.is_end_stream()).then(|| Box::pin(tokio::time::sleep_until(start + timeout)));
        DeadlineBody {
            inner,
            deadline,
            expired: false,
            timeout,
            timed_out,
        }
    }
}

impl<B> Body for DeadlineBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.expired {
            return Poll::Ready(None);
        }
        // What has arrived is taken before the deadline is looked at.
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let due = match self.deadline.as_mut() {
            Some(deadline) => deadline.as_mut().poll(cx).is_ready(),
            None => false,
        };
        if !due {
            return Poll::Pending;
        }
        self.expired = true;
        self.timed_out.inc();
        let timeout_ms = u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX);
        Poll::Ready(Some(Err(Box::new(BodyTimeout { timeout_ms }))))
    }

    fn is_end_stream(&self) -> bool {
        self.expired || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;
    use http_body_util::{BodyExt, StreamBody};

    type Chunk = Result<Frame<Bytes>, std::io::Error>;

    /// Ten bytes, then nothing ever again.
    fn stalled() -> StreamBody<stream::BoxStream<'static, Chunk>> {
        let first = stream::iter([Ok(Frame::data(Bytes::from_static(b"0123456789")))]);
        let chunks: stream::BoxStream<'static, Chunk> =
            Box::pin(futures_util::StreamExt::chain(first, stream::pending()));
        StreamBody::new(chunks)
    }

    fn counter() -> IntCounter {
        IntCounter::new("body_timeouts", "test").unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_fails_at_its_deadline_and_is_counted() {
        let timed_out = counter();
        let start = Instant::now();
        let body = DeadlineBody::new(
            stalled(),
            start,
            Duration::from_millis(1500),
            timed_out.clone(),
        );
        let err = body.collect().await.expect_err("a timeout");
        assert_eq!(Instant::now() - start, Duration::from_millis(1500));
        let timeout = BodyTimeout::find(err.as_ref()).expect("a BodyTimeout");
        assert_eq!(timeout.timeout_ms, 1500);
        assert_eq!(timed_out.get(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_arrives_in_time_is_passed_through() {
        let timed_out = counter();
        let chunks = stream::iter([Ok::<_, std::io::Error>(Frame::data(Bytes::from_static(
            b"{}",
        )))]);
        let body = DeadlineBody::new(
            StreamBody::new(chunks),
            Instant::now(),
            Duration::from_secs(1),
            timed_out.clone(),
        );
        let bytes = body.collect().await.expect("the body").to_bytes();
        assert_eq!(&bytes[..], b"{}");
        assert_eq!(timed_out.get(), 0);
    }

    #[test]
    fn a_timeout_is_found_under_other_errors() {
        let inner = axum::Error::new(BodyTimeout { timeout_ms: 7 });
        let outer = axum::Error::new(inner);
        assert_eq!(BodyTimeout::find(&outer).map(|t| t.timeout_ms), Some(7));
        let other = axum::Error::new(std::io::Error::other("reset"));
        assert!(BodyTimeout::find(&other).is_none());
    }
}
