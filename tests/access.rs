//! Access control on a real agent process (`--auth required`), its SQLite store, and keys
//! made by `vulcan keys create` as an operator would: every route against no key, a wrong,
//! revoked or expired key and each scope; tenants' histories apart; keys stored only as
//! hashes; rate, in-flight and limit quotas; the refusal to listen beyond loopback without
//! access control. On PostgreSQL, two agents: a key revoked on one is refused by the other
//! within a second.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::agent::Agent;
use common::postgres::cluster;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const TRIVIAL: &str = "export default () => 1";

/// What a route needs of its caller.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Need {
    Open,
    Key,
    Run,
    Read,
    Admin,
}

impl Need {
    fn allows(self, scope: &str) -> bool {
        match self {
            Need::Open | Need::Key => true,
            Need::Run => matches!(scope, "run" | "admin"),
            Need::Read => matches!(scope, "read" | "admin"),
            Need::Admin => scope == "admin",
        }
    }
}

/// `vulcan keys create` on the agent's store: the key it prints.
fn create_key(store: &[&str], tenant: &str, scopes: &str, extra: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_vulcan"))
        .args(["keys", "create", "--tenant", tenant, "--scopes", scopes])
        .args(store)
        .args(extra)
        .stderr(Stdio::inherit())
        .output()
        .expect("vulcan keys create");
    assert!(output.status.success(), "vulcan keys create failed");
    let key = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(key.starts_with("vk_"), "{key}");
    key
}

fn vulcan(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vulcan"))
        .args(args)
        .output()
        .expect("vulcan")
}

fn data_dir_args(dir: &Path) -> Vec<String> {
    vec!["--data-dir".into(), dir.display().to_string()]
}

fn start(dir: &Path, extra: &[&str]) -> Agent {
    let mut args = vec!["--auth", "required", "--isolate-hosts", "1"];
    args.extend_from_slice(extra);
    Agent::start(dir, &args)
}

async fn call(
    agent: &Agent,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new().request(method, agent.url(path));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("a request to the agent")
}

async fn run(agent: &Agent, key: &str, body: Value) -> (StatusCode, Value) {
    let answer = call(agent, Method::POST, "/v1/workloads", Some(key), Some(body)).await;
    (answer.status(), answer.json().await.unwrap())
}

fn wasm(code: &str) -> Value {
    json!({"code": code, "isolation": "wasm"})
}

