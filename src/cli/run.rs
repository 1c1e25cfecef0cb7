//! `vulcan run FILE`: send one workload to a running server, print its output on stdout and
//! its logs and errors on stderr. Exit code 0 when it succeeded, 1 when the workload failed
//! (any other status), 2 when the request itself failed.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::{Value, json};

use super::http::post;
use crate::config::RunArgs;

pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let code = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let input: Value = serde_json::from_str(&args.input).context("--input is not valid JSON")?;
    let language = language_of(&args.file);
    let mut body = json!({
        "code": code,
        "language": language,
        "input": input,
        "isolation": args.isolation,
    });
    for (name, value) in [
        ("timeout_ms", args.timeout_ms),
        ("memory_mb", args.memory_mb),
        ("fuel", args.fuel),
    ] {
        if let Some(value) = value {
            body[name] = json!(value);
        }
    }
    let Some(answer) = post(&args.server, "/v1/workloads", &body, "the workload").await? else {
        return Ok(ExitCode::from(2));
    };
    for line in answer["logs"].as_array().into_iter().flatten() {
        let level = line["level"].as_str().unwrap_or("log");
        let message = line["message"].as_str().unwrap_or("");
        eprintln!("[{level}] {message}");
    }
    let outcome = answer["status"].as_str().unwrap_or("unknown");
    let backend = answer["backend"].as_str().unwrap_or("?");
    let duration = answer["duration_ms"].as_f64().unwrap_or(0.0);
    if outcome == "succeeded" {
        println!("{}", serde_json::to_string_pretty(&answer["output"])?);
        eprintln!("vulcan: succeeded on {backend} in {duration:.2} ms");
        return Ok(ExitCode::SUCCESS);
    }
    let error = &answer["error"];
    let position = match (error["line"].as_u64(), error["column"].as_u64()) {
        (Some(line), Some(column)) => format!(" at {line}:{column}"),
        _ => String::new(),
    };
    eprintln!(
        "vulcan: {outcome} on {backend}: {}: {}{position}",
        error["name"].as_str().unwrap_or("Error"),
        error["message"].as_str().unwrap_or("")
    );
    Ok(ExitCode::from(1))
}

/// A code file's language, by its extension.
pub(super) fn language_of(file: &Path) -> &'static str {
    match file.extension().and_then(|ext| ext.to_str()) {
        Some("ts" | "mts") => "typescript",
        _ => "javascript",
    }
}
