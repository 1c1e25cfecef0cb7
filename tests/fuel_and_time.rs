//! Fuel versus wall-clock on the real wasm tier: calibration (`vulcan calibrate`,
//! `GET /v1/backends`) and the limits experiment for loops that hit each limit first.

mod common;

use std::process::Command;

use common::{post, shared};
use serde_json::{Value, json};

const LOOP: &str = "export default () => { let i = 0; while (true) i++; }";

fn vulcan(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vulcan"))
        .args(args)
        .args(["--server", &shared().url("")])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("running vulcan");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn limits(code: &str, fuel: u64, timeout_ms: u64, runs: u32) -> Value {
    let body =
        json!({"workload": {"code": code}, "fuel": fuel, "timeout_ms": timeout_ms, "runs": runs});
    let (status, report) = post(shared(), "/v1/experiments/limits", body).await;
    assert_eq!(status, 200, "{report}");
    report
}

#[tokio::test]
async fn calibration_gives_a_positive_rate_that_backends_then_shows() {
    let (code, stdout, stderr) = vulcan(&["calibrate", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let calibration: Value = serde_json::from_str(&stdout).expect("JSON");
    let rate = calibration["fuel_per_ms"].as_f64().unwrap();
    assert!(rate > 0.0, "{calibration}");
    let workloads = calibration["workloads"].as_array().unwrap();
    assert_eq!(workloads.len(), 4);
    for workload in workloads {
        assert!(workload["fuel"].as_u64().unwrap() > 0, "{workload}");
        assert!(workload["run_ms"].as_f64().unwrap() > 0.0, "{workload}");
    }
    assert!(calibration["min_fuel_per_ms"].as_f64() <= Some(rate));
    assert!(calibration["max_fuel_per_ms"].as_f64() >= Some(rate));

    let backends: Value = reqwest::get(shared().url("/v1/backends"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let wasm = backends["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tier| tier["kind"] == "wasm")
        .unwrap();
    assert!(
        wasm["calibration"]["fuel_per_ms"].as_f64().unwrap() > 0.0,
        "{wasm}"
    );

    let (code, table, _) = vulcan(&["calibrate"]);
    assert_eq!(code, 0);
    assert!(table.contains("fuel per ms:"), "{table}");
    assert!(
        table.lines().any(|line| line.starts_with("arithmetic")),
        "{table}"
    );
}

#[tokio::test]
async fn a_loop_with_a_small_fuel_budget_stops_on_fuel_the_same_every_run() {
    let report = limits(LOOP, 5_000_000, 10_000, 4).await;
    assert_eq!(report["stopped_by"], json!({"fuel": 4}), "{report}");
    assert_eq!(report["fuel_consumed"]["min"], 5_000_000.0);
    assert_eq!(report["fuel_consumed"]["spread_pct"], 0.0);
    assert!(report["duration_ms"]["median"].as_f64().unwrap() > 0.0);
    assert_eq!(report["runs"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn a_loop_with_a_short_timeout_stops_on_time() {
    let report = limits(LOOP, 1_000_000_000_000, 50, 3).await;
    assert_eq!(report["stopped_by"], json!({"timeout": 3}), "{report}");
    assert!(
        report["duration_ms"]["min"].as_f64().unwrap() >= 50.0,
        "{report}"
    );
    assert!(report["fuel_consumed"]["min"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn a_finished_workload_uses_nearly_the_same_fuel_every_run() {
    let fib =
        "const fib = (n) => n < 2 ? n : fib(n - 1) + fib(n - 2); export default () => fib(18);";
    let report = limits(fib, 1_000_000_000_000, 10_000, 5).await;
    assert_eq!(report["stopped_by"], json!({"neither": 5}), "{report}");
    let spread = report["fuel_consumed"]["spread_pct"].as_f64().unwrap();
    assert!(spread < 1.0, "fuel varied by {spread}%: {report}");
}

#[test]
fn the_limits_command_prints_what_stopped_the_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("loop.js");
    std::fs::write(&file, LOOP).unwrap();
    let (code, stdout, stderr) = vulcan(&[
        "experiment",
        "limits",
        file.to_str().unwrap(),
        "--fuel",
        "1000000",
        "--timeout-ms",
        "5000",
        "--runs",
        "3",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("3 runs with fuel 1000000 and timeout 5000 ms; stopped by: fuel 3"),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|line| line.starts_with("fuel ")),
        "{stdout}"
    );
}

#[tokio::test]
async fn out_of_range_runs_and_limits_are_400() {
    for (body, message) in [
        (
            json!({"workload": {"code": LOOP}, "fuel": 1, "timeout_ms": 10, "runs": 51}),
            "runs must be between 1 and 50, got 51",
        ),
        (
            json!({"workload": {"code": LOOP}, "fuel": 1, "timeout_ms": 999999}),
            "timeout_ms must be between 1 and 30000, got 999999",
        ),
    ] {
        let (status, answer) = post(shared(), "/v1/experiments/limits", body).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"]["message"], message);
    }
}