#[tokio::test]
async fn every_route_refuses_what_the_key_may_not_do() {
    let dir = tempfile::tempdir().unwrap();
    let store = data_dir_args(dir.path());
    let store: Vec<&str> = store.iter().map(String::as_str).collect();
    let expired = create_key(&store, "a", "run,read,admin", &["--expires", "1s"]);
    let created = Instant::now();
    let run_key = create_key(&store, "a", "run", &[]);
    let read_key = create_key(&store, "a", "read", &[]);
    let admin = create_key(&store, "ops", "admin", &[]);
    let revoked = create_key(&store, "a", "run,read,admin", &[]);
    let revoked_id = &revoked[3..15];
    assert!(
        vulcan(&["keys", "revoke", revoked_id, store[0], store[1]])
            .status
            .success()
    );
    let agent = start(dir.path(), &["--metrics-token", "scrape-me"]);
    agent
        .wait_until_every_tier_is_available_to(Some(&admin))
        .await;
    let scraped = call(&agent, Method::GET, "/metrics", Some("scrape-me"), None).await;
    assert_eq!(scraped.status(), 200, "the metrics token reads /metrics");
    let scraped = call(&agent, Method::GET, "/v1/whoami", Some("scrape-me"), None).await;
    assert_eq!(scraped.status(), 401, "and nothing else");
    let (status, workload) = run(&agent, &admin, wasm(TRIVIAL)).await;
    assert_eq!(status, 200, "{workload}");
    let workload_path = format!("/v1/workloads/{}", workload["id"].as_str().unwrap());

    use Need::{Admin, Key, Open, Read, Run};
    let routes = [
        (Method::GET, "/healthz", None, Open),
        (Method::GET, "/openapi.json", None, Open),
        (Method::GET, "/", None, Open),
        (Method::GET, "/metrics", None, Admin),
        (Method::POST, "/v1/workloads", Some(wasm(TRIVIAL)), Run),
        (
            Method::POST,
            "/v1/route",
            Some(json!({"code": TRIVIAL})),
            Run,
        ),
        (Method::GET, "/v1/workloads", None, Read),
        (Method::GET, &workload_path, None, Read),
        (Method::GET, "/v1/usage", None, Read),
        (Method::GET, "/v1/backends", None, Key),
        (Method::GET, "/v1/policy", None, Key),
        (Method::GET, "/v1/whoami", None, Key),
        (
            Method::PUT,
            "/v1/policy",
            Some(json!("isolate-first")),
            Admin,
        ),
        (
            Method::POST,
            "/v1/experiments/routing",
            Some(json!({})),
            Admin,
        ),
        (
            Method::POST,
            "/v1/experiments/limits",
            Some(json!({})),
            Admin,
        ),
        (
            Method::POST,
            "/v1/calibrate",
            Some(json!({"unknown": 1})),
            Admin,
        ),
        (Method::GET, "/v1/keys", None, Admin),
        (
            Method::POST,
            "/v1/keys",
            Some(json!({"tenant": "Bad!"})),
            Admin,
        ),
        (Method::DELETE, "/v1/keys/000000000000", None, Admin),
        (Method::GET, "/v1/tenants", None, Admin),
        (
            Method::PUT,
            "/v1/tenants/b",
            Some(json!({"burst": 0})),
            Admin,
        ),
    ];
    // Expiry is a time, not an event: wait it out.
    let left = Duration::from_millis(1_100).saturating_sub(created.elapsed());
    tokio::time::sleep(left).await;
    let wrong = "vk_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let forged = format!("{}x", &run_key[..run_key.len() - 1]);
    for (method, path, body, need) in &routes {
        let refused_keys = [
            ("no key", None),
            ("a wrong key", Some(wrong)),
            ("a forged secret", Some(forged.as_str())),
            ("garbage", Some("hello")),
            ("a revoked key", Some(revoked.as_str())),
            ("an expired key", Some(expired.as_str())),
        ];
        for (what, key) in refused_keys {
            let answer = call(&agent, method.clone(), path, key, body.clone()).await;
            let status = answer.status();
            if *need == Open {
                assert!(status.is_success(), "{method} {path} with {what}: {status}");
                continue;
            }
            assert_eq!(status, 401, "{method} {path} with {what}");
            let challenge = answer.headers()["www-authenticate"].to_str().unwrap();
            assert!(challenge.starts_with("Bearer"), "{challenge}");
            let body: Value = answer.json().await.unwrap();
            assert_eq!(
                body["error"]["code"], "unauthenticated",
                "{method} {path} {what}"
            );
        }
        for (scope, key) in [("run", &run_key), ("read", &read_key), ("admin", &admin)] {
            let answer = call(&agent, method.clone(), path, Some(key), body.clone()).await;
            let status = answer.status();
            let allowed = need.allows(scope);
            if allowed {
                assert!(
                    status != 401 && status != 403,
                    "{method} {path} with a {scope} key: {status}"
                );
            } else {
                assert_eq!(status, 403, "{method} {path} with a {scope} key");
                let body: Value = answer.json().await.unwrap();
                assert_eq!(body["error"]["code"], "forbidden");
            }
        }
    }
    let metrics = call(&agent, Method::GET, "/metrics", Some(&admin), None)
        .await
        .text()
        .await
        .unwrap();
    for reason in ["unauthenticated", "forbidden"] {
        let counted = metrics.lines().any(|line| {
            line.starts_with(&format!(
                "vulcan_requests_refused_total{{reason=\"{reason}\"}}"
            ))
        });
        assert!(counted, "refusals by {reason} are counted:\n{metrics}");
    }
}

