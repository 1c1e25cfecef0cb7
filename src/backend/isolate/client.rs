//! The agent's side of a host's socket: one request at a time, each answered before the next,
//! on one connection kept open for the host's life and driven by the calling task itself (a
//! connection task of its own would cost a wake-up of another thread on every answer).
//!
//! Both ways a message is a frame (`isolate-host/src/frames.ts`):
//! `u32 length of the rest | u32 length of the head | head (JSON) | payload`, big-endian. The
//! payload carries a workload's code and input in, and its output's JSON text out, so the host
//! never parses either on its own thread.
//!
//! A request is never sent twice. The connection is taken out for the length of a call: if the
//! call fails, or its future is dropped half-way (a deadline), the connection is closed with it,
//! and the next call opens a fresh one.

use std::io;
use std::path::PathBuf;
use std::sync::Mutex;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// One answer: its head (JSON) and its payload.
#[derive(Debug)]
pub struct Frame {
    pub head: Bytes,
    pub payload: Bytes,
}

/// A host's client: at most one kept connection, taken by one call at a time.
pub struct HostClient {
    socket: PathBuf,
    kept: Mutex<Option<UnixStream>>,
}

impl HostClient {
    pub fn new(socket: PathBuf) -> HostClient {
        HostClient {
            socket,
            kept: Mutex::new(None),
        }
    }

    /// Sends one request and reads its answer, refusing one over `max_answer` bytes.
    pub async fn call(&self, head: &[u8], payload: &[u8], max_answer: usize) -> io::Result<Frame> {
        let kept = self.kept.lock().expect("isolate client lock").take();
        let mut stream = match kept {
            Some(stream) => stream,
            None => UnixStream::connect(&self.socket).await?,
        };
        stream.write_all(&encode(head, payload)?).await?;
        let answer = read_frame(&mut stream, max_answer).await?;
        *self.kept.lock().expect("isolate client lock") = Some(stream);
        Ok(answer)
    }
}

/// One frame: both lengths, the head, the payload.
fn encode(head: &[u8], payload: &[u8]) -> io::Result<Vec<u8>> {
    let too_big = || io::Error::other("a frame over 4 GiB");
    let head_length = u32::try_from(head.len()).map_err(|_| too_big())?;
    let rest = u32::try_from(4 + head.len() + payload.len()).map_err(|_| too_big())?;
    let mut frame = Vec::with_capacity(8 + head.len() + payload.len());
    frame.extend_from_slice(&rest.to_be_bytes());
    frame.extend_from_slice(&head_length.to_be_bytes());
    frame.extend_from_slice(head);
    frame.extend_from_slice(payload);
    Ok(frame)
}

async fn read_frame(stream: &mut UnixStream, max_answer: usize) -> io::Result<Frame> {
    let mut lengths = [0u8; 8];
    stream.read_exact(&mut lengths).await?;
    let rest = u32::from_be_bytes(lengths[..4].try_into().expect("4 bytes")) as usize;
    let head_length = u32::from_be_bytes(lengths[4..].try_into().expect("4 bytes")) as usize;
    if rest > max_answer.saturating_add(4) {
        return Err(io::Error::other(format!(
            "the isolate host answered {rest} bytes, over the {max_answer} expected at most"
        )));
    }
    if rest < 4 || head_length > rest - 4 {
        return Err(io::Error::other(format!(
            "the isolate host sent a malformed frame ({rest} bytes, head of {head_length})"
        )));
    }
    let mut body = vec![0u8; rest - 4];
    stream.read_exact(&mut body).await?;
    let mut body = Bytes::from(body);
    let payload = body.split_off(head_length);
    Ok(Frame {
        head: body,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::net::UnixListener;

    use super::*;

    /// What the fake host does with each request it reads.
    #[derive(Clone, Copy)]
    enum Serve {
        /// Echoes the request's head and payload, reversed, and keeps the connection open.
        Echo,
        /// Answers a head of `size` bytes.
        Big(usize),
        /// Closes the connection without answering the second request of a connection.
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
                    while let Ok(frame) = read_frame(&mut stream, 1 << 20).await {
                        read.fetch_add(1, Ordering::SeqCst);
                        on_connection += 1;
                        let answer = match serve {
                            Serve::DropSecond if on_connection > 1 => return,
                            Serve::Echo | Serve::DropSecond => {
                                let mut payload = frame.payload.to_vec();
                                payload.reverse();
                                encode(&frame.head, &payload).unwrap()
                            }
                            Serve::Big(size) => encode(&vec![b' '; size], b"").unwrap(),
                        };
                        stream.write_all(&answer).await.unwrap();
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

    #[tokio::test]
    async fn one_connection_carries_head_and_payload_both_ways_in_turn() {
        let dir = tempfile::tempdir().unwrap();
        let host = fake_host(dir.path(), Serve::Echo);
        let client = HostClient::new(host.socket.clone());
        for n in 0..3u8 {
            let answer = client
                .call(br#"{"type":"run"}"#, &[1, 2, n], 1024)
                .await
                .unwrap();
            assert_eq!(&answer.head[..], br#"{"type":"run"}"#);
            assert_eq!(&answer.payload[..], &[n, 2, 1]);
        }
        assert_eq!(host.connections.load(Ordering::SeqCst), 1);
        assert_eq!(host.requests.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn an_answer_over_the_cap_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let host = fake_host(dir.path(), Serve::Big(2048));
        let client = HostClient::new(host.socket.clone());
        let error = client.call(b"{}", b"", 1024).await.unwrap_err();
        assert!(error.to_string().contains("over the 1024"), "{error}");
        assert!(client.call(b"{}", b"", 4096).await.is_ok());
    }

    #[tokio::test]
    async fn a_request_the_host_read_is_never_sent_again() {
        let dir = tempfile::tempdir().unwrap();
        let host = fake_host(dir.path(), Serve::DropSecond);
        let client = HostClient::new(host.socket.clone());
        assert!(client.call(b"{}", b"", 1024).await.is_ok());
        assert!(
            client.call(b"{}", b"", 1024).await.is_err(),
            "read, then dropped"
        );
        assert_eq!(host.requests.load(Ordering::SeqCst), 2);
        // The broken connection is gone: the next call opens a new one.
        assert!(client.call(b"{}", b"", 1024).await.is_ok());
        assert_eq!(host.connections.load(Ordering::SeqCst), 2);
    }
}
