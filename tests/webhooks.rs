//! Results POSTed to `callback_url`s, the same suite on each engine (SQLite, and PostgreSQL
//! on a private cluster): signed with HMAC-SHA256, retried with backoff until answered 2xx,
//! the attempts visible on the record; addresses off the allow-list refused.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use common::postgres::cluster;
use common::{TestServer, serve_args, submit};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;

const SECRET: &str = "webhook-test-secret";

/// A callback receiver on loopback: answers 500 to its first `failures` requests, 200 after,
/// and hands each request's signature and body to the test.
struct Receiver {
    port: u16,
    received: mpsc::UnboundedReceiver<(String, String)>,
}

async fn receiver(failures: usize) -> Receiver {
    let (sent, received) = mpsc::unbounded_channel();
    let seen = Arc::new(Mutex::new(0));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let (sent, seen) = (sent.clone(), Arc::clone(&seen));
            async move {
                let signature = headers
                    .get("x-vulcan-signature")
                    .map(|value| value.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                sent.send((signature, body)).unwrap();
                let mut seen = seen.lock().unwrap();
                *seen += 1;
                match *seen <= failures {
                    true => StatusCode::INTERNAL_SERVER_ERROR,
                    false => StatusCode::OK,
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { port, received }
}

impl Receiver {
    async fn next(&mut self) -> (String, Value) {
        let (signature, body) = tokio::time::timeout(Duration::from_secs(30), self.received.recv())
            .await
            .expect("a callback within 30 s")
            .expect("the receiver is up");
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        let expected: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        assert_eq!(signature, format!("sha256={expected}"), "bad signature");
        (signature, serde_json::from_str(&body).unwrap())
    }
}

fn agent(dir: &Path, store: &str, port: u16) -> TestServer {
    let allow = format!("127.0.0.1:{port}");
    let flags = [
        "--store",
        store,
        "--callback-allow",
        &allow,
        "--callback-secret",
        SECRET,
        "--isolate-host-dir",
        "/nonexistent/isolate-host",
    ];
    TestServer::start(serve_args(dir, &flags))
}

async fn get(server: &TestServer, path: &str) -> Value {
    reqwest::get(server.url(path))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn webhook_suite(store: &str, dir: &Path) {
    let mut hooks = receiver(1).await;
    let server = agent(dir, store, hooks.port);
    let callback = format!("http://127.0.0.1:{}/hook", hooks.port);

    // Synchronous: answered at once; delivered after one failed attempt and a 1 s backoff.
    let body = json!({"code": "export default (x) => x + 1", "input": 41, "isolation": "wasm", "callback_url": callback});
    let (status, answer) = submit(&server, body).await;
    assert_eq!((status, &answer["output"]), (200, &json!(42)), "{answer}");
    let (_, first) = hooks.next().await;
    let (_, second) = hooks.next().await;
    for sent in [&first, &second] {
        assert_eq!(
            (&sent["id"], &sent["output"]),
            (&answer["id"], &json!(42)),
            "{sent}"
        );
    }
    let id = answer["id"].as_str().unwrap();
    let mut record = get(&server, &format!("/v1/workloads/{id}")).await;
    for _ in 0..100 {
        if record["callback"]["delivered_at_ms"].is_u64() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        record = get(&server, &format!("/v1/workloads/{id}")).await;
    }
    let delivery = &record["callback"];
    assert_eq!(delivery["url"], callback.as_str(), "{record}");
    assert_eq!(delivery["attempts"], 2, "{record}");
    assert!(delivery["delivered_at_ms"].is_u64(), "{record}");
    assert_eq!(delivery["gave_up"], false, "{record}");

    // Asynchronous: the result is delivered when the queued workload ends.
    let body = json!({"code": "export default () => 'later'", "isolation": "wasm", "callback_url": callback});
    let queued = reqwest::Client::new()
        .post(server.url("/v1/workloads"))
        .header("prefer", "respond-async")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status(), 202);
    let queued: Value = queued.json().await.unwrap();
    let (_, sent) = hooks.next().await;
    assert_eq!(
        (&sent["id"], &sent["output"]),
        (&queued["id"], &json!("later")),
        "{sent}"
    );
    assert_eq!(sent["status"], "succeeded");

    // Anywhere else is refused before anything runs.
    for refused in [
        format!("http://127.0.0.1:{}/hook", hooks.port + 1),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        format!("https://127.0.0.1:{}/hook", hooks.port),
    ] {
        let body =
            json!({"code": "export default () => 1", "isolation": "wasm", "callback_url": refused});
        let (status, answer) = submit(&server, body).await;
        assert_eq!(
            (status, &answer["error"]["code"]),
            (400, &json!("invalid_request")),
            "{refused}: {answer}"
        );
    }
}

#[tokio::test]
async fn webhooks_are_delivered_signed_and_retried_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("vulcan.db").display());
    webhook_suite(&store, dir.path()).await;
}

#[tokio::test]
async fn webhooks_are_delivered_signed_and_retried_on_postgres() {
    let url = cluster().database().await;
    let dir = tempfile::tempdir().unwrap();
    webhook_suite(&url, dir.path()).await;
}

#[tokio::test]
async fn an_agent_without_an_allow_list_refuses_every_callback() {
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--isolate-host-dir", "/nonexistent/isolate-host"];
    let server = TestServer::start(serve_args(dir.path(), &flags));
    let body = json!({"code": "export default () => 1", "isolation": "wasm", "callback_url": "http://127.0.0.1:9/hook"});
    let (status, answer) = submit(&server, body).await;
    assert_eq!(
        (status, &answer["error"]["code"]),
        (400, &json!("invalid_request")),
        "{answer}"
    );
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("--callback-allow"), "{message}");
}
