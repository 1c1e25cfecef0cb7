//! Peer 6a of the side-by-side benchmark (issue 6): the lower bound of the wasm tier. The same
//! QuickJS (rquickjs, as the guest) compiled natively, a fresh `Runtime` and `Context::full` per
//! workload, doing the guest's per-workload work: evaluate the module, `JSON.parse` the input,
//! call the default export, settle a returned promise, `JSON.stringify` the result. No wasm, no
//! fuel, no epoch, no snapshot, no prelude (console, timers), no hand-off between threads.
//!
//! Run by `benches/peers/run.mjs`, which writes the workloads file it reads
//! (`PEERS_WORKLOADS_FILE`); by hand:
//! `cargo bench --bench native_quickjs --target x86_64-unknown-linux-gnu`. Prints one JSON line
//! per (workload, concurrency) cell on stdout, like every peer (benches/peers/common.mjs), and
//! the same `PEERS_WORKLOADS`, `PEERS_CONCURRENCY` and `PEERS_SCALE` knobs apply.
//!
//! Concurrency N keeps N workloads in flight on min(N, CPUs) threads, the rest queued (as the
//! wasm tier queues on its pool of a thread per CPU); latency counts from submission.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use rquickjs::{CatchResultExt, Context, Module, Runtime, Value};
use serde::Deserialize;
use serde_json::json;

const SYSTEM: &str = "rquickjs-native";
/// The wasm tier's defaults: 64 MiB of memory; QuickJS's stack limit as in the guest.
const MEMORY_LIMIT_BYTES: usize = 64 << 20;
const MAX_STACK_BYTES: usize = 1 << 20;
const LATENCY_BUDGET: Duration = Duration::from_millis(2500);
const THROUGHPUT_BUDGET: Duration = Duration::from_millis(1500);
const LATENCY_MAX_RUNS: usize = 200;
const THROUGHPUT_MAX_RUNS: usize = 3000;
const WARMUP_RUNS: usize = 3;
const IDLE_RUNTIMES: usize = 100;

/// One workload of `PEERS_WORKLOADS_FILE`, with the output it must give (compared as JSON).
#[derive(Deserialize)]
struct Workload {
    name: String,
    language: String,
    code: String,
    input: String,
    expected: serde_json::Value,
}

fn main() -> Result<(), String> {
    let path = std::env::var("PEERS_WORKLOADS_FILE")
        .map_err(|_| "PEERS_WORKLOADS_FILE is not set (benches/peers/run.mjs writes it)")?;
    let text = std::fs::read_to_string(&path).map_err(|error| format!("{path}: {error}"))?;
    let workloads: Vec<Workload> =
        serde_json::from_str(&text).map_err(|error| format!("{path}: {error}"))?;
    let scale: f64 = env_list("PEERS_SCALE")
        .and_then(|values| values.first()?.parse().ok())
        .unwrap_or(1.0);
    let concurrencies: Vec<usize> = env_list("PEERS_CONCURRENCY")
        .map(|values| values.iter().filter_map(|v| v.parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2, 8, 32]);
    let names = env_list("PEERS_WORKLOADS");
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());

    // Measured first, before any workload leaves freed memory for the allocator to reuse.
    emit(idle_runtimes()?);
    for workload in &workloads {
        if names
            .as_ref()
            .is_some_and(|names| !names.contains(&workload.name))
        {
            continue;
        }
        if workload.language == "typescript" {
            emit(
                json!({"system": SYSTEM, "workload": workload.name, "concurrency": null,
                "runs": 0, "na": "QuickJS has no type stripping"}),
            );
            continue;
        }
        for _ in 0..WARMUP_RUNS {
            run_checked(workload)?;
        }
        for &concurrency in &concurrencies {
            let (budget, max_runs) = if concurrency == 1 {
                (LATENCY_BUDGET, LATENCY_MAX_RUNS)
            } else {
                (THROUGHPUT_BUDGET, THROUGHPUT_MAX_RUNS)
            };
            let cell = Cell {
                budget: budget.mul_f64(scale),
                max_runs: (max_runs as f64 * scale).round() as usize,
                min_runs: concurrency.max(10),
            };
            let line = cell.measure(workload, concurrency, concurrency.min(cpus))?;
            eprintln!(
                "{SYSTEM} {} c={concurrency}: p50 {} ms, {}/s ({} runs)",
                workload.name, line["p50_ms"], line["throughput_per_s"], line["runs"]
            );
            emit(line);
        }
    }
    Ok(())
}

/// One workload in a fresh runtime and context; the output JSON text.
fn run_fresh(code: &str, input: &str) -> Result<String, String> {
    let runtime = Runtime::new().map_err(|error| error.to_string())?;
    runtime.set_memory_limit(MEMORY_LIMIT_BYTES);
    runtime.set_max_stack_size(MAX_STACK_BYTES);
    let context = Context::full(&runtime).map_err(|error| error.to_string())?;
    context.with(|ctx| {
        let fail = |error: rquickjs::CaughtError| error.to_string();
        let (module, evaluated) = Module::declare(ctx.clone(), "workload.js", code)
            .catch(&ctx)
            .map_err(fail)?
            .eval()
            .catch(&ctx)
            .map_err(fail)?;
        evaluated.finish::<()>().catch(&ctx).map_err(fail)?;
        let main: rquickjs::Function = module
            .namespace()
            .and_then(|namespace| namespace.get("default"))
            .catch(&ctx)
            .map_err(fail)?;
        let input = ctx.json_parse(input).catch(&ctx).map_err(fail)?;
        let mut value: Value = main.call((input,)).catch(&ctx).map_err(fail)?;
        if let Some(promise) = value.as_promise() {
            value = promise.finish().catch(&ctx).map_err(fail)?;
        }
        match ctx.json_stringify(value).catch(&ctx).map_err(fail)? {
            Some(json) => json.to_string().map_err(|error| error.to_string()),
            None => Ok("null".to_owned()),
        }
    })
}

