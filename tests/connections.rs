//! Slow and numerous clients, against the agent as its own process over real sockets: 5,000
//! half-sent heads are all closed by the header-read timeout while other clients are served
//! throughout; connections over the per-client and per-agent caps are closed at once and
//! counted, and once some close new ones are served; an idle keep-alive connection is closed
//! by the idle timeout, a half-sent next head by the header timeout; a stalled body gets 408
//! `request_timeout` and a closed connection.
//!
//! Clients that should be told apart connect from 127.0.0.2 (any 127/8 source reaches
//! loopback); the rest from 127.0.0.1. The agents run the wasm tier only.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::agent::Agent;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{Instant, timeout};

const OTHER_CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const LOCAL_CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const HALF_A_HEAD: &[u8] = b"GET /v1/backends HTTP/1.1\r\nHost: x\r\n";
const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
/// Well under every test's timeouts: how soon a refused connection must be seen closed.
const AT_ONCE: Duration = Duration::from_secs(2);

fn start_agent(extra: &[&str]) -> (tempfile::TempDir, Agent) {
    let dir = tempfile::tempdir().unwrap();
    let mut flags = vec!["--isolate-host-dir", "/nonexistent/isolate-host"];
    flags.extend_from_slice(extra);
    let agent = Agent::start(dir.path(), &flags);
    (dir, agent)
}

async fn connect_from(source: IpAddr, agent: &Agent) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(source, 0)).unwrap();
    socket.connect(agent.addr).await.unwrap()
}

/// Waits until the agent closes `stream` (EOF or reset), failing on any byte it sends.
async fn closed(mut stream: TcpStream) -> Result<Instant, String> {
    let mut buf = [0u8; 256];
    match stream.read(&mut buf).await {
        Ok(0) => Ok(Instant::now()),
        Ok(n) => Err(format!(
            "answered instead of closed: {:?}",
            String::from_utf8_lossy(&buf[..n])
        )),
        Err(err) if err.kind() == std::io::ErrorKind::ConnectionReset => Ok(Instant::now()),
        Err(err) => Err(format!("reading failed: {err}")),
    }
}

/// Sends `request` on `stream` and reads one response: (status, body).
async fn exchange(stream: &mut TcpStream, request: &[u8]) -> (u16, Vec<u8>) {
    stream.write_all(request).await.unwrap();
    read_response(stream).await
}

async fn read_response(stream: &mut TcpStream) -> (u16, Vec<u8>) {
    let mut bytes = Vec::new();
    let head_end = loop {
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "closed mid-response: {:?}",
            String::from_utf8_lossy(&bytes)
        );
        bytes.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_lowercase();
    let status = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map(|value| value.trim().parse().unwrap())
        .expect("a content-length");
    let mut body = bytes.split_off(head_end);
    while body.len() < length {
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed mid-body");
        body.extend_from_slice(&buf[..n]);
    }
    (status, body)
}

/// A connection from `source` that was served a request and stays open.
async fn served_connection(source: IpAddr, agent: &Agent) -> TcpStream {
    let mut stream = connect_from(source, agent).await;
    let (status, body) = timeout(AT_ONCE, exchange(&mut stream, HEALTHZ))
        .await
        .expect("an answer");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    stream
}

/// A new connection from `source` is served, within 5 s of tries (the agent notices closed
/// connections on its own time).
async fn eventually_served(source: IpAddr, agent: &Agent) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut stream = connect_from(source, agent).await;
        stream.write_all(HEALTHZ).await.unwrap();
        let mut first = [0u8; 1];
        if let Ok(Ok(1)) = timeout(AT_ONCE, stream.peek(&mut first)).await {
            let (status, _) = read_response(&mut stream).await;
            assert_eq!(status, 200);
            return stream;
        }
        assert!(Instant::now() < deadline, "no new connection was served");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The value of `name` (with labels) in `/metrics`, read over `stream`; 0 if absent.
