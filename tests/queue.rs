//! Asynchronous submissions and idempotency keys through the API, the same suite on each
//! engine: embedded SQLite and PostgreSQL (a private cluster for this test binary).

mod common;

use std::path::Path;

use common::postgres::cluster;
use common::{TestServer, serve_args};
use serde_json::{Value, json};

fn agent(dir: &Path, store: &str, extra: &[&str]) -> TestServer {
    let mut flags = vec![
        "--store",
        store,
        "--isolate-host-dir",
        "/nonexistent/isolate-host",
    ];
    flags.extend_from_slice(extra);
    TestServer::start(serve_args(dir, &flags))
}

fn sqlite(dir: &Path) -> String {
    format!("sqlite:{}", dir.join("vulcan.db").display())
}

/// POSTs a workload with extra headers: (status, headers, body).
async fn post(
    server: &TestServer,
    body: &Value,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = reqwest::Client::new()
        .post(server.url("/v1/workloads"))
        .json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.json().await.expect("JSON body"))
}

async fn get(server: &TestServer, path: &str) -> (u16, Value) {
    let response = reqwest::get(server.url(path)).await.expect("GET");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

/// A workload that spins `ms` milliseconds, then answers a random number (two runs differ).
fn slow(ms: u64, tag: &str) -> Value {
    json!({
        "code": format!("export default () => {{ const end = Date.now() + {ms}; while (Date.now() < end) {{}} return Math.random() }}"),
        "isolation": "wasm",
        "tag": tag,
        "timeout_ms": 10000,
    })
}

async fn tagged(server: &TestServer, tag: &str) -> Vec<Value> {
    let (status, list) = get(server, "/v1/workloads?limit=500").await;
    assert_eq!(status, 200, "{list}");
    let all = list.as_array().unwrap().iter();
    all.filter(|summary| summary["tag"] == tag)
        .cloned()
        .collect()
}

async fn queue_suite(server: &TestServer) {
    // Asynchronous: 202 at once, queued, with where to ask; then it runs on its own.
    let body = json!({"code": "export default (x) => x * 2", "input": 21, "isolation": "wasm"});
    let (status, headers, queued) = post(server, &body, &[("prefer", "respond-async")]).await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["status"], "queued");
    let id = queued["id"].as_str().unwrap();
    let location = headers["location"].to_str().unwrap();
    assert_eq!(location, format!("/v1/workloads/{id}"));
    let (status, done) = get(server, &format!("{location}?wait=30")).await;
    assert_eq!(
        (status, &done["status"], &done["output"]),
        (200, &json!("succeeded"), &json!(42))
    );
    assert_eq!(done["code"], body["code"]);

    // A key names one workload: a retry gets the same workload and result, not a second run.
    let (status, _, first) = post(
        server,
        &slow(10, "key-sync"),
        &[("idempotency-key", "sync-1")],
    )
    .await;
    assert_eq!(
        (status, &first["status"]),
        (200, &json!("succeeded")),
        "{first}"
    );
    let (status, _, again) = post(
        server,
        &slow(10, "key-sync"),
        &[("idempotency-key", "sync-1")],
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        (&again["id"], &again["output"]),
        (&first["id"], &first["output"])
    );
    assert_eq!(tagged(server, "key-sync").await.len(), 1);

    // Concurrent requests with one key while it runs: one run, every answer its result.
    let requests = (0..4).map(|_| async {
        let (status, _, answer) = post(
            server,
            &slow(300, "key-race"),
            &[("idempotency-key", "race-1")],
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        answer
    });
    let answers = futures_util::future::join_all(requests).await;
    for answer in &answers {
        assert_eq!(
            (&answer["id"], &answer["output"]),
            (&answers[0]["id"], &answers[0]["output"])
        );
    }
    assert_eq!(tagged(server, "key-race").await.len(), 1);

    // Asynchronous with a key, then the same key synchronously: the first workload's result.
    let (status, _, queued) = post(
        server,
        &slow(200, "key-async"),
        &[("prefer", "respond-async"), ("idempotency-key", "async-1")],
    )
    .await;
    assert_eq!(status, 202, "{queued}");
    let (status, _, waited) = post(
        server,
        &slow(200, "key-async"),
        &[("idempotency-key", "async-1")],
    )
    .await;
    assert_eq!((status, &waited["id"]), (200, &queued["id"]), "{waited}");
    assert_eq!(waited["status"], "succeeded");
    assert_eq!(tagged(server, "key-async").await.len(), 1);

    // Refusals.
    let (status, _, body) =
        post(server, &slow(1, "bad"), &[("idempotency-key", "has space")]).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("invalid_request")),
        "{body}"
    );
    let (status, body) = get(server, &format!("/v1/workloads/{id}?wait=61")).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("invalid_request")),
        "{body}"
    );
    let (status, body) = get(
        server,
        "/v1/workloads/0190a0a0-0000-7000-8000-000000000000?wait=1",
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("not_found")),
        "{body}"
    );
}

