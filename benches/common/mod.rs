//! Helpers shared by the benchmarks: timing rows, throughput, HTTP status of an answer.

#![allow(
    dead_code,
    reason = "each benchmark uses a different subset of the helpers"
)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::value::RawValue;
use vulcan::api::AppState;
use vulcan::backend::wasm::{WasmBackend, WasmConfig};
use vulcan::backend::{Language, LimitRange, Limits, Status, Workload};
use vulcan::config::{Cli, ServeArgs};

pub const THROUGHPUT_WINDOW: Duration = Duration::from_secs(5);

/// The compiled wasm guest, cached across bench runs.
pub fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-cache")
}

/// An agent serving on a loopback port with its history in `data`, as `vulcan` would run
/// with its defaults (and the `VULCAN_*` variables of the environment).
pub struct Agent {
    pub args: ServeArgs,
    pub state: AppState,
    /// `POST` workloads here.
    pub url: String,
}

pub async fn start_agent(data: &Path) -> anyhow::Result<Agent> {
    let args = Cli::try_parse_from([
        "vulcan",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        &data.display().to_string(),
        "--cache-dir",
        &cache_dir().display().to_string(),
    ])?
    .serve;
    let state = vulcan::server::build_state(&args).await?;
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let url = format!("http://{}/v1/workloads", listener.local_addr()?);
    tokio::spawn(vulcan::server::serve(
        listener,
        state.clone(),
        args.connections.clone(),
        std::future::pending(),
    ));
    Ok(Agent { args, state, url })
}

pub async fn http_status(request: reqwest::RequestBuilder) -> vulcan::error::Result<Status> {
    let answer: serde_json::Value = request
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    Ok(status_of(&answer))
}

/// The `status` of a workload's answer (`Error` if it has none).
pub fn status_of(answer: &serde_json::Value) -> Status {
    Status::parse(answer["status"].as_str().unwrap_or("")).unwrap_or(Status::Error)
}

/// Latency percentiles of a row, in ms.
#[derive(Clone, Copy)]
pub struct Percentiles {
    pub p50: f64,
    pub p99: f64,
}

/// Appends a result in the peers benchmark's line format (`benches/peers/`) to the file
/// `$BENCH_LINES` names, if any, so `benches/peers/run.mjs --include` merges it.
pub fn record_line(system: &str, workload: &str, concurrency: usize, runs: usize, at: Percentiles) {
    let Some(path) = std::env::var_os("BENCH_LINES") else {
        return;
    };
    let line = serde_json::json!({
        "system": system, "workload": workload, "concurrency": concurrency, "runs": runs,
        "p50_ms": at.p50, "p99_ms": at.p99,
    });
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("BENCH_LINES file");
    writeln!(file, "{line}").expect("writing BENCH_LINES");
}

/// Runs `run` `runs` times in a row (after a short warm-up) and prints a row.
pub async fn latency_row<F, Fut>(name: &str, runs: usize, run: F) -> anyhow::Result<Percentiles>
where
    F: Fn() -> Fut,
    Fut: Future<Output = vulcan::error::Result<Status>>,
{
    for _ in 0..runs.min(50) {
        run().await?;
    }
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let status = run().await?;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(
            status == Status::Succeeded,
            "{name}: workload ended {status:?}"
        );
    }
    samples.sort_by(f64::total_cmp);
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    let mean = samples.iter().sum::<f64>() / samples.len() as f64;
    println!(
        "| {name} | {runs} | {:.3} ms | {:.3} ms | {mean:.3} ms |",
        pick(0.5),
        pick(0.99)
    );
    Ok(Percentiles {
        p50: pick(0.5),
        p99: pick(0.99),
    })
}

/// Succeeded workloads in `window` with `concurrency` clients sending back to back.
pub async fn throughput(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
    concurrency: usize,
    window: Duration,
) -> anyhow::Result<u64> {
    let deadline = Instant::now() + window;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, body) = (client.clone(), url.to_owned(), body.clone());
        tasks.push(tokio::spawn(async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                if http_status(client.post(&url).json(&body)).await? == Status::Succeeded {
                    done += 1;
                }
            }
            Ok::<u64, vulcan::error::Error>(done)
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await??;
    }
    Ok(total)
}

/// The wasm tier as the benchmarks run it: two threads, 10 s timeouts, the guest cached in
/// [`cache_dir`].
pub fn wasm_backend() -> anyhow::Result<WasmBackend> {
    Ok(WasmBackend::start(WasmConfig {
        cache_dir: cache_dir(),
        threads: 2,
        timeout_ms: LimitRange {
            min: 1,
            default: 10_000,
            max: 10_000,
        },
        memory_mb: LimitRange {
            min: 1,
            default: 64,
            max: 512,
        },
        max_fuel: u64::MAX,
    })?)
}

/// A JavaScript workload for [`wasm_backend`]: 10 s, 64 MiB, `fuel` if any.
pub fn wasm_workload(code: &str, input: &str, fuel: Option<u64>) -> Workload {
    Workload {
        code: code.into(),
        language: Language::Javascript,
        input: RawValue::from_string(input.into()).expect("valid JSON"),
        limits: Limits {
            timeout_ms: 10_000,
            memory_mb: 64,
            fuel,
            max_output_bytes: 1 << 20,
            max_log_bytes: 64 << 10,
            max_log_lines: 1000,
        },
    }
}
