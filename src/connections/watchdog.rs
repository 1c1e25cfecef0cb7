//! A connection served until it ends or its [`Activity`] deadline passes (then it is
//! dropped: the socket closes, with nothing written). The deadline is read again after every
//! poll of the connection, the only time it can change.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::time::Sleep;

use super::Late;
use super::activity::{Activity, Timeouts, TrackedIo};
use super::service::RequestService;

pub type Connection = http1::Connection<TokioIo<TrackedIo>, RequestService>;

/// How a connection ended.
pub enum Ended {
    /// The client closed it, it was shut down, or hyper gave up on it.
    Served(hyper::Result<()>),
    /// The client was too slow.
    TimedOut(Late),
}

pub struct Watched {
    connection: Pin<Box<Connection>>,
    activity: Activity,
    timeouts: Timeouts,
    timer: Pin<Box<Sleep>>,
}

impl Watched {
    pub fn new(connection: Connection, activity: Activity, timeouts: Timeouts) -> Self {
        let first = activity
            .deadline(timeouts)
            .map_or_else(tokio::time::Instant::now, |(at, _)| at);
        Watched {
            connection: Box::pin(connection),
            activity,
            timeouts,
            timer: Box::pin(tokio::time::sleep_until(first)),
        }
    }

    /// Closes the connection once the request in progress, if any, is answered; an idle one
    /// at once.
    pub fn graceful_shutdown(&mut self) {
        self.connection.as_mut().graceful_shutdown();
    }
}

impl Future for Watched {
    type Output = Ended;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Ended> {
        if let Poll::Ready(result) = self.connection.as_mut().poll(cx) {
            return Poll::Ready(Ended::Served(result));
        }
        let Some((deadline, late)) = self.activity.deadline(self.timeouts) else {
            return Poll::Pending;
        };
        if self.timer.deadline() != deadline {
            self.timer.as_mut().reset(deadline);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Ended::TimedOut(late)),
            Poll::Pending => Poll::Pending,
        }
    }
}
