//! `/v1/policy`, `/v1/route` with an inline policy, and tags, against the fake (wasm-only)
//! tier.

use axum::http::StatusCode;
use serde_json::json;

use super::{call, create, state};

#[tokio::test]
async fn the_installed_policy_is_read_and_replaced_by_name_or_inline() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), None, 4);
    let (status, body) = call(&state, "GET", "/v1/policy", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["installed"]["policy"]["name"], "isolate-first");
    assert_eq!(body["installed"]["source"], "built-in");
    assert_eq!(body["built_in"][1]["fallback"], json!(["wasm", "isolate"]));

    let (status, body) = call(&state, "PUT", "/v1/policy", Some(json!("wasm-first"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, backends) = call(&state, "GET", "/v1/backends", None).await;
    assert_eq!(backends["policy"], "wasm-first");

    let mine = json!({"name": "mine", "fallback": ["wasm"],
        "rules": [{"name": "tagged", "when": {"tag": "t"}, "tiers": ["wasm"]}]});
    let (status, body) = call(&state, "PUT", "/v1/policy", Some(mine.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["installed"]["source"], "api");
    assert_eq!(body["installed"]["policy"], mine);
    let (_, record) = create(&state, json!({"code": "x", "tag": "t"})).await;
    assert_eq!(
        record["route_reason"],
        "policy mine: rule \"tagged\": wasm is preferred"
    );
    assert_eq!(record["tag"], "t");
    let (_, history) = call(&state, "GET", "/v1/workloads", None).await;
    assert_eq!(history[0]["tag"], "t");
}

#[tokio::test]
async fn an_invalid_policy_is_400_and_the_installed_one_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), None, 4);
    for (body, code, message) in [
        (
            json!({"name": "p", "fallback": []}),
            "invalid_policy",
            "invalid policy: fallback must name at least one tier",
        ),
        (
            json!("fastest"),
            "invalid_policy",
            "invalid policy: no built-in policy \"fastest\"; built-in policies are isolate-first, wasm-first",
        ),
    ] {
        let (status, answer) = call(&state, "PUT", "/v1/policy", Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["error"]["code"], code);
        assert_eq!(answer["error"]["message"], message);
    }
    let (status, answer) = call(
        &state,
        "PUT",
        "/v1/policy",
        Some(json!({"name": "p", "fallback": ["wasm"], "rules": [{"tiers": ["wasm"], "if": {}}]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("unknown field `if`"), "{message}");
    let (_, current) = call(&state, "GET", "/v1/policy", None).await;
    assert_eq!(current["installed"]["policy"]["name"], "isolate-first");
}

#[tokio::test]
async fn route_tries_an_inline_policy_on_a_workloads_features() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), None, 4);
    let policy = json!({"name": "by-size", "fallback": ["wasm"],
        "rules": [{"name": "big", "when": {"code_bytes": {"min": 10}}, "tiers": ["isolate", "wasm"]}]});
    let (status, small) = call(
        &state,
        "POST",
        "/v1/route",
        Some(json!({"code": "x", "policy": policy})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{small}");
    assert_eq!(
        small["reason"],
        "policy by-size: fallback: wasm is preferred"
    );
    let (_, big) = call(
        &state,
        "POST",
        "/v1/route",
        Some(json!({"code_bytes": 10, "policy": policy})),
    )
    .await;
    assert_eq!(big["backend"], "wasm");
    assert_eq!(
        big["reason"],
        "policy by-size: rule \"big\": isolate is not configured on this agent; fell back to wasm"
    );
    let (status, both) = call(
        &state,
        "POST",
        "/v1/route",
        Some(json!({"code": "x", "code_bytes": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        both["error"]["message"],
        "give code or code_bytes, not both"
    );
}

#[tokio::test]
async fn a_malformed_tag_is_400() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(dir.path(), None, 4);
    let (status, body) = create(&state, json!({"code": "x", "tag": "no/slashes"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"]["message"],
        "tag must be 1 to 64 letters, digits, spaces, '.', '_' or '-', got \"no/slashes\""
    );
}
