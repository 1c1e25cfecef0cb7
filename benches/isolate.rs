//! `make bench`: the isolate tier end to end over HTTP with the default pool (a host per
//! core, one spare, one workload per host at a time): latency at concurrency 1 with gaps
//! between requests (every workload finds a warm worker) and back to back, and sustained
//! throughput at concurrency 2 and 8. Prints a Markdown table; BENCHMARKS.md records it.

mod common;

use std::time::{Duration, Instant};

use common::{Percentiles, http_status, latency_row, record_line, start_agent, throughput};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use vulcan::backend::{BackendKind, Language, Limits, Status, Workload};

const TRIVIAL: &str = "export default (input) => input.a + input.b;";
const TRIVIAL_TS: &str = "interface In { a: number; b: number }\nexport default (input: In): number => input.a + input.b;";
const GAP: Duration = Duration::from_millis(150);
const GAP_RUNS: usize = 200;
const BACK_TO_BACK_RUNS: usize = 300;
const THROUGHPUT_WINDOW: Duration = Duration::from_secs(10);

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let data = tempfile::tempdir()?;
        let agent = start_agent(data.path()).await?;
        let hosts = agent.args.isolate.hosts();
        let backend = agent
            .state
            .workloads
            .backend(BackendKind::Isolate)
            .expect("the isolate tier")
            .clone();
        let url = agent.url;
        let client = reqwest::Client::new();
        let trivial = json!({"code": TRIVIAL, "input": {"a": 1, "b": 2}, "isolation": "isolate"});
        let typescript = json!({"code": TRIVIAL_TS, "language": "typescript",
            "input": {"a": 1, "b": 2}, "isolation": "isolate"});

        println!("Pool: {hosts} hosts + 1 spare, 1 workload per host at a time.");
        println!();
        println!("| measurement | runs | p50 | p99 | mean |");
        println!("|---|---|---|---|---|");
        let mut direct = Vec::new();
        for _ in 0..GAP_RUNS {
            tokio::time::sleep(GAP).await;
            let workload = Workload {
                code: TRIVIAL.into(),
                language: Language::Javascript,
                input: RawValue::from_string(r#"{"a":1,"b":2}"#.into())?,
                limits: Limits {
                    timeout_ms: 2_000,
                    memory_mb: 64,
                    fuel: None,
                    max_output_bytes: 1 << 20,
                    max_log_bytes: 64 << 10,
                    max_log_lines: 1000,
                },
            };
            let started = Instant::now();
            let outcome = backend.execute(workload).await?;
            direct.push(started.elapsed().as_secs_f64() * 1000.0);
            anyhow::ensure!(outcome.status == Status::Succeeded, "{outcome:?}");
        }
        direct.sort_by(f64::total_cmp);
        let at = Percentiles {
            p50: direct[direct.len() / 2],
            p99: direct[(direct.len() - 1) * 99 / 100],
        };
        println!(
            "| isolate backend (`Backend::execute`), trivial, gaps of 150 ms | {GAP_RUNS} | {:.3} ms | {:.3} ms | |",
            at.p50, at.p99
        );
        record_line("vulcan-isolate-host", "trivial", 1, GAP_RUNS, at);
        let inside = gapped_row("HTTP end to end, trivial, gaps of 150 ms", &client, &url, &trivial).await?;
        gapped_row("HTTP end to end, TypeScript trivial, gaps of 150 ms", &client, &url, &typescript)
            .await?;
        latency_row("HTTP end to end, trivial, back to back", BACK_TO_BACK_RUNS, || {
            let request = client.post(&url).json(&trivial);
            async move { http_status(request).await }
        })
        .await?;
        println!();
        println!(
            "Inside the host (worker handed the workload → answer), trivial with gaps: p50 {:.3} ms; \
             worker creation waited for: p50 {:.3} ms, max {:.3} ms",
            inside.host_p50, inside.create_p50, inside.create_max
        );
        for concurrency in [2, 8] {
            let done = throughput(&client, &url, &trivial, concurrency, THROUGHPUT_WINDOW).await?;
            println!(
                "Throughput, HTTP end to end, trivial, concurrency {concurrency}: {:.1} workloads/s over {} s",
                done as f64 / THROUGHPUT_WINDOW.as_secs_f64(),
                THROUGHPUT_WINDOW.as_secs()
            );
        }
        anyhow::Ok(())
    })
}

struct Inside {
    host_p50: f64,
    create_p50: f64,
    create_max: f64,
}

/// One request at a time with [`GAP`] between them; prints a row, returns the host's own times.
async fn gapped_row(
    name: &str,
    client: &reqwest::Client,
    url: &str,
    body: &Value,
) -> anyhow::Result<Inside> {
    let (mut total, mut host, mut create) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..GAP_RUNS {
        tokio::time::sleep(GAP).await;
        let started = Instant::now();
        let answer: Value = client.post(url).json(body).send().await?.json().await?;
        total.push(started.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(
            answer["status"] == Status::Succeeded.as_str(),
            "{name}: {answer}"
        );
        host.push(answer["duration_ms"].as_f64().unwrap_or(f64::NAN));
        create.push(
            answer["metadata"]["worker_create_ms"]
                .as_f64()
                .unwrap_or(f64::NAN),
        );
    }
    let p = |samples: &mut Vec<f64>, q: f64| {
        samples.sort_by(f64::total_cmp);
        samples[((samples.len() - 1) as f64 * q).round() as usize]
    };
    let mean = total.iter().sum::<f64>() / total.len() as f64;
    println!(
        "| {name} | {GAP_RUNS} | {:.3} ms | {:.3} ms | {mean:.3} ms |",
        p(&mut total, 0.5),
        p(&mut total, 0.99)
    );
    Ok(Inside {
        host_p50: p(&mut host, 0.5),
        create_p50: p(&mut create, 0.5),
        create_max: p(&mut create, 1.0),
    })
}