#[tokio::test]
async fn the_queue_suite_passes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    queue_suite(&agent(dir.path(), &sqlite(dir.path()), &[])).await;
}

#[tokio::test]
async fn the_queue_suite_passes_on_postgres() {
    let url = cluster().database().await;
    let dir = tempfile::tempdir().unwrap();
    queue_suite(&agent(dir.path(), &url, &[])).await;
}

#[tokio::test]
async fn a_full_queue_refuses_asynchronous_submissions_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let server = agent(dir.path(), &sqlite(dir.path()), &["--max-queued", "0"]);
    let (status, headers, body) =
        post(&server, &slow(1, "full"), &[("prefer", "respond-async")]).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (429, &json!("queue_full")),
        "{body}"
    );
    assert_eq!(headers["retry-after"], "1");
    // A synchronous workload still runs.
    let (status, _, body) = post(&server, &slow(1, "full"), &[]).await;
    assert_eq!(
        (status, &body["status"]),
        (200, &json!("succeeded")),
        "{body}"
    );
}

#[tokio::test]
async fn workloads_queued_on_one_agent_are_run_by_the_agents_sharing_postgres() {
    let url = cluster().database().await;
    let (one_dir, other_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let one = agent(one_dir.path(), &url, &[]);
    let other = agent(other_dir.path(), &url, &[]);
    let mut ids = Vec::new();
    for n in 0..30 {
        let body = json!({"code": "export default (x) => { const end = Date.now() + 20; while (Date.now() < end) {} return x }", "input": n, "isolation": "wasm"});
        let (status, _, queued) = post(&one, &body, &[("prefer", "respond-async")]).await;
        assert_eq!(status, 202, "{queued}");
        ids.push(queued["id"].as_str().unwrap().to_owned());
    }
    for (n, id) in ids.iter().enumerate() {
        let (status, done) = get(&other, &format!("/v1/workloads/{id}?wait=30")).await;
        assert_eq!(
            (status, &done["status"], &done["output"]),
            (200, &json!("succeeded"), &json!(n)),
            "{done}"
        );
    }
    let ran_on = |server: &TestServer| {
        let url = server.url("");
        async move { common::metric(&url, "vulcan_queue_wait_seconds_count").await }
    };
    let (on_one, on_other) = (ran_on(&one).await, ran_on(&other).await);
    assert_eq!(on_one + on_other, 30.0);
    assert!(
        on_other > 0.0,
        "the other agent claimed nothing ({on_one} on the first)"
    );
}

#[tokio::test]
async fn a_full_agent_on_postgres_queues_synchronous_work_for_the_others_instead_of_429() {
    let url = cluster().database().await;
    let (full_dir, free_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let full = agent(full_dir.path(), &url, &["--max-in-flight", "1"]);
    let _free = agent(free_dir.path(), &url, &[]);
    let requests = (0..4).map(|n| {
        let full = &full;
        async move {
            let (status, _, answer) = post(full, &slow(200, &format!("spill-{n}")), &[]).await;
            (status, answer)
        }
    });
    for (status, answer) in futures_util::future::join_all(requests).await {
        assert_eq!(
            (status, &answer["status"]),
            (200, &json!("succeeded")),
            "{answer}"
        );
    }
    let rejected = common::metric(&full.url(""), "vulcan_workloads_rejected_total").await;
    assert_eq!(rejected, 0.0);
}