#[tokio::test]
async fn another_tenants_workload_is_not_found_and_each_sees_only_its_own_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = data_dir_args(dir.path());
    let store: Vec<&str> = store.iter().map(String::as_str).collect();
    let alice = create_key(&store, "alice", "run,read", &[]);
    let bob = create_key(&store, "bob", "run,read", &[]);
    let admin = create_key(&store, "ops", "admin", &[]);
    let agent = start(dir.path(), &[]);
    agent
        .wait_until_every_tier_is_available_to(Some(&alice))
        .await;

    let (_, alices) = run(&agent, &alice, wasm("export default () => 'alice'")).await;
    let (_, bobs) = run(&agent, &bob, wasm("export default () => 'bob'")).await;
    assert_eq!(alices["tenant"], "alice");
    assert_eq!(alices["key_id"], &alice[3..15]);
    let alices_path = format!("/v1/workloads/{}", alices["id"].as_str().unwrap());
    let as_bob = call(&agent, Method::GET, &alices_path, Some(&bob), None).await;
    assert_eq!(
        as_bob.status(),
        404,
        "never 403: ids do not tell what exists"
    );
    let as_alice = call(&agent, Method::GET, &alices_path, Some(&alice), None).await;
    assert_eq!(as_alice.status(), 200);
    let as_admin = call(&agent, Method::GET, &alices_path, Some(&admin), None).await;
    assert_eq!(as_admin.status(), 200, "admin reads every tenant's history");

    let ids = |answer: Value| -> Vec<String> {
        answer
            .as_array()
            .unwrap()
            .iter()
            .map(|summary| summary["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let list = |key: String| {
        let agent = &agent;
        async move {
            let answer = call(agent, Method::GET, "/v1/workloads", Some(&key), None).await;
            ids(answer.json().await.unwrap())
        }
    };
    assert_eq!(list(alice.clone()).await, [alices["id"].as_str().unwrap()]);
    assert_eq!(list(bob.clone()).await, [bobs["id"].as_str().unwrap()]);
    assert_eq!(list(admin.clone()).await.len(), 2);

    // An idempotency key names a workload within its tenant only.
    let keyed = |key: String| {
        let agent = &agent;
        async move {
            let answer = reqwest::Client::new()
                .post(agent.url("/v1/workloads"))
                .bearer_auth(key)
                .header("Idempotency-Key", "same-key")
                .json(&wasm(TRIVIAL))
                .send()
                .await
                .unwrap();
            answer.json::<Value>().await.unwrap()["id"].clone()
        }
    };
    assert_ne!(keyed(alice.clone()).await, keyed(bob.clone()).await);

    let usage: Value = call(&agent, Method::GET, "/v1/usage", Some(&alice), None)
        .await
        .json()
        .await
        .unwrap();
    let tenants = usage["tenants"].as_array().unwrap();
    assert_eq!(tenants.len(), 1, "{usage}");
    assert_eq!(tenants[0]["tenant"], "alice");
    assert_eq!(tenants[0]["workloads"], 2);
    assert!(tenants[0]["cpu_ms"].as_f64().unwrap() > 0.0, "{usage}");
}

#[tokio::test]
async fn a_key_is_shown_once_and_the_store_holds_only_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let store = data_dir_args(dir.path());
    let store: Vec<&str> = store.iter().map(String::as_str).collect();
    let from_cli = create_key(&store, "ops", "admin", &["--name", "first admin"]);
    let agent = start(dir.path(), &[]);
    let made = call(
        &agent,
        Method::POST,
        "/v1/keys",
        Some(&from_cli),
        Some(json!({"tenant": "team-a", "scopes": ["run"], "expires_in_secs": 3600})),
    )
    .await;
    assert_eq!(made.status(), 201);
    let made: Value = made.json().await.unwrap();
    let from_api = made["key"].as_str().unwrap().to_owned();
    assert_eq!(made["tenant"], "team-a");
    assert_eq!(made["state"], "active");
    let (status, _) = run(&agent, &from_api, wasm(TRIVIAL)).await;
    assert_eq!(status, 200, "the new key works at once");

    let listed = call(&agent, Method::GET, "/v1/keys", Some(&from_cli), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(listed.contains(&from_api[3..15]), "listed by id");
    for key in [&from_cli, &from_api] {
        let secret = &key[16..];
        assert!(!listed.contains(secret), "a listing never shows a key");
        for file in ["vulcan.db", "vulcan.db-wal"] {
            let bytes = std::fs::read(dir.path().join(file)).unwrap_or_default();
            let found = bytes
                .windows(secret.len())
                .any(|window| window == secret.as_bytes());
            assert!(!found, "{file} holds a key in plain text");
        }
    }

    let revoked = call(
        &agent,
        Method::DELETE,
        &format!("/v1/keys/{}", &from_api[3..15]),
        Some(&from_cli),
        None,
    )
    .await;
    assert_eq!(revoked.status(), 200);
    let (status, _) = run(&agent, &from_api, wasm(TRIVIAL)).await;
    assert_eq!(status, 401, "revoked on this agent: refused at once");
}

#[tokio::test]
async fn quotas_refuse_one_tenant_and_leave_the_next_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = data_dir_args(dir.path());
    let store: Vec<&str> = store.iter().map(String::as_str).collect();
    let rated = create_key(&store, "rated", "run,read", &[]);
    let busy = create_key(&store, "busy", "run,read", &[]);
    let capped = create_key(&store, "capped", "run,read", &[]);
    let neighbour = create_key(&store, "neighbour", "run,read", &[]);
    let admin = create_key(&store, "ops", "admin", &[]);
    let set = |args: &[&str]| {
        let mut all = vec!["tenants", "set"];
        all.extend_from_slice(args);
        all.extend_from_slice(&store);
        assert!(vulcan(&all).status.success(), "vulcan tenants set {args:?}");
    };
    set(&["rated", "--rate-per-sec", "0.5", "--burst", "2"]);
    set(&["busy", "--max-in-flight", "1"]);
    set(&["capped", "--max-timeout-ms", "300", "--max-fuel", "1000000"]);
    let agent = start(dir.path(), &[]);
    agent
        .wait_until_every_tier_is_available_to(Some(&admin))
        .await;

    // Rate: a burst of two, then 429 with Retry-After and RateLimit headers.
    for remaining in ["1", "0"] {
        let answer = call(
            &agent,
            Method::POST,
            "/v1/workloads",
            Some(&rated),
            Some(wasm(TRIVIAL)),
        )
        .await;
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.headers()["ratelimit-limit"], "2");
        assert_eq!(answer.headers()["ratelimit-remaining"], remaining);
    }
    let refused = call(
        &agent,
        Method::POST,
        "/v1/workloads",
        Some(&rated),
        Some(wasm(TRIVIAL)),
    )
    .await;
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(refused.headers()["ratelimit-remaining"], "0");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    let (status, _) = run(&agent, &neighbour, wasm(TRIVIAL)).await;
    assert_eq!(status, 200, "the tenant next door is not rate limited");

    // In flight: one running workload of `busy` fills its quota.
    let spin = wasm(
        "export default () => { const end = Date.now() + 30000; while (Date.now() < end) {} }",
    );
    let long = {
        let (url, busy) = (agent.url("/v1/workloads"), busy.clone());
        let body = json!({"code": spin["code"], "isolation": "wasm", "timeout_ms": 3000});
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(busy)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    agent.wait_for_in_flight_seen_by(&admin, 1).await;
    let refused = call(
        &agent,
        Method::POST,
        "/v1/workloads",
        Some(&busy),
        Some(wasm(TRIVIAL)),
    )
    .await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "tenant_in_flight");
    let (status, _) = run(&agent, &neighbour, wasm(TRIVIAL)).await;
    assert_eq!(status, 200, "the tenant next door still runs");
    assert_eq!(
        long.await.unwrap(),
        200,
        "the long one ended (timeout) and answered"
    );
    let (status, _) = run(&agent, &busy, wasm(TRIVIAL)).await;
    assert_eq!(status, 200, "its place is given back");

    // Limits: over a cap is a 400 naming it; an unnamed limit gets the cap.
    let over = json!({"code": TRIVIAL, "isolation": "wasm", "timeout_ms": 301});
    let (status, body) = run(&agent, &capped, over).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "over_quota");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_timeout_ms 300"),
        "{body}"
    );
    let (status, body) = run(
        &agent,
        &capped,
        json!({"code": TRIVIAL, "isolation": "wasm", "fuel": 2000000}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_fuel"),
        "{body}"
    );
    let (status, body) = run(&agent, &capped, wasm(TRIVIAL)).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["limits"]["timeout_ms"], 300,
        "the agent's 2 s default is over the cap"
    );
}

