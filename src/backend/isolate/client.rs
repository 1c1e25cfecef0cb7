//! HTTP/1.1 to a host over its Unix socket, on one connection kept open between requests,
//! driven by the calling task itself: a connection task of its own would cost a wake-up of
//! another thread on every answer (0.1–0.8 ms on an idle VM). Keeping the connection saves
//! the connect and the host's accept on every workload (~0.15 ms measured on Deno's server).
//!
//! A request is never sent twice. A kept connection is checked before use (polled once, so a
//! close by the host is seen), and a request is retried on a fresh connection only when hyper
//! hands it back unsent; a connection that broke after the request went out is an error, as
//! the host may have run the workload. A connection idle for longer than [`KEEP_IDLE`] is
//! closed rather than reused: Deno's server has no idle timeout (a connection idle for 70 s
//! was still served, Deno 2.9), and this keeps a reused one far from any it might gain.

use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::FutureExt;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

/// How long an unused connection is kept for the next request.
const KEEP_IDLE: Duration = Duration::from_secs(2);

type Driver = Pin<Box<Connection<TokioIo<UnixStream>, Full<Bytes>>>>;

/// One open connection: the handle that sends, and the future that drives it.
struct Open {
    sender: SendRequest<Full<Bytes>>,
    driver: Driver,
    /// The driver finished (the host closed): never polled again, nor kept.
    ended: bool,
    idle_since: Instant,
}

/// How an exchange on one connection went.
enum Exchange {
    Answered(StatusCode, Bytes),
    /// Hyper gave the request back without writing it: it can go on another connection.
    NotSent(Box<Request<Full<Bytes>>>),
    Failed(io::Error),
}

/// A host's HTTP client: at most one kept connection, taken by one request at a time.
pub struct HostClient {
    socket: PathBuf,
    kept: Mutex<Option<Open>>,
}

impl HostClient {
    pub fn new(socket: PathBuf) -> HostClient {
        HostClient {
            socket,
            kept: Mutex::new(None),
        }
    }

    /// Sends one request and reads at most `max_body` bytes of the answer.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        max_body: usize,
    ) -> io::Result<(StatusCode, Bytes)> {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, "isolate-host")
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(io::Error::other)?;
        let (mut open, reused) = match self.take_kept() {
            Some(open) => (open, true),
            None => (self.connect().await?, false),
        };
        let answered = match exchange(&mut open, request, max_body).await {
            Exchange::NotSent(request) if reused => {
                open = self.connect().await?;
                exchange(&mut open, *request, max_body).await
            }
            other => other,
        };
        match answered {
            Exchange::Answered(status, body) => {
                self.keep(open);
                Ok((status, body))
            }
            Exchange::NotSent(_) => Err(io::Error::other("the isolate host refused a request")),
            Exchange::Failed(err) => Err(err),
        }
    }

    /// The kept connection, if it is recent and still open.
    fn take_kept(&self) -> Option<Open> {
        let mut open = self.kept.lock().expect("isolate client lock").take()?;
        if open.idle_since.elapsed() > KEEP_IDLE {
            return None;
        }
        // Lets hyper read a close (or stray bytes) that arrived while the connection was idle.
        if (&mut open.driver).now_or_never().is_some() || open.sender.is_closed() {
            return None;
        }
        Some(open)
    }

    fn keep(&self, mut open: Open) {
        if open.ended {
            return;
        }
        open.idle_since = Instant::now();
        let mut kept = self.kept.lock().expect("isolate client lock");
        if kept.is_none() {
            *kept = Some(open);
        }
    }

    async fn connect(&self) -> io::Result<Open> {
        let stream = UnixStream::connect(&self.socket).await?;
        let (sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(io::Error::other)?;
        Ok(Open {
            sender,
            driver: Box::pin(driver),
            ended: false,
            idle_since: Instant::now(),
        })
    }
}

