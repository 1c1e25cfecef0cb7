//! `make bench`: latency of the wasm tier, backend-only and end to end over HTTP, throughput
//! at concurrency 2, and the cost of fuel metering on fib(25) (a fuel budget selects the
//! metered build; without one the epoch-only build runs).
//! Prints a Markdown table; BENCHMARKS.md records the figures with the machine they came from.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use common::{
    THROUGHPUT_WINDOW, latency_row, record_line, start_agent, throughput, wasm_backend,
    wasm_workload,
};
use tower::ServiceExt;
use vulcan::backend::{Backend, Status};

const TRIVIAL: &str = "export default (input) => input.a + input.b;";
const FIB: &str =
    "const fib = (n) => n < 2 ? n : fib(n - 1) + fib(n - 2);\nexport default () => fib(25);";
const LATENCY_RUNS: usize = 3_000;
const FIB_RUNS: usize = 15;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let data = tempfile::tempdir()?;
        println!("| measurement | runs | p50 | p99 | mean |");
        println!("|---|---|---|---|---|");

        let metered = Arc::new(wasm_backend()?);
        let trivial = wasm_workload(TRIVIAL, r#"{"a": 1, "b": 2}"#, None);
        let direct = latency_row(
            "wasm backend, trivial (fresh instance each)",
            LATENCY_RUNS,
            || {
                let backend = Arc::clone(&metered);
                let workload = trivial.clone();
                async move { backend.execute(workload).await.map(|o| o.status) }
            },
        )
        .await?;
        record_line("vulcan-wasm-backend", "trivial", 1, LATENCY_RUNS, direct);

        let temporal = wasm_workload(
            "export default () => Temporal.PlainDate.from('2026-12-07').add({ days: 1 }).toString();",
            "null",
            None,
        );
        latency_row(
            "wasm backend, first use of Temporal (the polyfill runs, fresh instance each)",
            LATENCY_RUNS / 10,
            || {
                let backend = Arc::clone(&metered);
                let workload = temporal.clone();
                async move { backend.execute(workload).await.map(|o| o.status) }
            },
        )
        .await?;

        let mut inside = Vec::new();
        for _ in 0..LATENCY_RUNS {
            inside.push(metered.execute(trivial.clone()).await?.duration_ms);
        }
        inside.sort_by(f64::total_cmp);
        let inside_p50 = inside[inside.len() / 2];

        let fib = wasm_workload(FIB, "null", None);
        let mut fib_with_fuel = fib.clone();
        fib_with_fuel.limits.fuel = Some(u64::MAX);
        let with = latency_row(
            "wasm backend, fib(25), fuel budget (metered build)",
            FIB_RUNS,
            || {
                let backend = Arc::clone(&metered);
                let workload = fib_with_fuel.clone();
                async move { backend.execute(workload).await.map(|o| o.status) }
            },
        )
        .await?
        .p50;
        let without = latency_row("wasm backend, fib(25), no budget (epoch only)", FIB_RUNS, || {
            let backend = Arc::clone(&metered);
            let workload = fib.clone();
            async move { backend.execute(workload).await.map(|o| o.status) }
        })
        .await?
        .p50;

        let agent = start_agent(data.path()).await?;
        let body =
            serde_json::json!({"code": TRIVIAL, "input": {"a": 1, "b": 2}, "isolation": "wasm"});
        let api = vulcan::api::router(agent.state.clone());
        let json = serde_json::to_vec(&body)?;
        let in_process = latency_row(
            "the agent's API in process, no socket (JSON, routing, history, metrics)",
            LATENCY_RUNS,
            || in_process(&api, json.clone()),
        )
        .await?;

        let url = agent.url;
        let client = reqwest::Client::new();
        latency_row(
            "HTTP end to end, trivial (incl. history write)",
            LATENCY_RUNS,
            || {
                let request = client.post(&url).json(&body);
                async move { common::http_status(request).await }
            },
        )
        .await?;

        let done = throughput(&client, &url, &body, 2, THROUGHPUT_WINDOW).await?;
        println!();
        println!(
            "Throughput, HTTP end to end, trivial, concurrency 2: {:.0} workloads/s over {} s",
            done as f64 / THROUGHPUT_WINDOW.as_secs_f64(),
            THROUGHPUT_WINDOW.as_secs()
        );
        println!("Time inside the wasm tier (instantiate + run), trivial: p50 {inside_p50:.3} ms");
        let overhead = in_process.p50 - direct.p50;
        println!(
            "Vulcan's own overhead without the socket (API in process − backend, p50): {:.3} ms = {:.0}% of the backend",
            overhead,
            overhead / direct.p50 * 100.0
        );
        println!(
            "Fuel metering's cost on fib(25): {:+.1}% (p50 {:.1} ms vs {:.1} ms)",
            (with - without) / without * 100.0,
            with,
            without
        );
        anyhow::Ok(())
    })
}

/// One workload through the agent's router, as a request that arrived over HTTP would go.
async fn in_process(api: &axum::Router, json: Vec<u8>) -> vulcan::error::Result<Status> {
    let request = Request::post("/v1/workloads")
        .header("content-type", "application/json")
        .body(Body::from(json))
        .expect("a valid request");
    let response = api.clone().oneshot(request).await.expect("infallible");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("a body");
    let answer: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    Ok(common::status_of(&answer))
}
