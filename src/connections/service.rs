//! The API's router as one connection's hyper service: each request's body gets its
//! deadline, and the request counts as in progress on its connection until its response's
//! body has been sent (hyper drops it then), so the idle timer starts only after that.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use prometheus::IntCounter;
use tokio::time::Instant;
use tower_service::Service;

use super::activity::{Activity, InProgress};
use super::body::DeadlineBody;

#[derive(Clone)]
pub struct RequestService {
    pub router: Router,
    pub activity: Activity,
    pub body_read_timeout: Duration,
    /// `vulcan_connections_timed_out_total{phase="body"}`.
    pub body_timeouts: IntCounter,
}

type Answer = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for RequestService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, request: Request<Incoming>) -> Answer {
        let in_progress = self.activity.request_started();
        let (timeout, counter) = (self.body_read_timeout, self.body_timeouts.clone());
        let request = request.map(|body| DeadlineBody::new(body, Instant::now(), timeout, counter));
        let routed = self.router.clone().call(request);
        Box::pin(async move {
            let response = routed.await?;
            Ok(response.map(|body| {
                Body::new(Answering {
                    body,
                    _in_progress: in_progress,
                })
            }))
        })
    }
}

/// A response's body, holding its request in progress until hyper has sent it and drops it.
struct Answering {
    body: Body,
    _in_progress: InProgress,
}

impl http_body::Body for Answering {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
