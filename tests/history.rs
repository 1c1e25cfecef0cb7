//! The history through the API on each engine, embedded SQLite and PostgreSQL (a private
//! cluster for this test binary), with the same suite; then what only a shared store must get
//! right: agents reading each other's records at once, migrating once when started together,
//! refusing a schema newer than they know, and failing clearly when the database is not there.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::postgres::cluster;
use common::{TestServer, serve_args, submit};
use prometheus::IntCounter;
use serde_json::{Value, json};
use vulcan::store::{self, StoreLocation};

/// An agent on `store` with only the wasm tier (these tests need no isolate hosts).
fn agent(dir: &Path, store: &str) -> TestServer {
    TestServer::start(serve_args(
        dir,
        &[
            "--store",
            store,
            "--isolate-host-dir",
            "/nonexistent/isolate-host",
        ],
    ))
}

async fn get(server: &TestServer, path: &str) -> (u16, Value) {
    let response = reqwest::get(server.url(path)).await.expect("GET");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

async fn listed(server: &TestServer, query: &str) -> Vec<String> {
    let (status, list) = get(server, &format!("/v1/workloads?{query}")).await;
    assert_eq!(status, 200, "{list}");
    let ids = list.as_array().expect("a list").iter();
    ids.map(|summary| summary["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Runs against a fresh, empty history: what is submitted is listed newest first, filtered,
/// paged, and read back exactly as it was answered.
async fn history_suite(server: &TestServer) {
    let workloads = [
        json!({"code": "export default () => 1", "isolation": "wasm", "tag": "first"}),
        json!({"code": "export default () => { throw new TypeError('no') }", "isolation": "wasm"}),
        json!({"code": "export default (x) => x", "input": {"kept": [1, "two"]}, "isolation": "wasm"}),
        json!({"code": "export default () => { for (;;) {} }", "isolation": "wasm", "fuel": 100000}),
        json!({"code": "// a comment\nexport default () => 'last'", "isolation": "auto"}),
    ];
    let mut answers = Vec::new();
    for workload in workloads {
        let (status, answer) = submit(server, workload).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["recorded"], true, "{answer}");
        answers.push(answer);
    }
    let statuses: Vec<&str> = answers
        .iter()
        .map(|a| a["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "succeeded",
            "error",
            "succeeded",
            "fuel_exhausted",
            "succeeded"
        ]
    );
    let ids: Vec<String> = answers
        .iter()
        .map(|answer| answer["id"].as_str().unwrap().to_owned())
        .collect();
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();

    assert_eq!(listed(server, "").await, newest_first);
    assert_eq!(listed(server, "status=error").await, [ids[1].clone()]);
    assert_eq!(
        listed(server, "status=succeeded").await,
        [ids[4].clone(), ids[2].clone(), ids[0].clone()]
    );
    assert_eq!(listed(server, "backend=wasm").await, newest_first);
    assert!(listed(server, "backend=isolate").await.is_empty());

    let page = listed(server, "limit=2").await;
    assert_eq!(page, newest_first[..2]);
    let page = listed(server, &format!("limit=2&before={}", page[1])).await;
    assert_eq!(page, newest_first[2..4]);
    let page = listed(server, &format!("limit=2&before={}", page[1])).await;
    assert_eq!(page, newest_first[4..]);

    let (_, summaries) = get(server, "/v1/workloads?limit=5").await;
    assert_eq!(summaries[4]["tag"], "first");
    assert_eq!(summaries[0]["code_preview"], "// a comment");

    for answer in &answers {
        let id = answer["id"].as_str().unwrap();
        let (status, record) = get(server, &format!("/v1/workloads/{id}")).await;
        assert_eq!(status, 200, "{record}");
        assert_eq!(&record, answer, "read back as answered");
    }
    let (status, body) = get(server, "/v1/workloads/0190a0a0-0000-7000-8000-000000000000").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn the_history_suite_passes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!(
        "sqlite:{}",
        dir.path().join("elsewhere/history.db").display()
    );
    let server = agent(dir.path(), &store);
    history_suite(&server).await;
    assert!(dir.path().join("elsewhere/history.db").exists());
}

#[tokio::test]
async fn the_history_suite_passes_on_postgres() {
    let url = cluster().database().await;
    let dir = tempfile::tempdir().unwrap();
    history_suite(&agent(dir.path(), &url)).await;
}

#[tokio::test]
async fn agents_on_one_postgres_read_each_others_records_at_once() {
    let url = cluster().database().await;
    let (one_dir, other_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let one = agent(one_dir.path(), &url);
    let other = agent(other_dir.path(), &url);
    for n in 0..20 {
        let (from, to) = if n % 2 == 0 {
            (&one, &other)
        } else {
            (&other, &one)
        };
        let body = json!({"code": "export default (x) => x", "input": n, "isolation": "wasm"});
        let (status, answer) = submit(from, body).await;
        assert_eq!(status, 200, "{answer}");
        let id = answer["id"].as_str().unwrap();
        let (status, record) = get(to, &format!("/v1/workloads/{id}")).await;
        assert_eq!(
            status, 200,
            "workload {n} not yet on the other agent: {record}"
        );
        assert_eq!(record["output"], n);
    }
    assert_eq!(
        listed(&one, "limit=100").await,
        listed(&other, "limit=100").await
    );
    assert_eq!(listed(&one, "limit=100").await.len(), 20);
}

fn errors() -> IntCounter {
    IntCounter::new("errors", "history write errors").unwrap()
}

#[tokio::test]
async fn agents_starting_together_migrate_the_schema_once() {
    let url = cluster().database().await;
    let location: StoreLocation = url.parse().unwrap();
    let starts = (0..4).map(|_| store::open(&location, 100, errors()));
    for opened in futures_util::future::join_all(starts).await {
        assert!(opened.is_ok(), "{:?}", opened.err());
    }
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let versions: Vec<i64> = client
        .query("SELECT version FROM vulcan_schema ORDER BY version", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let expected: Vec<i64> = (1..=versions.len() as i64).collect();
    assert!(!versions.is_empty());
    assert_eq!(versions, expected, "each migration applied once");
}

#[tokio::test]
async fn a_schema_newer_than_the_agent_knows_is_refused() {
    let url = cluster().database().await;
    let location: StoreLocation = url.parse().unwrap();
    store::open(&location, 100, errors()).await.unwrap();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute("INSERT INTO vulcan_schema (version) VALUES (1000)")
        .await
        .unwrap();
    match store::open(&location, 100, errors()).await {
        Ok(_) => panic!("an agent opened a schema newer than it knows"),
        Err(err) => {
            let message = err.to_string();
            assert!(
                message.contains("version 1000, newer than this agent knows"),
                "{message}"
            );
        }
    }
}

#[tokio::test]
async fn an_unreachable_database_fails_the_start_clearly_and_soon() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let location: StoreLocation = format!("postgres://postgres@127.0.0.1:{port}/vulcan")
        .parse()
        .unwrap();
    let started = Instant::now();
    match store::open(&location, 100, errors()).await {
        Ok(_) => panic!("opened a database nobody serves"),
        Err(err) => {
            let message = err.to_string();
            assert!(message.contains("PostgreSQL"), "{message}");
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
