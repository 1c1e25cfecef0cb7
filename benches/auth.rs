//! `make bench`: what access control costs on the wasm tier's trivial path, and how soon a
//! revoked key is refused by an agent that had it cached.
//!
//! The same agent's router is driven in process twice, with access control off and with
//! `--auth required` (a warm key, a tenant with a rate and a burst too large to refuse),
//! alternately and each first half the time, so drift and the history writer hit both
//! alike; the difference of the medians is the cost. The
//! check alone (key, scope, quotas) is timed too. Prints Markdown for BENCHMARKS.md.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use common::start_agent;
use tower::ServiceExt;
use vulcan::access::keys::{self, KeyRequest};
use vulcan::access::metrics::AccessMetrics;
use vulcan::access::quotas::QuotaOverrides;
use vulcan::access::{Access, AuthMode, Scopes};
use vulcan::api::AppState;
use vulcan::store::now_ms;

const TRIVIAL: &str = "export default (input) => input.a + input.b;";
const RUNS: usize = 5_000;
const CHECKS: usize = 200_000;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let data = tempfile::tempdir()?;
        let agent = start_agent(data.path()).await?;
        let history = Arc::clone(&agent.state.workloads.history);
        let request = KeyRequest {
            tenant: "bench".into(),
            scopes: Scopes::parse("run,read").map_err(anyhow::Error::msg)?,
            expires_in: None,
            name: None,
        };
        let (token, key) = keys::create(history.as_ref(), request).await?;
        let unlimited = QuotaOverrides {
            max_in_flight: Some(1_000_000),
            rate_per_sec: Some(1e6),
            burst: Some(1_000_000),
            ..QuotaOverrides::default()
        };
        history.set_quotas("bench", &unlimited).await?;
        let access = |registry: &prometheus::Registry| {
            Access::new(
                AuthMode::Required,
                Arc::clone(&history),
                agent.args.default_quotas(),
                AccessMetrics::new(registry, vec!["bench".into()]),
                None,
            )
        };
        let guarded = AppState {
            access: Arc::new(access(&prometheus::Registry::new())),
            ..agent.state.clone()
        };
        let (open_api, guarded_api) = (
            vulcan::api::router(agent.state.clone()),
            vulcan::api::router(guarded.clone()),
        );
        let body = serde_json::to_vec(&serde_json::json!(
            {"code": TRIVIAL, "input": {"a": 1, "b": 2}, "isolation": "wasm"}
        ))?;
        let (mut open, mut guarded_ms) = (Vec::new(), Vec::new());
        for run in 0..RUNS + 100 {
            // Each goes first half the time: the one that follows shares the machine with
            // the history writer committing the first one's record.
            let (first, second) = match run % 2 {
                0 => ((&open_api, None), (&guarded_api, Some(token.as_str()))),
                _ => ((&guarded_api, Some(token.as_str())), (&open_api, None)),
            };
            let started = Instant::now();
            post(first.0, &body, first.1).await;
            let first_ms = elapsed_ms(started);
            let started = Instant::now();
            post(second.0, &body, second.1).await;
            let second_ms = elapsed_ms(started);
            if run >= 100 {
                let (open_ms, guarded) = match run % 2 {
                    0 => (first_ms, second_ms),
                    _ => (second_ms, first_ms),
                };
                open.push(open_ms);
                guarded_ms.push(guarded);
            }
        }
        let (open_p50, guarded_p50) = (median(&mut open), median(&mut guarded_ms));
        println!("| wasm trivial, agent API in process | runs | p50 |");
        println!("|---|---|---|");
        println!("| access control off | {RUNS} | {open_p50:.4} ms |");
        println!("| `--auth required`, warm key, quotas | {RUNS} | {guarded_p50:.4} ms |");
        println!();
        println!(
            "Cost of access control on the trivial path (difference of the medians): {:.1} µs",
            (guarded_p50 - open_p50) * 1000.0
        );

        let checks = &guarded.access;
        let mut samples = Vec::with_capacity(CHECKS);
        for _ in 0..CHECKS {
            let started = Instant::now();
            let caller = checks.authenticate(Some(&token)).await?;
            caller.require(vulcan::access::Scope::Run)?;
            let admitted = checks
                .admit(&caller)
                .map_err(|(err, _)| anyhow::anyhow!("{err}"))?;
            drop(admitted);
            samples.push(elapsed_ms(started) * 1000.0);
        }
        let check_p50 = median(&mut samples);
        println!(
            "The check alone (bearer key from the warm cache, SHA-256 and constant-time \
             compare, scope, in-flight place, token bucket): p50 {check_p50:.2} µs over {CHECKS}"
        );

        // Another agent's view of the same store: its cache is warm, then the key is revoked.
        let other = access(&prometheus::Registry::new());
        other.authenticate(Some(&token)).await?;
        history.revoke_key(&key.id, now_ms()).await?;
        let revoked = Instant::now();
        while other.authenticate(Some(&token)).await.is_ok() {
            anyhow::ensure!(revoked.elapsed() < Duration::from_secs(5), "never refused");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        println!(
            "A key revoked in the store is refused by an agent that had it cached after {:.0} ms \
             (bound: {} ms)",
            elapsed_ms(revoked),
            vulcan::access::FRESH_FOR.as_millis()
        );
        anyhow::Ok(())
    })
}

async fn post(api: &axum::Router, body: &[u8], key: Option<&str>) {
    let mut request = Request::post("/v1/workloads").header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    let request = request
        .body(Body::from(body.to_vec()))
        .expect("a valid request");
    let response = api.clone().oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), 200, "the trivial workload ran");
    axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("a body");
}

fn elapsed_ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}
