//! `vulcan experiment limits FILE`: run a workload N times on the wasm tier under both a fuel
//! budget and a timeout, and print which stopped it and how stable fuel and time were.

use std::process::ExitCode;

use anyhow::Context;
use serde_json::{Value, json};

use super::http::post;
use super::run::language_of;
use super::table::{render, row};
use crate::config::LimitsExperimentArgs;
use crate::experiment::limits::{LimitsReport, Stability};

pub async fn limits(args: LimitsExperimentArgs) -> anyhow::Result<ExitCode> {
    let code = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let input: Value = serde_json::from_str(&args.input).context("--input is not valid JSON")?;
    let body = json!({
        "workload": {"code": code, "language": language_of(&args.file), "input": input},
        "fuel": args.fuel,
        "timeout_ms": args.timeout_ms,
        "runs": args.runs,
    });
    let Some(answer) = post(
        &args.server,
        "/v1/experiments/limits",
        &body,
        "the experiment",
    )
    .await?
    else {
        return Ok(ExitCode::from(2));
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(ExitCode::SUCCESS);
    }
    let report: LimitsReport = serde_json::from_value(answer)?;
    let stopped: Vec<String> = report
        .stopped_by
        .iter()
        .map(|(by, runs)| format!("{by} {runs}"))
        .collect();
    let line = |name: &str, stability: &Stability, digits: usize| {
        vec![
            name.to_owned(),
            format!("{:.digits$}", stability.min),
            format!("{:.digits$}", stability.median),
            format!("{:.digits$}", stability.max),
            format!("{:.3}%", stability.spread_pct),
        ]
    };
    let rows = vec![
        row(&["measure", "min", "median", "max", "spread"]),
        line("fuel", &report.fuel_consumed, 0),
        line("time ms", &report.duration_ms, 2),
    ];
    print!(
        "{} runs with fuel {} and timeout {} ms; stopped by: {}\n\n{}",
        report.runs.len(),
        report.fuel,
        report.timeout_ms,
        stopped.join(", "),
        render(&rows)
    );
    if let (Some(budget_ms), Some(timeout_fuel)) = (report.fuel_budget_ms, report.timeout_fuel) {
        println!(
            "\nat the calibrated rate, the fuel budget lasts {budget_ms:.1} ms and the timeout is worth {timeout_fuel} fuel"
        );
    }
    Ok(ExitCode::SUCCESS)
}
