//! The HTTP API over a real socket: every client error path gets its status and a JSON
//! `{error: {code, message}}` body; history, backends, OpenAPI and metrics are served.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{TestServer, serve_args, shared, submit};
use serde_json::{Value, json};

async fn post_raw(
    server: &TestServer,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(server.url(path))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON error body"))
}

/// Posts a JSON body of `bytes` spaces to `/v1/workloads` while reading the answer. The agent
/// answers 413 once the body passes its limit and closes the connection with the rest unread:
/// a client that insists on writing it all first (reqwest) may then see its write fail
/// instead of the answer, so the body is written in a task of its own whose errors are
/// expected, and the answer is read meanwhile.
async fn post_oversized(server: &TestServer, bytes: usize) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let stream = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST /v1/workloads HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: {bytes}\r\n\r\n",
        server.addr
    );
    let sending = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        writer.write_all(&vec![b' '; bytes]).await
    });
    let mut answer = Vec::new();
    reader.read_to_end(&mut answer).await.expect("the answer");
    sending.abort();
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete answer");
    let status = head
        .split(' ')
        .nth(1)
        .expect("a status line")
        .parse()
        .unwrap();
    (
        status,
        serde_json::from_str(body).expect("a JSON error body"),
    )
}

async fn get(server: &TestServer, path: &str) -> (u16, Value) {
    let response = reqwest::get(server.url(path)).await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

async fn metrics_text(server: &TestServer) -> String {
    let response = reqwest::get(server.url("/metrics")).await.expect("request");
    response.text().await.expect("metrics text")
}

fn assert_error(status: u16, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"]["code"], want_code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn malformed_json_is_400_invalid_json() {
    let (status, body) = post_raw(
        shared(),
        "/v1/workloads",
        "application/json",
        b"{\"code\": ".to_vec(),
    )
    .await;
    assert_error(status, &body, 400, "invalid_json");
}

#[tokio::test]
async fn non_utf8_body_is_400() {
    let (status, body) = post_raw(
        shared(),
        "/v1/workloads",
        "application/json",
        vec![0xff, 0xfe, 0x7b],
    )
    .await;
    assert_error(status, &body, 400, "invalid_json");
}

#[tokio::test]
async fn wrong_types_unknown_fields_and_unknown_values_are_400() {
    for bad in [
        json!({"code": 42}),
        json!({"code": "export default () => 1", "surprise": true}),
        json!({"code": "export default () => 1", "isolation": "docker"}),
        json!({"code": "export default () => 1", "language": "python"}),
        json!({"code": "export default () => 1", "timeout_ms": -5}),
        json!({"input": 1}),
    ] {
        let (status, body) = submit(shared(), bad.clone()).await;
        assert_error(status, &body, 400, "invalid_request");
    }
}

#[tokio::test]
async fn out_of_range_limits_are_400_with_the_range() {
    for (field, value) in [
        ("timeout_ms", 0u64),
        ("timeout_ms", 10_000_000),
        ("memory_mb", 100_000),
        ("fuel", 0),
    ] {
        let mut request = json!({"code": "export default () => 1", "isolation": "wasm"});
        request[field] = json!(value);
        let (status, body) = submit(shared(), request).await;
        assert_error(status, &body, 400, "invalid_request");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(field),
            "{body}"
        );
    }
}

#[tokio::test]
async fn missing_content_type_is_415() {
    let (status, body) = post_raw(shared(), "/v1/workloads", "text/plain", b"{}".to_vec()).await;
    assert_error(status, &body, 415, "unsupported_media_type");
}

#[tokio::test]
async fn oversized_body_and_oversized_code_are_413() {
    let server = shared();
    let (status, body) = post_oversized(server, 8 << 20).await;
    assert_error(status, &body, 413, "payload_too_large");

    let code = format!("export default () => 1; //{}", "x".repeat(1 << 20));
    let (status, body) = submit(server, json!({"code": code})).await;
    assert_error(status, &body, 413, "payload_too_large");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("code"),
        "{body}"
    );
}

/// A server whose isolate tier cannot start (no host program where it is looked for).
fn broken_isolate() -> &'static TestServer {
    static SERVER: std::sync::OnceLock<(TestServer, tempfile::TempDir)> =
        std::sync::OnceLock::new();
    let (server, _dir) = SERVER.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let args = serve_args(
            dir.path(),
            &["--isolate-host-dir", "/nonexistent/isolate-host"],
        );
        (TestServer::start(args), dir)
    });
    server
}

