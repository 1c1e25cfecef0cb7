//! Shared helpers for integration tests: a real Vulcan server (real wasmtime, real SQLite,
//! a real socket on port 0) and a small HTTP client.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of the helpers"
)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use clap::Parser;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use vulcan::config::{Cli, ServeArgs};

pub mod agent;
pub mod postgres;
pub mod processes;

/// The compiled guest is cached here across tests and runs, as the agent does in production.
pub fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("vulcan-cache")
}

/// `ServeArgs` as `vulcan` would parse them from `extra` flags, on a fresh data dir.
pub fn serve_args(data_dir: &Path, extra: &[&str]) -> ServeArgs {
    let mut argv = vec![
        "vulcan".to_owned(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--data-dir".into(),
        data_dir.display().to_string(),
        "--cache-dir".into(),
        cache_dir().display().to_string(),
    ];
    argv.extend(extra.iter().map(|s| s.to_string()));
    Cli::try_parse_from(argv).expect("valid test flags").serve
}

/// A running server on its own thread and runtime, so it outlives any one test's runtime.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    pub fn start(args: ServeArgs) -> TestServer {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().expect("test runtime");
            runtime.block_on(async move {
                let state = vulcan::server::build_state(&args)
                    .await
                    .expect("server state");
                let listener = tokio::net::TcpListener::bind(args.listen)
                    .await
                    .expect("bind");
                ready_tx
                    .send(listener.local_addr().expect("addr"))
                    .expect("ready");
                vulcan::server::serve(listener, state, args.connections, async {
                    let _ = stop_rx.await;
                })
                .await;
            });
        });
        let addr = ready_rx.recv().expect("server started");
        TestServer {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops the server gracefully and waits until it has.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().expect("server thread");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// One server shared by every test of a binary (starting the wasm tier costs a compile on
/// the first run of a machine).
pub fn shared() -> &'static TestServer {
    static SERVER: OnceLock<(TestServer, tempfile::TempDir)> = OnceLock::new();
    let (server, _dir) = SERVER.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = TestServer::start(serve_args(dir.path(), &[]));
        (server, dir)
    });
    server
}

/// The value of the metric `name` (with its labels, if any) on the agent at `base_url`;
/// panics if it is missing.
pub async fn metric(base_url: &str, name: &str) -> f64 {
    let text = reqwest::get(format!("{base_url}/metrics"))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from\n{text}"))
}

/// POSTs a workload and returns (HTTP status, body).
pub async fn submit(server: &TestServer, body: Value) -> (u16, Value) {
    post(server, "/v1/workloads", body).await
}

/// POSTs JSON to `path` and returns (HTTP status, JSON body).
pub async fn post(server: &TestServer, path: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(server.url(path))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

/// Runs `code` on the wasm tier with extra request fields; panics unless HTTP 200.
pub async fn run_wasm(server: &TestServer, code: &str, extra: Value) -> Value {
    run_on(server, "wasm", code, extra).await
}

/// Runs `code` on `tier` with extra request fields; panics unless HTTP 200.
pub async fn run_on(server: &TestServer, tier: &str, code: &str, extra: Value) -> Value {
    let mut body = json!({"code": code, "isolation": tier});
    for (key, value) in extra.as_object().expect("extra is an object") {
        body[key] = value.clone();
    }
    let (status, answer) = submit(server, body).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// After a limit was hit, the same tier still runs a normal workload.
pub async fn assert_tier_still_healthy(server: &TestServer) {
    let answer = run_wasm(server, "export default (x) => x * 2", json!({"input": 21})).await;
    assert_eq!(answer["status"], "succeeded", "{answer}");
    assert_eq!(answer["output"], 42);
}

/// Every field of `expect` (recursively into objects) that `answer` does not match, as
/// "path: found instead of wanted" lines.
pub fn differences(answer: &Value, expect: &Value, path: &str, failures: &mut Vec<String>) {
    match expect {
        Value::Object(fields) => {
            for (key, want) in fields {
                differences(&answer[key], want, &format!("{path}.{key}"), failures);
            }
        }
        want if answer != want => failures.push(format!("{path}: {answer} instead of {want}")),
        _ => {}
    }
}
