//! The wasm tier on real work (issue 19): time inside the tier (`duration_ms`) for the peers'
//! trivial, JSON transform and fib(25) workloads, without and with a fuel budget, the cells
//! alternated run by run so that all of them see the same machine.
//!
//! `cargo bench --bench wasm_work`; `WASM_WORK_ONLY=json,fib25` narrows the workloads,
//! `WASM_WORK_FUEL=none` (or `budget`) runs only the cells without (with) a fuel budget,
//! `WASM_WORK_ROUNDS` sets the runs per cell (default 60), `WASM_WORK_GAP_MS` sleeps that
//! long before each run (the paced case). For a profile, run it under
//! `perf record -k mono` with `VULCAN_WASM_PERFMAP=1` (see `src/backend/wasm/engine.rs`).

mod common;

use std::time::Duration;

use common::{wasm_backend, wasm_workload};
use vulcan::backend::{Backend, Metadata, Status, Workload};

const TRIVIAL: &str = "export default (input) => input.a + input.b;";
const FIB: &str =
    "const fib = (n) => n < 2 ? n : fib(n - 1) + fib(n - 2);\nexport default () => fib(25);";
/// The same as `benches/peers/common.mjs`.
const JSON_TRANSFORM: &str = "export default (input) => {
  const items = input.items
    .filter((item) => item.active)
    .map((item) => ({
      id: item.id,
      label: item.name.toUpperCase(),
      total: Math.round(item.price * item.qty * 100) / 100,
      tags: item.tags.join(\",\"),
    }));
  return { count: items.length, total: items.reduce((sum, item) => sum + item.total, 0), items };
};";
const FUEL_BUDGET: u64 = 1 << 40;

fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::var("WASM_WORK_ROUNDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(60);
    let only = std::env::var("WASM_WORK_ONLY").ok();
    let wanted = |name: &str| {
        only.as_deref()
            .is_none_or(|only| only.split(',').any(|item| item == name))
    };
    let fuels: Vec<Option<u64>> = match std::env::var("WASM_WORK_FUEL").as_deref() {
        Ok("none") => vec![None],
        Ok("budget") => vec![Some(FUEL_BUDGET)],
        _ => vec![None, Some(FUEL_BUDGET)],
    };
    let json: &'static str = Box::leak(json_input().into_boxed_str());
    let workloads: Vec<(&'static str, &'static str, &'static str)> = [
        ("trivial", TRIVIAL, r#"{"a":1,"b":2}"#),
        ("json", JSON_TRANSFORM, json),
        ("fib25", FIB, "null"),
    ]
    .into_iter()
    .filter(|(name, _, _)| wanted(name))
    .collect();

    let runtime = tokio::runtime::Runtime::new()?;
    // On one of the runtime's threads, as a request's task runs in the agent: there, the
    // spent store's drop runs after the answer on the same thread (`block_on` would keep this
    // loop off the runtime's threads, and the drop would run on another one).
    runtime.block_on(runtime.spawn(async move {
        let backend = wasm_backend()?;
        let mut cells: Vec<Cell> = Vec::new();
        for (name, code, input) in &workloads {
            for &fuel in &fuels {
                cells.push(Cell {
                    name,
                    fuel,
                    workload: wasm_workload(code, input, fuel),
                    durations: Vec::new(),
                    metered: None,
                    memory_peak_bytes: 0,
                });
            }
        }
        let gap_ms: u64 = std::env::var("WASM_WORK_GAP_MS")
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(0);
        for round in 0..rounds + 3 {
            for cell in &mut cells {
                if gap_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(gap_ms)).await;
                }
                let outcome = backend.execute(cell.workload.clone()).await?;
                // The agent's task yields after each answer (to wait for the next request),
                // which is when the spent store is dropped; so does this loop.
                tokio::task::yield_now().await;
                anyhow::ensure!(
                    outcome.status == Status::Succeeded,
                    "{} ended {:?}: {:?}",
                    cell.name,
                    outcome.status,
                    outcome.error
                );
                if let Some(Metadata::Wasm(wasm)) = &outcome.metadata {
                    cell.metered = Some(wasm.metered);
                    cell.memory_peak_bytes = wasm.memory_peak_bytes;
                }
                if round >= 3 {
                    cell.durations.push(outcome.duration_ms);
                }
            }
        }
        print(&mut cells);
        anyhow::Ok(())
    }))?
}

fn print(cells: &mut [Cell<'_>]) {
    println!("| workload | fuel budget | module | runs | p50 in the tier | p10 | memory peak |");
    println!("|---|---|---|---|---|---|---|");
    for cell in cells {
        cell.durations.sort_by(f64::total_cmp);
        let at = |q: f64| cell.durations[((cell.durations.len() - 1) as f64 * q) as usize];
        println!(
            "| {} | {} | {} | {} | {:.3} ms | {:.3} ms | {:.1} MiB |",
            cell.name,
            cell.fuel.map_or("none".into(), |fuel| fuel.to_string()),
            match cell.metered {
                Some(true) => "metered",
                _ => "epoch only",
            },
            cell.durations.len(),
            at(0.5),
            at(0.1),
            cell.memory_peak_bytes as f64 / f64::from(1 << 20),
        );
    }
}

struct Cell<'a> {
    name: &'a str,
    fuel: Option<u64>,
    workload: Workload,
    durations: Vec<f64>,
    metered: Option<bool>,
    memory_peak_bytes: u64,
}

/// `jsonInput()` of `benches/peers/common.mjs`: 500 items, ~48.5 KB.
fn json_input() -> String {
    let items: Vec<serde_json::Value> = (0..500)
        .map(|i: u32| {
            let price = f64::from(i % 97) * 1.25;
            let tags = &["alpha", "beta", "gamma"][..(i % 3 + 1) as usize];
            serde_json::json!({
                "id": i,
                "name": format!("item-{i}-{}", "x".repeat((i % 17) as usize)),
                "price": if price.fract() == 0.0 { serde_json::json!(price as u64) } else { serde_json::json!(price) },
                "qty": i % 7 + 1,
                "tags": tags,
                "active": !i.is_multiple_of(4),
            })
        })
        .collect();
    serde_json::json!({ "items": items }).to_string()
}
