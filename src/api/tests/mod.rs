//! The API layer alone, against a fake tier: one test per status code a handler can answer.
//! (The real tiers are exercised over real sockets in `tests/`.)

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use clap::Parser;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tower::ServiceExt;

use super::{AppState, router};
use crate::access::metrics::AccessMetrics;
use crate::access::{Access, AuthMode};
use crate::admission::Admission;
use crate::backend::{
    Backend, BackendKind, Capabilities, Health, Language, LimitRange, Outcome, Status, Workload,
};
use crate::config::Cli;
use crate::connections::BodyTimeout;
use crate::error::Result;
use crate::metrics::Metrics;
use crate::policy::PolicySlot;
use crate::store::Store;
use crate::store::sqlite::SqliteStore;
use crate::workloads::{QueueSettings, WebhookSettings, Workloads};

mod policy;
mod record_json;

/// Echoes its input, after waiting for a permit when `gate` is set.
struct FakeBackend {
    gate: Option<Arc<Semaphore>>,
}

#[async_trait]
impl Backend for FakeBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Wasm
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            languages: vec![Language::Javascript],
            meters_fuel: true,
            timeout_ms: LimitRange {
                min: 1,
                default: 100,
                max: 1000,
            },
            memory_mb: LimitRange {
                min: 8,
                default: 64,
                max: 128,
            },
            fuel_max: Some(1000),
            features: vec![],
            unmetered_without_fuel: false,
        }
    }

    fn health(&self) -> Health {
        Health {
            healthy: true,
            detail: "fake".into(),
        }
    }

    async fn execute(&self, workload: Workload) -> Result<Outcome> {
        if let Some(gate) = &self.gate {
            let _permit = gate.acquire().await.expect("gate open");
        }
        Ok(Outcome {
            status: Status::Succeeded,
            output: Some(workload.input),
            error: None,
            logs: vec![],
            logs_truncated: false,
            duration_ms: 0.1,
            cpu_ms: None,
            metadata: None,
        })
    }

    async fn shutdown(&self) {}
}

fn state(dir: &std::path::Path, gate: Option<Arc<Semaphore>>, max_in_flight: usize) -> AppState {
    // The fake tier's defaults are the agent's, as every real tier's are.
    let limits = Cli::parse_from(["vulcan", "--max-code-bytes", "100", "--timeout-ms", "100"])
        .serve
        .limits;
    let metrics = Metrics::new();
    let errors = metrics.history_write_errors.clone();
    let history: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.join("vulcan.db"), 100, errors).unwrap());
    let serve = Cli::parse_from(["vulcan"]).serve;
    let access = Access::new(
        AuthMode::Off,
        Arc::clone(&history),
        serve.default_quotas(),
        AccessMetrics::new(metrics.registry(), vec![]),
        None,
    );
    AppState {
        access: Arc::new(access),
        workloads: Workloads {
            backends: vec![Arc::new(FakeBackend { gate }) as Arc<dyn Backend>].into(),
            history,
            metrics: Arc::new(metrics),
            limits: Arc::new(limits),
            webhooks: WebhookSettings::new(&[], None).unwrap(),
            queue: QueueSettings {
                owner: "test-agent".into(),
                lease: std::time::Duration::from_secs(10),
                max_attempts: 3,
                max_queued: 100,
                concurrency: 2,
            },
        },
        admission: Admission::new(max_in_flight),
        policy: Arc::new(PolicySlot::from_arg("isolate-first").unwrap()),
        web_dir: dir.join("web").into(),
        calibration: Arc::default(),
        draining: Arc::new(tokio::sync::watch::channel(false).0),
    }
}

async fn call(
    state: &AppState,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let request = Request::builder().method(method).uri(uri);
    let request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn create(state: &AppState, body: Value) -> (StatusCode, Value) {
    call(state, "POST", "/v1/workloads", Some(body)).await
}

#[tokio::test]
async fn create_is_200_with_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), None, 4);
    let (status, body) = create(&state, json!({"code": "x", "input": [1]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["output"], json!([1]));
    assert_eq!(body["limits"]["timeout_ms"], 100);
    assert_eq!(body["recorded"], true);
}

#[tokio::test]
async fn out_of_range_limit_is_400() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), None, 4);
    let (status, body) = create(&state, json!({"code": "x", "memory_mb": 4})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"]["message"],
        "memory_mb must be between 8 and 128, got 4"
    );
}

#[tokio::test]
async fn code_over_its_cap_is_413() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), None, 4);
    let (status, body) = create(&state, json!({"code": "x".repeat(101)})).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        body["error"]["message"],
        "code is 101 bytes, over the limit of 100"
    );
}

