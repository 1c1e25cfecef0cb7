//! `vulcan experiment routing`: read workloads and policies here, have the server replay the
//! workloads under each policy (`POST /v1/experiments/routing`), print the report as tables
//! or JSON. Exit code 0 when the report came back, 2 when the request failed.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::http::post;
use super::run::language_of;
use super::table::{render, row};
use crate::config::{ExperimentCommand, RoutingExperimentArgs};
use crate::experiment::RoutingReport;
use crate::policy::{BUILT_IN, load_file};

pub async fn experiment(command: ExperimentCommand) -> anyhow::Result<ExitCode> {
    match command {
        ExperimentCommand::Routing(args) => routing(args).await,
        ExperimentCommand::Limits(args) => super::limits::limits(args).await,
    }
}

async fn routing(args: RoutingExperimentArgs) -> anyhow::Result<ExitCode> {
    let policies = args
        .policies
        .iter()
        .map(|policy| policy_value(policy))
        .collect::<anyhow::Result<Vec<Value>>>()?;
    let mut body = json!({"policies": policies, "repeat": args.repeat});
    let mut inline = Vec::new();
    for source in &args.workloads {
        match source.as_str() {
            "history" => body["history"] = json!({"limit": args.history_limit}),
            dir => inline.extend(read_workloads(Path::new(dir))?),
        }
    }
    if !inline.is_empty() {
        body["workloads"] = Value::Array(inline);
    }
    let Some(answer) = post(
        &args.server,
        "/v1/experiments/routing",
        &body,
        "the experiment",
    )
    .await?
    else {
        return Ok(ExitCode::from(2));
    };
    match args.json {
        true => println!("{}", serde_json::to_string_pretty(&answer)?),
        false => print!("{}", tables(&serde_json::from_value(answer)?)),
    }
    Ok(ExitCode::SUCCESS)
}

/// A built-in name as itself; a file read and validated here, sent inline.
fn policy_value(arg: &str) -> anyhow::Result<Value> {
    if BUILT_IN.iter().any(|(name, _)| *name == arg) {
        return Ok(json!(arg));
    }
    let policy = load_file(Path::new(arg)).map_err(anyhow::Error::msg)?;
    Ok(serde_json::to_value(policy)?)
}

/// Every workload file in `dir`, by name; other files are skipped.
fn read_workloads(dir: &Path) -> anyhow::Result<Vec<Value>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading workloads from {}", dir.display()))?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()?;
    paths.sort();
    let mut workloads = Vec::new();
    for path in paths {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let text = || {
            std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
        };
        let workload = match path.extension().and_then(|ext| ext.to_str()) {
            Some("js" | "mjs" | "ts" | "mts") => {
                json!({"code": text()?, "language": language_of(&path)})
            }
            Some("json") => serde_json::from_str(&text()?)
                .with_context(|| format!("{} is not valid JSON", path.display()))?,
            _ => continue,
        };
        workloads.push(json!({"name": name, "workload": workload}));
    }
    if workloads.is_empty() {
        bail!(
            "no workloads in {} (*.js, *.mjs, *.ts, *.mts or *.json)",
            dir.display()
        );
    }
    Ok(workloads)
}

/// The report as two tables: per policy, and the tier each policy chose per workload.
fn tables(report: &RoutingReport) -> String {
    let mut summary = vec![row(&[
        "policy", "runs", "isolate", "wasm", "none", "p50 ms", "p95 ms", "cpu ms", "statuses",
    ])];
    for policy in &report.policies {
        let tier = |name: &str| policy.tiers.get(name).copied().unwrap_or(0).to_string();
        let statuses: Vec<String> = policy
            .statuses
            .iter()
            .map(|(status, count)| format!("{status} {count}"))
            .collect();
        summary.push(vec![
            policy.policy.name.clone(),
            policy.runs.to_string(),
            tier("isolate"),
            tier("wasm"),
            tier("none"),
            format!("{:.2}", policy.latency_ms.p50),
            format!("{:.2}", policy.latency_ms.p95),
            format!("{:.1}", policy.cpu_ms),
            statuses.join(", "),
        ]);
    }
    let mut choices = vec![
        std::iter::once("workload".to_owned())
            .chain(report.policies.iter().map(|p| p.policy.name.clone()))
            .collect::<Vec<_>>(),
    ];
    for (index, name) in report.workloads.iter().enumerate() {
        let mut line = vec![name.clone()];
        for policy in &report.policies {
            let choice = &policy.choices[index];
            line.push(match choice.backend {
                Some(kind) => kind.as_str().to_owned(),
                None => "refused".to_owned(),
            });
        }
        choices.push(line);
    }
    format!(
        "{} workloads × {} repeat(s) per policy; latency is inside the agent, routing to outcome\n\n{}\nTier chosen per workload (first run)\n\n{}",
        report.workloads.len(),
        report.repeat,
        render(&summary),
        render(&choices)
    )
}
