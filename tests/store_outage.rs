//! PostgreSQL stopped and started again under an agent (a cluster of this test binary's own):
//! while it is down, requests get a clear 503 at once, neither a hang nor a 500; once it is
//! back the agent reconnects by itself, the queue's listener too, and what was answered before
//! is all there.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::postgres::cluster;
use common::{TestServer, serve_args};
use serde_json::{Value, json};

async fn post(server: &TestServer, body: &Value, prefer_async: bool) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(server.url("/v1/workloads"))
        .json(body);
    if prefer_async {
        request = request.header("prefer", "respond-async");
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

async fn get(server: &TestServer, path: &str) -> (u16, Value) {
    let response = reqwest::get(server.url(path)).await.expect("GET");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

fn workload(n: u32) -> Value {
    json!({"code": "export default (x) => x", "input": n, "isolation": "wasm"})
}

fn agent(dir: &Path, url: &str) -> TestServer {
    let flags = [
        "--store",
        url,
        "--isolate-host-dir",
        "/nonexistent/isolate-host",
    ];
    TestServer::start(serve_args(dir, &flags))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_is_a_clear_503_and_the_agent_recovers_by_itself() {
    let url = cluster().database().await;
    let dir = tempfile::tempdir().unwrap();
    let server = agent(dir.path(), &url);
    let (status, before) = post(&server, &workload(1), false).await;
    assert_eq!(
        (status, &before["recorded"]),
        (200, &json!(true)),
        "{before}"
    );
    let (status, queued) = post(&server, &workload(2), true).await;
    assert_eq!(status, 202, "{queued}");
    let queued_id = queued["id"].as_str().unwrap().to_owned();
    let (_, done) = get(&server, &format!("/v1/workloads/{queued_id}?wait=30")).await;
    assert_eq!(done["output"], 2, "{done}");

    tokio::task::spawn_blocking(|| cluster().stop())
        .await
        .unwrap();
    for prefer_async in [false, true] {
        let started = Instant::now();
        let (status, body) = post(&server, &workload(3), prefer_async).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (503, &json!("history_unavailable")),
            "{body}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }
    let (status, body) = get(&server, &format!("/v1/workloads/{queued_id}")).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (503, &json!("history_unavailable")),
        "{body}"
    );
    let (status, _) = get(&server, "/healthz").await;
    assert_eq!(status, 200, "the tiers are fine; only the store is away");

    tokio::task::spawn_blocking(|| cluster().start())
        .await
        .unwrap();
    // Connections cut by the outage are replaced as they are found closed.
    let mut answer = Value::Null;
    for _ in 0..100 {
        let (status, body) = post(&server, &workload(4), false).await;
        if status == 200 {
            answer = body;
            break;
        }
        assert_eq!(
            (status, &body["error"]["code"]),
            (503, &json!("history_unavailable")),
            "{body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        (&answer["output"], &answer["recorded"]),
        (&json!(4), &json!(true)),
        "never recovered"
    );
    // The queue's listener is back: a queued workload is claimed without the slow poll.
    let (status, queued) = post(&server, &workload(5), true).await;
    assert_eq!(status, 202, "{queued}");
    let started = Instant::now();
    let id = queued["id"].as_str().unwrap();
    let (_, done) = get(&server, &format!("/v1/workloads/{id}?wait=30")).await;
    assert_eq!(done["output"], 5, "{done}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    // Nothing answered before the outage is lost.
    for (id, output) in [(before["id"].as_str().unwrap(), 1), (&queued_id, 2)] {
        let (status, record) = get(&server, &format!("/v1/workloads/{id}")).await;
        assert_eq!(
            (status, &record["output"]),
            (200, &json!(output)),
            "{record}"
        );
    }
}