#[test]
fn a_listen_beyond_loopback_needs_access_control_said_out_loud() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_vulcan"))
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("vulcan serve");
    assert!(!output.status.success(), "it must refuse to start");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--auth required"), "{stderr}");

    let mut explicit = Command::new(env!("CARGO_BIN_EXE_vulcan"))
        .args([
            "serve",
            "--auth",
            "off",
            "--isolate-hosts",
            "1",
            "--listen",
            "0.0.0.0:0",
            "--data-dir",
        ])
        .arg(dir.path())
        .arg("--cache-dir")
        .arg(common::cache_dir())
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .expect("vulcan serve");
    let log = std::io::BufRead::lines(std::io::BufReader::new(explicit.stderr.take().unwrap()));
    let mut warned = false;
    for line in log.map_while(Result::ok) {
        warned |= line.contains("ACCESS CONTROL IS OFF");
        if line.contains("vulcan listening") {
            break;
        }
    }
    let _ = explicit.kill();
    let _ = explicit.wait();
    assert!(
        warned,
        "an explicit --auth off beyond loopback is warned about on start"
    );
}

#[tokio::test]
async fn a_key_revoked_on_one_agent_is_refused_by_the_other_within_a_second() {
    let database = cluster().database().await;
    let store = ["--store", database.as_str()];
    let admin = create_key(&store, "ops", "admin", &[]);
    let user = create_key(&store, "team", "run,read", &[]);
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = start(one.path(), &store);
    let second = start(two.path(), &store);
    second
        .wait_until_every_tier_is_available_to(Some(&user))
        .await;
    let (status, _) = run(&second, &user, wasm(TRIVIAL)).await;
    assert_eq!(
        status, 200,
        "the key works on the other agent, its cache warm"
    );

    let revoked = call(
        &first,
        Method::DELETE,
        &format!("/v1/keys/{}", &user[3..15]),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(revoked.status(), 200);
    let since = Instant::now();
    loop {
        let answer = call(&second, Method::GET, "/v1/whoami", Some(&user), None).await;
        if answer.status() == 401 {
            break;
        }
        assert!(since.elapsed() < Duration::from_secs(5), "never refused");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let took = since.elapsed();
    println!(
        "refused by the other agent {} ms after the revocation",
        took.as_millis()
    );
    assert!(took <= Duration::from_secs(1), "took {took:?}");
}
