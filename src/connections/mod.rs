//! Clients' connections: the accept loop that serves the API over HTTP/1.1, and what keeps
//! slow or numerous clients from holding the agent's descriptors (`ConnectionArgs`).
//!
//! - [`caps`]: open connections per agent and per client address; a connection over a cap is
//!   accepted and closed at once (the client gets an answer rather than waiting in the
//!   kernel's backlog), counted in `vulcan_connections_refused_total{reason}` and logged at
//!   most once a second.
//! - [`activity`] and [`watchdog`]: a request's head must arrive within the header-read
//!   timeout, and a connection idle between requests is closed after the idle timeout; the
//!   socket is closed without an answer.
//! - [`body`]: a request's body must arrive within its deadline, or the request is answered
//!   408 `request_timeout` and the connection closed.
//! - [`service`]: the router as a connection's hyper service.
//!
//! Shutdown is what `axum::serve` did: once `shutdown` resolves the listener is closed, idle
//! connections close at once, one with a request in progress after answering it, and
//! [`serve`] returns when every connection has ended.

mod activity;
mod body;
mod caps;
mod service;
mod throttle;
mod watchdog;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use prometheus::{IntCounter, IntCounterVec};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

pub use body::BodyTimeout;

use crate::config::ConnectionArgs;
use crate::metrics::Metrics;
use activity::{Activity, Timeouts, TrackedIo};
use caps::{Caps, Open};
use service::RequestService;
use throttle::Throttle;
use watchdog::{Ended, Watched};

/// What a client was too slow to send, also a metric label
/// (`vulcan_connections_timed_out_total{phase}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Late {
    Header,
    Idle,
    Body,
}

impl Late {
    pub fn as_str(self) -> &'static str {
        match self {
            Late::Header => "header",
            Late::Idle => "idle",
            Late::Body => "body",
        }
    }
}

/// At most one log line a second about refused connections, and one about accept errors.
const LOG_INTERVAL: Duration = Duration::from_secs(1);

/// Pause after an accept error other than a client's hang-up (out of descriptors or memory):
/// the pending connection stays in the backlog and the listener ready, so the loop would spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// What every connection's task needs.
struct Settings {
    router: Router,
    timeouts: Timeouts,
    body_read_timeout: Duration,
    timed_out: IntCounterVec,
    body_timeouts: IntCounter,
}

/// Serves `router` on `listener` until `shutdown` resolves and every connection has ended.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    args: &ConnectionArgs,
    metrics: &Metrics,
    shutdown: impl Future<Output = ()>,
) {
    let caps = Caps::new(
        args.max_connections,
        args.max_connections_per_client,
        metrics.connections_open.clone(),
    );
    let settings = Arc::new(Settings {
        router,
        timeouts: Timeouts {
            header_read: Duration::from_millis(args.header_read_timeout_ms),
            idle: Duration::from_millis(args.idle_timeout_ms),
        },
        body_read_timeout: Duration::from_millis(args.body_read_timeout_ms),
        timed_out: metrics.connections_timed_out.clone(),
        body_timeouts: metrics
            .connections_timed_out
            .with_label_values(&[Late::Body.as_str()]),
    });
    // Every connection's task holds a receiver: the sender is closed once all have ended.
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut refusals = Throttle::new(LOG_INTERVAL);
    let mut accept_errors = Throttle::new(LOG_INTERVAL);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            // The signal first: polled (and so armed) before any connection is served, and
            // heeded even while connections keep arriving.
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    if !is_clients_hang_up(&err) {
                        if let Some(count) = accept_errors.note(Instant::now()) {
                            tracing::error!(error = %err, count, "accepting connections failed");
                        }
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    }
                    continue;
                }
            },
        };
        match caps.admit(peer.ip()) {
            Ok(open) => {
                tokio::spawn(connection(stream, open, settings.clone(), stop_rx.clone()));
            }
            Err(refusal) => {
                drop(stream);
                metrics
                    .connections_refused
                    .with_label_values(&[refusal.as_str()])
                    .inc();
                if let Some(count) = refusals.note(Instant::now()) {
                    tracing::warn!(
                        count,
                        reason = refusal.as_str(),
                        client = %peer.ip(),
                        "refused connections over a cap (count since the last such line; \
                         the latest one's reason and client)"
                    );
                }
            }
        }
    }
    drop(listener);
    drop(stop_rx);
    stop_tx.send_replace(true);
    stop_tx.closed().await;
}

/// Serves one admitted connection until it ends, times out, or is shut down.
async fn connection(
    stream: TcpStream,
    _open: Open,
    settings: Arc<Settings>,
    mut stop: watch::Receiver<bool>,
) {
    let activity = Activity::opened(Instant::now());
    let service = RequestService {
        router: settings.router.clone(),
        activity: activity.clone(),
        body_read_timeout: settings.body_read_timeout,
        body_timeouts: settings.body_timeouts.clone(),
    };
    let io = TokioIo::new(TrackedIo::new(stream, activity.clone()));
    let connection = http1::Builder::new()
        // `activity` keeps the header and idle timers; hyper's would be both at once.
        .header_read_timeout(None)
        .serve_connection(io, service);
    let mut watched = Watched::new(connection, activity, settings.timeouts);
    let ended = tokio::select! {
        ended = &mut watched => ended,
        () = stopping(&mut stop) => {
            watched.graceful_shutdown();
            watched.await
        }
    };
    match ended {
        Ended::Served(Ok(())) => {}
        Ended::Served(Err(err)) => tracing::debug!(error = %err, "connection ended in error"),
        Ended::TimedOut(late) => {
            settings.timed_out.with_label_values(&[late.as_str()]).inc();
            tracing::debug!(
                late = late.as_str(),
                "closed the connection of a client too slow"
            );
        }
    }
}

async fn stopping(stop: &mut watch::Receiver<bool>) {
    // An error is the sender gone, which only happens after it said stop.
    let _ = stop.wait_for(|stopping| *stopping).await;
}

/// Errors of one pending connection (its client gave up), not of the listener.
fn is_clients_hang_up(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