#[tokio::test]
async fn isolate_tier_that_cannot_start_is_503_with_the_reason() {
    let (status, body) = submit(
        broken_isolate(),
        json!({"code": "export default () => 1", "isolation": "isolate"}),
    )
    .await;
    assert_error(status, &body, 503, "tier_unavailable");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("/nonexistent/isolate-host"), "{message}");
}

#[tokio::test]
async fn fuel_asked_of_the_isolate_tier_is_400() {
    let (status, body) = submit(
        shared(),
        json!({"code": "export default () => 1", "isolation": "isolate", "fuel": 10}),
    )
    .await;
    assert_error(status, &body, 400, "invalid_request");
}

#[tokio::test]
async fn auto_falls_back_to_wasm_and_records_why() {
    let (status, body) = submit(
        broken_isolate(),
        json!({"code": "export default () => 'hi'"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["backend"], "wasm");
    assert_eq!(body["output"], "hi");
    let reason = body["route_reason"].as_str().unwrap();
    assert!(
        reason.starts_with("policy isolate-first: isolate is unavailable: isolate host directory")
            && reason.ends_with("; fell back to wasm"),
        "{reason}"
    );
}

#[tokio::test]
async fn route_preview_answers_without_running() {
    let (status, body) = post_raw(
        shared(),
        "/v1/route",
        "application/json",
        br#"{"fuel": 5}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["backend"], "wasm");
    let (status, body) = post_raw(
        shared(),
        "/v1/route",
        "application/json",
        br#"{"isolation": "isolate"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["backend"], "isolate");
    // The same fuel range as a workload (found by schemathesis: 0 and 2^63 were previewed).
    for fuel in ["0", "9223372036854775808"] {
        let request = format!(r#"{{"fuel": {fuel}}}"#).into_bytes();
        let (status, body) = post_raw(shared(), "/v1/route", "application/json", request).await;
        assert_error(status, &body, 400, "invalid_request");
    }
    let (status, body) = post_raw(
        broken_isolate(),
        "/v1/route",
        "application/json",
        br#"{"isolation": "isolate"}"#.to_vec(),
    )
    .await;
    assert_error(status, &body, 503, "tier_unavailable");
}

#[tokio::test]
async fn unknown_workload_and_unknown_route_are_404() {
    let (status, body) = get(
        shared(),
        "/v1/workloads/00000000-0000-0000-0000-000000000000",
    )
    .await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = get(shared(), "/v2/nothing").await;
    assert_error(status, &body, 404, "not_found");
}

#[tokio::test]
async fn history_lists_newest_first_filters_and_returns_full_records() {
    let server = shared();
    let (_, first) = submit(
        server,
        json!({"code": "export default () => 1", "isolation": "wasm"}),
    )
    .await;
    let (_, second) = submit(
        server,
        json!({"code": "export default () => { throw new Error('x') }", "isolation": "wasm"}),
    )
    .await;

    let (status, list) = get(server, "/v1/workloads?limit=500").await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let first_at = ids
        .iter()
        .position(|id| *id == first["id"])
        .expect("first listed");
    let second_at = ids
        .iter()
        .position(|id| *id == second["id"])
        .expect("second listed");
    assert!(second_at < first_at, "newest first");

    let (_, errors) = get(server, "/v1/workloads?status=error&backend=wasm").await;
    assert!(
        errors
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "error")
    );
    assert!(
        errors
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == second["id"])
    );

    let (status, record) = get(
        server,
        &format!("/v1/workloads/{}", first["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(record["code"], "export default () => 1");
    assert_eq!(record["output"], 1);

    let (status, body) = get(server, "/v1/workloads?limit=0").await;
    assert_error(status, &body, 400, "invalid_request");
    let (status, body) = get(server, "/v1/workloads?status=nope").await;
    assert_error(status, &body, 400, "invalid_query");
}

#[tokio::test]
async fn backends_describe_both_tiers_with_limits() {
    let (status, body) = get(shared(), "/v1/backends").await;
    assert_eq!(status, 200);
    assert_eq!(body["policy"], "isolate-first");
    let backends = body["backends"].as_array().unwrap();
    let wasm = backends.iter().find(|b| b["kind"] == "wasm").unwrap();
    assert_eq!(wasm["available"], true);
    assert_eq!(wasm["capabilities"]["meters_fuel"], true);
    assert_eq!(wasm["capabilities"]["unmetered_without_fuel"], true);
    assert_eq!(wasm["capabilities"]["timeout_ms"]["default"], 2000);
    let isolate = backends.iter().find(|b| b["kind"] == "isolate").unwrap();
    assert_eq!(isolate["available"], true, "{isolate}");
    assert_eq!(isolate["capabilities"]["meters_fuel"], false);
    assert_eq!(isolate["capabilities"]["unmetered_without_fuel"], false);
    assert!(isolate["capabilities"].get("fuel_max").is_none());

    let (_, body) = get(broken_isolate(), "/v1/backends").await;
    let backends = body["backends"].as_array().unwrap();
    let isolate = backends.iter().find(|b| b["kind"] == "isolate").unwrap();
    assert_eq!(isolate["available"], false);
    let detail = isolate["health"]["detail"].as_str().unwrap();
    assert!(detail.contains("/nonexistent/isolate-host"), "{detail}");
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let (status, spec) = get(shared(), "/openapi.json").await;
    assert_eq!(status, 200);
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/workloads",
        "/v1/workloads/{id}",
        "/v1/backends",
        "/v1/route",
        "/healthz",
        "/metrics",
    ] {
        assert!(
            spec["paths"].get(path).is_some(),
            "{path} missing from the spec"
        );
    }
}

#[tokio::test]
async fn metrics_pass_promtool_and_count_workloads() {
    let server = shared();
    for tier in ["wasm", "isolate"] {
        let (status, _) = submit(
            server,
            json!({"code": "export default () => 1", "isolation": tier}),
        )
        .await;
        assert_eq!(status, 200);
    }
    let text = metrics_text(server).await;
    for name in [
        "vulcan_workloads_total{backend=\"wasm\",status=\"succeeded\"}",
        "vulcan_workload_duration_seconds_bucket",
        "vulcan_wasm_fuel_consumed_bucket",
        "vulcan_wasm_instantiate_seconds_bucket",
        "vulcan_backend_up{backend=\"wasm\"} 1",
        "vulcan_workloads_total{backend=\"isolate\",status=\"succeeded\"}",
        "vulcan_backend_up{backend=\"isolate\"} 1",
        "vulcan_isolate_hosts ",
        "vulcan_isolate_warm_workers ",
        "vulcan_isolate_host_starts_total{result=\"ok\"}",
        "vulcan_isolate_host_retirements_total{reason=\"poisoned\"}",
        "vulcan_isolate_worker_create_seconds_bucket",
        "vulcan_http_requests_total{method=\"POST\",route=\"/v1/workloads\",status=\"200\"}",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(
            "promtool must be installed (Debian package `prometheus`; `make setup` installs it)",
        );
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let result = promtool.wait_with_output().unwrap();
    assert!(
        result.status.success(),
        "promtool rejected the exposition: {}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
}

#[tokio::test]
async fn healthz_is_ok_with_a_healthy_tier() {
    let (status, body) = get(shared(), "/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn history_survives_a_restart() {
    shared(); // compile and cache the guest once before a second server starts
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(serve_args(dir.path(), &[]));
    let (status, answer) = submit(
        &server,
        json!({"code": "export default (x) => x", "input": "kept", "isolation": "wasm"}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    server.stop();

    let restarted = TestServer::start(serve_args(dir.path(), &[]));
    let (status, record) = get(
        &restarted,
        &format!("/v1/workloads/{}", answer["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["output"], "kept");
    assert_eq!(record["status"], "succeeded");
}

#[tokio::test]
async fn overload_is_429_with_retry_after() {
    shared();
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(serve_args(dir.path(), &["--max-in-flight", "1"]));
    let busy = {
        let url = server.url("/v1/workloads");
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let body = json!({"code": "export default () => { while (true) {} }", "isolation": "wasm", "timeout_ms": 5000});
            // The queue runner holds a place while it polls the (empty) queue, so even this
            // first request can be refused: it is sent again until it gets the place.
            loop {
                let response = http.post(&url).json(&body).send().await.unwrap();
                if response.status() != 429 {
                    return response.json::<Value>().await.unwrap();
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        })
    };
    // Wait for the signal that the busy workload holds the only place.
    loop {
        let text = metrics_text(&server).await;
        if text
            .lines()
            .any(|line| line == "vulcan_workloads_in_flight 1")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let response = reqwest::Client::new()
        .post(server.url("/v1/workloads"))
        .json(&json!({"code": "export default () => 1", "isolation": "wasm"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "overloaded");
    assert_eq!(busy.await.unwrap()["status"], "timeout");
}