fn run_checked(workload: &Workload) -> Result<(), String> {
    let output = run_fresh(&workload.code, &workload.input)?;
    let value: serde_json::Value = serde_json::from_str(&output).map_err(|e| e.to_string())?;
    if value != workload.expected {
        return Err(format!("{}: wrong output {output:.200}", workload.name));
    }
    Ok(())
}

struct Cell {
    budget: Duration,
    max_runs: usize,
    min_runs: usize,
}

/// The closed loop's shared state: submission times waiting for a thread, and the tallies.
struct Queue {
    waiting: VecDeque<Instant>,
    /// Waiting or running.
    outstanding: usize,
    issued: usize,
    latencies_ms: Vec<f64>,
    peak_rss_mb: f64,
    failure: Option<String>,
}

impl Cell {
    /// `concurrency` workloads in flight on `threads` threads until the budget or the run cap.
    fn measure(
        &self,
        workload: &Workload,
        concurrency: usize,
        threads: usize,
    ) -> Result<serde_json::Value, String> {
        let started = Instant::now();
        let queue = Mutex::new(Queue {
            waiting: (0..concurrency).map(|_| started).collect(),
            outstanding: concurrency,
            issued: concurrency,
            latencies_ms: Vec::new(),
            peak_rss_mb: 0.0,
            failure: None,
        });
        let wake = Condvar::new();
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| self.serve(workload, started, &queue, &wake));
            }
        });
        let elapsed = started.elapsed();
        let queue = queue.into_inner().map_err(|_| "a bench thread panicked")?;
        if let Some(failure) = queue.failure {
            return Err(failure);
        }
        let mut latencies = queue.latencies_ms;
        latencies.sort_by(f64::total_cmp);
        let runs = latencies.len();
        let mean = latencies.iter().sum::<f64>() / runs as f64;
        Ok(json!({
            "system": SYSTEM, "workload": workload.name, "concurrency": concurrency,
            "runs": runs, "p50_ms": round(percentile(&latencies, 0.5), 3),
            "p99_ms": round(percentile(&latencies, 0.99), 3), "mean_ms": round(mean, 3),
            "throughput_per_s": round(runs as f64 / elapsed.as_secs_f64(), 1),
            "rss_mb": round(queue.peak_rss_mb, 1), "rss_of": "bench process, peak",
            "threads": threads,
        }))
    }

    /// One pool thread: take a submission, run it, record it, submit the next while the cell lasts.
    fn serve(&self, workload: &Workload, started: Instant, queue: &Mutex<Queue>, wake: &Condvar) {
        let mut guard = queue.lock().expect("queue lock");
        loop {
            let Some(submitted) = guard.waiting.pop_front() else {
                if guard.outstanding == 0 {
                    return;
                }
                guard = wake.wait(guard).expect("queue lock");
                continue;
            };
            drop(guard);
            let result = run_checked(workload);
            let done = Instant::now();
            let rss_mb = rss_mb();
            guard = queue.lock().expect("queue lock");
            guard.outstanding -= 1;
            guard
                .latencies_ms
                .push((done - submitted).as_secs_f64() * 1000.0);
            guard.peak_rss_mb = guard.peak_rss_mb.max(rss_mb);
            if let Err(error) = result {
                guard.failure.get_or_insert(error);
            }
            let more = guard.issued < self.min_runs
                || (guard.issued < self.max_runs && started.elapsed() < self.budget);
            if more && guard.failure.is_none() {
                guard.issued += 1;
                guard.outstanding += 1;
                guard.waiting.push_back(Instant::now());
            }
            wake.notify_all();
        }
    }
}

/// RSS growth holding [`IDLE_RUNTIMES`] fresh runtime+context pairs, per pair.
fn idle_runtimes() -> Result<serde_json::Value, String> {
    let before = rss_mb();
    let mut held = Vec::with_capacity(IDLE_RUNTIMES);
    for _ in 0..IDLE_RUNTIMES {
        let runtime = Runtime::new().map_err(|error| error.to_string())?;
        let context = Context::full(&runtime).map_err(|error| error.to_string())?;
        held.push((context, runtime));
    }
    let after = rss_mb();
    let quickjs_bytes = held[0].1.memory_usage().memory_used_size;
    Ok(json!({
        "system": SYSTEM, "workload": "idle", "isolates": IDLE_RUNTIMES,
        "per_isolate_mb": round((after - before) / IDLE_RUNTIMES as f64, 3),
        "rss_mb": round(after, 1),
        "quickjs_memory_used_mb": round(quickjs_bytes as f64 / (1 << 20) as f64, 3),
    }))
}

/// This process's resident set, in MiB (from /proc/self/statm).
fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(f64::NAN, |pages| pages * 4096.0 / (1 << 20) as f64)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn round(value: f64, digits: i32) -> Option<f64> {
    let factor = 10f64.powi(digits);
    value.is_finite().then(|| (value * factor).round() / factor)
}

fn env_list(name: &str) -> Option<Vec<String>> {
    let value = std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())?;
    Some(
        value
            .split(',')
            .map(|item| item.trim().to_owned())
            .collect(),
    )
}

fn emit(line: serde_json::Value) {
    println!("{line}");
}