async fn metric_over(stream: &mut TcpStream, name: &str) -> f64 {
    let (status, body) = exchange(stream, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status, 200);
    String::from_utf8(body)
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// The open-file limit raised to its hard limit: 5,000 sockets here, as many in the agent
/// (which inherits it).
fn raise_open_file_limit(needed: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit on our own process with a valid struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
    assert!(
        limit.rlim_cur >= needed,
        "this test needs {needed} open files; the hard limit is {}",
        limit.rlim_cur
    );
}

/// Normal requests on fresh connections from 127.0.0.1 until `stop`: each must succeed.
/// Returns each round's latency (a `/healthz` and a wasm workload).
async fn normal_traffic(agent_url: String, stop: Arc<AtomicBool>) -> Vec<Duration> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let workload = json!({"code": "export default () => 1", "isolation": "wasm"});
    let mut rounds = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let started = Instant::now();
        let health = http.get(format!("{agent_url}/healthz")).send().await;
        assert_eq!(health.expect("GET /healthz").status(), 200);
        let answer: Value = http
            .post(format!("{agent_url}/v1/workloads"))
            .json(&workload)
            .send()
            .await
            .expect("POST /v1/workloads")
            .json()
            .await
            .unwrap();
        assert_eq!(
            (&answer["status"], &answer["output"]),
            (&json!("succeeded"), &json!(1)),
            "{answer}"
        );
        rounds.push(started.elapsed());
    }
    rounds
}