#[tokio::test]
async fn a_body_past_its_deadline_is_408() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), None, 4);
    // What the connection's deadline makes of a body still arriving when it passes.
    let late: [Result<http_body::Frame<bytes::Bytes>, BodyTimeout>; 2] = [
        Ok(http_body::Frame::data(bytes::Bytes::from_static(
            b"{\"code\": ",
        ))),
        Err(BodyTimeout { timeout_ms: 30_000 }),
    ];
    let body = http_body_util::StreamBody::new(futures_util::stream::iter(late));
    let request = Request::post("/v1/workloads")
        .header("content-type", "application/json")
        .body(Body::new(body))
        .unwrap();
    let response = router(state).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["error"]["code"], "request_timeout");
    assert_eq!(
        body["error"]["message"],
        "the request body did not arrive within 30000 ms"
    );
}

#[tokio::test]
async fn unknown_tier_language_is_503() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), None, 4);
    let request = json!({"code": "x", "language": "typescript", "isolation": "wasm"});
    let (status, body) = create(&state, request).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body["error"]["message"],
        "the wasm tier does not accept typescript"
    );
}

#[tokio::test]
async fn full_admission_is_429_and_frees_up_after() {
    let dir = tempfile::tempdir().unwrap();
    let gate = Arc::new(Semaphore::new(0));
    let state = state(dir.path(), Some(Arc::clone(&gate)), 1);
    let blocked = tokio::spawn({
        let state = state.clone();
        async move { create(&state, json!({"code": "x"})).await }
    });
    while state.admission.in_flight() == 0 {
        tokio::task::yield_now().await;
    }
    let (status, body) = create(&state, json!({"code": "x"})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"]["code"], "overloaded");
    gate.add_permits(1);
    assert_eq!(blocked.await.unwrap().0, StatusCode::OK);
    gate.add_permits(1);
    let (status, _) = create(&state, json!({"code": "x"})).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_id_is_404_and_method_mismatch_is_405() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), None, 4);
    let (status, body) = call(&state, "GET", "/v1/workloads/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    let (status, body) = call(&state, "DELETE", "/v1/workloads", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn a_failed_history_write_still_answers_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), None, 4);
    state.workloads.history.close();
    let (status, body) = create(&state, json!({"code": "x", "input": 7})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["output"], 7);
    assert_eq!(body["recorded"], false);
    assert!(
        state
            .workloads
            .metrics
            .render()
            .contains("vulcan_history_write_errors_total 1")
    );
}

#[tokio::test]
async fn web_page_is_503_until_built_then_served_with_its_assets() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), None, 4);
    let (status, body) = call(&state, "GET", "/", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "web_not_built");

    std::fs::create_dir_all(dir.path().join("web/assets")).unwrap();
    std::fs::write(dir.path().join("web/index.html"), "<!doctype html>").unwrap();
    std::fs::write(dir.path().join("web/assets/app-1.js"), "export {}").unwrap();
    std::fs::write(dir.path().join("secret"), "no").unwrap();
    let get = |uri: &str| {
        let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
        router(state.clone()).oneshot(request)
    };
    let page = get("/").await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers().contains_key("content-security-policy"));
    let script = get("/assets/app-1.js").await.unwrap();
    assert_eq!(script.status(), StatusCode::OK);
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    for outside in [
        "/assets/..%2F..%2Fsecret",
        "/assets/../secret",
        "/assets/missing.js",
    ] {
        let response = get(outside).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{outside}");
    }
}

#[tokio::test]
async fn a_body_that_is_an_array_of_the_fields_is_400() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), None, 4);
    let (status, body) = create(&state, json!(["x", "javascript", [1], "wasm"])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("invalid type: sequence, expected an object"),
        "{message}"
    );
}

#[tokio::test]
async fn a_draining_agent_is_503_on_healthz_and_still_runs_workloads() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), None, 4);
    let (status, body) = call(&state, "GET", "/healthz", None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    state.draining.send_replace(true);
    let (status, body) = call(&state, "GET", "/healthz", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "draining");
    let workload = json!({"code": "export default (x) => x", "input": 5});
    let (status, body) = call(&state, "POST", "/v1/workloads", Some(workload)).await;
    assert_eq!((status, &body["output"]), (StatusCode::OK, &json!(5)));
}

#[tokio::test]
async fn a_limits_experiment_refuses_a_workload_that_could_not_be_submitted() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), None, 4);
    for field in ["timeout_ms", "fuel"] {
        let mut workload = json!({"code": "export default () => 1"});
        workload[field] = json!(0);
        let experiment = json!({"workload": workload, "fuel": 10, "timeout_ms": 50, "runs": 1});
        let (status, body) = call(&state, "POST", "/v1/experiments/limits", Some(experiment)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(field),
            "{body}"
        );
    }
}