/// Sends `request` on `open` and reads the answer, driving the connection meanwhile.
async fn exchange(open: &mut Open, request: Request<Full<Bytes>>, max_body: usize) -> Exchange {
    let sent = open.sender.try_send_request(request);
    let answer = async {
        let response = match sent.await {
            Ok(response) => response,
            Err(mut err) => {
                return match err.take_message() {
                    Some(request) => Exchange::NotSent(Box::new(request)),
                    None => Exchange::Failed(io::Error::other(err.into_error())),
                };
            }
        };
        let status = response.status();
        match Limited::new(response.into_body(), max_body).collect().await {
            Ok(body) => Exchange::Answered(status, body.to_bytes()),
            Err(err) => Exchange::Failed(io::Error::other(err)),
        }
    };
    let mut answer = std::pin::pin!(answer);
    tokio::select! {
        answer = &mut answer => answer,
        ended = &mut open.driver => {
            open.ended = true;
            match ended {
                // Whatever it delivered before it closed is still there to read.
                Ok(()) => answer.await,
                Err(err) => Exchange::Failed(io::Error::other(err)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::UnixListener;

    use std::path::Path;

    use super::*;

    /// What the fake host does with each request it reads.
    #[derive(Clone, Copy)]
    enum Serve {
        /// Answers, and keeps the connection open.
        KeepOpen,
        /// Answers, then closes the connection.
        AnswerThenClose,
        /// Answers the first request of a connection; closes without answering later ones.
        DropSecond,
    }

    /// A fake host on `dir/host.sock`; counts connections and requests read.
    struct FakeHost {
        socket: PathBuf,
        connections: Arc<AtomicUsize>,
        requests: Arc<AtomicUsize>,
    }

    fn fake_host(dir: &Path, serve: Serve) -> FakeHost {
        let socket = dir.join("host.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (accepted, read) = (Arc::clone(&connections), Arc::clone(&requests));
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                accepted.fetch_add(1, Ordering::SeqCst);
                let read = Arc::clone(&read);
                tokio::spawn(async move {
                    let mut on_connection = 0;
                    while read_request(&mut stream).await {
                        read.fetch_add(1, Ordering::SeqCst);
                        on_connection += 1;
                        if matches!(serve, Serve::DropSecond) && on_connection > 1 {
                            return;
                        }
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        stream.write_all(answer).await.unwrap();
                        if matches!(serve, Serve::AnswerThenClose) {
                            return;
                        }
                    }
                });
            }
        });
        FakeHost {
            socket,
            connections,
            requests,
        }
    }

    /// Reads one request with a `content-length` body; false at the end of the stream.
    async fn read_request(stream: &mut UnixStream) -> bool {
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&buffer).to_lowercase();
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text[..end]
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .map_or(0, |value| value.trim().parse().unwrap());
                if buffer.len() >= end + 4 + length {
                    return true;
                }
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
    }

    async fn post(client: &HostClient) -> io::Result<(StatusCode, Bytes)> {
        client
            .call(Method::POST, "/execute", b"{}".to_vec(), 1024)
            .await
    }

    #[tokio::test]
    async fn one_connection_serves_requests_in_turn() {
        let dir = tempfile::tempdir().unwrap();
        let host = fake_host(dir.path(), Serve::KeepOpen);
        let client = HostClient::new(host.socket.clone());
        for _ in 0..3 {
            let (status, body) = post(&client).await.unwrap();
            assert_eq!((status, &body[..]), (StatusCode::OK, &b"ok"[..]));
        }
        assert_eq!(host.connections.load(Ordering::SeqCst), 1);
        assert_eq!(host.requests.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_kept_connection_the_host_closed_is_replaced_and_nothing_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let host = fake_host(dir.path(), Serve::AnswerThenClose);
        let client = HostClient::new(host.socket.clone());
        for _ in 0..3 {
            assert_eq!(post(&client).await.unwrap().0, StatusCode::OK);
            // The close reaches the client while its connection is idle.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(host.connections.load(Ordering::SeqCst), 3);
        assert_eq!(host.requests.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_request_the_host_read_is_never_sent_again() {
        let dir = tempfile::tempdir().unwrap();
        let host = fake_host(dir.path(), Serve::DropSecond);
        let client = HostClient::new(host.socket.clone());
        assert_eq!(post(&client).await.unwrap().0, StatusCode::OK);
        assert!(post(&client).await.is_err(), "the host read it, then died");
        assert_eq!(host.requests.load(Ordering::SeqCst), 2);
        assert_eq!(host.connections.load(Ordering::SeqCst), 1);
    }
}