fn summary(rounds: &mut [Duration]) -> String {
    rounds.sort();
    format!(
        "{} rounds, median {:?}, max {:?}",
        rounds.len(),
        rounds[rounds.len() / 2],
        rounds[rounds.len() - 1]
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_half_sent_heads_are_closed_by_the_header_timeout_while_others_are_served() {
    const HALF_OPEN: usize = 5_000;
    const HEADER_TIMEOUT: Duration = Duration::from_millis(1_500);
    raise_open_file_limit(2 * HALF_OPEN as u64 + 1_000);
    let (_dir, agent) = start_agent(&[
        "--header-read-timeout-ms",
        "1500",
        "--max-connections-per-client",
        "0",
    ]);
    let stop = Arc::new(AtomicBool::new(false));
    let before = tokio::spawn(normal_traffic(agent.url(""), stop.clone()));
    // A baseline: normal requests alone for half a second.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    let mut before = before.await.unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let during = tokio::spawn(normal_traffic(agent.url(""), stop.clone()));
    let storm_started = Instant::now();
    let mut watchers = Vec::with_capacity(HALF_OPEN);
    for _ in 0..HALF_OPEN {
        // Before the agent can have accepted it: the header timer starts no sooner.
        let opened = Instant::now();
        let mut stream = connect_from(OTHER_CLIENT, &agent).await;
        stream.write_all(HALF_A_HEAD).await.unwrap();
        watchers.push(tokio::spawn(async move { (opened, closed(stream).await) }));
    }
    let all_open = storm_started.elapsed();
    let margin = Duration::from_secs(10);
    let (mut last_closed, mut longest_held) = (storm_started, Duration::ZERO);
    for watcher in watchers {
        let (opened, closed) = timeout(HEADER_TIMEOUT + margin, watcher)
            .await
            .expect("a half-sent head still open well past the header timeout")
            .unwrap();
        let closed = closed.unwrap();
        let held = closed - opened;
        assert!(
            held >= HEADER_TIMEOUT,
            "closed after {held:?}, before the header timeout"
        );
        assert!(
            held <= HEADER_TIMEOUT + margin,
            "closed after {held:?}, long past the header timeout"
        );
        last_closed = last_closed.max(closed);
        longest_held = longest_held.max(held);
    }
    stop.store(true, Ordering::SeqCst);
    let mut during = during.await.unwrap();
    eprintln!(
        "{HALF_OPEN} half-sent heads opened in {all_open:?}, each closed at most \
         {longest_held:?} after its opening, the last {:?} after the first was opened; normal \
         requests before: {}; during: {}",
        last_closed - storm_started,
        summary(&mut before),
        summary(&mut during),
    );
    assert!(
        during.len() >= 5,
        "only {} normal rounds during the storm",
        during.len()
    );
    let mut stream = served_connection(LOCAL_CLIENT, &agent).await;
    let header_timeouts = r#"vulcan_connections_timed_out_total{phase="header"}"#;
    assert_eq!(
        metric_over(&mut stream, header_timeouts).await,
        HALF_OPEN as f64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_per_client_cap_are_closed_at_once_and_other_clients_are_served() {
    let (_dir, agent) = start_agent(&["--max-connections-per-client", "20"]);
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(served_connection(OTHER_CLIENT, &agent).await);
    }
    for _ in 0..5 {
        let over = connect_from(OTHER_CLIENT, &agent).await;
        timeout(AT_ONCE, closed(over))
            .await
            .expect("a connection over the cap was left open")
            .unwrap();
    }
    let mut local = served_connection(LOCAL_CLIENT, &agent).await;
    let refused = r#"vulcan_connections_refused_total{reason="max_connections_per_client"}"#;
    assert_eq!(metric_over(&mut local, refused).await, 5.0);
    assert_eq!(
        metric_over(&mut local, "vulcan_connections_open").await,
        21.0
    );

    held.truncate(15);
    eventually_served(OTHER_CLIENT, &agent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_agent_cap_are_closed_at_once_until_some_close() {
    let (_dir, agent) = start_agent(&["--max-connections", "50"]);
    let mut held = Vec::new();
    for _ in 0..50 {
        held.push(served_connection(LOCAL_CLIENT, &agent).await);
    }
    for source in [LOCAL_CLIENT, OTHER_CLIENT] {
        let over = connect_from(source, &agent).await;
        timeout(AT_ONCE, closed(over))
            .await
            .expect("a connection over the agent's cap was left open")
            .unwrap();
    }
    let refused = r#"vulcan_connections_refused_total{reason="max_connections"}"#;
    assert_eq!(metric_over(&mut held[0], refused).await, 2.0);

    held.truncate(40);
    let mut fresh = eventually_served(OTHER_CLIENT, &agent).await;
    assert!(metric_over(&mut fresh, refused).await >= 2.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed_after_the_idle_timeout_a_half_sent_next_head_sooner() {
    const IDLE: Duration = Duration::from_millis(5_000);
    const HEADER: Duration = Duration::from_millis(1_000);
    let (_dir, agent) = start_agent(&[
        "--idle-timeout-ms",
        "5000",
        "--header-read-timeout-ms",
        "1000",
    ]);
    // Each instant is taken before the agent can have started the timer in question.
    let idle_since = Instant::now();
    let idle = served_connection(LOCAL_CLIENT, &agent).await;
    let mut next_head = served_connection(LOCAL_CLIENT, &agent).await;
    let head_since = Instant::now();
    next_head.write_all(HALF_A_HEAD).await.unwrap();

    let head_closed = timeout(IDLE, closed(next_head))
        .await
        .expect("a half-sent next head outlived the idle timeout")
        .unwrap();
    let held = head_closed - head_since;
    assert!(
        held >= HEADER && held < IDLE - Duration::from_millis(500),
        "a half-sent next head closed after {held:?}: not the header timeout"
    );
    let idle_closed = timeout(IDLE + Duration::from_secs(5), closed(idle))
        .await
        .expect("an idle connection outlived the idle timeout")
        .unwrap();
    let held = idle_closed - idle_since;
    assert!(
        held >= IDLE,
        "an idle connection closed after {held:?}, before the idle timeout"
    );
    let mut stream = served_connection(LOCAL_CLIENT, &agent).await;
    let idle_timeouts = r#"vulcan_connections_timed_out_total{phase="idle"}"#;
    assert_eq!(metric_over(&mut stream, idle_timeouts).await, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_answered_408_at_its_deadline_and_the_connection_closed() {
    const BODY: Duration = Duration::from_millis(1_000);
    let (_dir, agent) = start_agent(&["--body-read-timeout-ms", "1000"]);
    let mut stream = connect_from(LOCAL_CLIENT, &agent).await;
    // Before the agent can have read the head, which starts the body's deadline.
    let sent = Instant::now();
    stream
        .write_all(
            b"POST /v1/workloads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"code\": ",
        )
        .await
        .unwrap();
    let (status, body) = timeout(BODY + Duration::from_secs(5), read_response(&mut stream))
        .await
        .expect("no answer to a stalled body");
    let waited = sent.elapsed();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 408, "{body}");
    assert_eq!(body["error"]["code"], "request_timeout", "{body}");
    assert!(
        waited >= BODY,
        "answered after {waited:?}, before the body's deadline"
    );
    timeout(AT_ONCE, closed(stream))
        .await
        .expect("the connection stayed open after the 408")
        .unwrap();
    let mut stream = served_connection(LOCAL_CLIENT, &agent).await;
    let body_timeouts = r#"vulcan_connections_timed_out_total{phase="body"}"#;
    assert_eq!(metric_over(&mut stream, body_timeouts).await, 1.0);
}
