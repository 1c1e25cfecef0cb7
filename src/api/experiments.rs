//! `/v1/experiments/routing`: replay a set of workloads (sent inline, a slice of the
//! history, or both) under each of several routing policies on the running tiers, and report per
//! policy the tiers chosen, latency, statuses and CPU time.
//!
//! Runs go one at a time, so each one's latency and the CPU counted for its policy are its
//! own; the order of policies rotates from one repeat to the next, so none always runs
//! first. Runs are not written to the history: a replay of the history would replay them.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::{AppError, ErrorBody};
use super::extract::ApiJson;
use super::state::AppState;
use crate::backend::{BackendKind, Status};
use crate::cpu_time::process_tree_cpu;
use crate::error::Error;
use crate::experiment::{PolicyReport, RoutingReport, Run};
use crate::policy::{PolicyChoice, RoutingPolicy};
use crate::router::Isolation;
use crate::store::ListQuery;
use crate::workloads::WorkloadRequest;

const MAX_POLICIES: usize = 8;
const MAX_WORKLOADS: usize = 200;
const MAX_REPEAT: u32 = 20;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingExperiment {
    /// 1 to 8 policies: built-in names or whole policies.
    #[schema(min_items = 1, max_items = 8)]
    pub policies: Vec<PolicyChoice>,
    /// Workloads to replay, in this order; `history` adds recorded ones after them. 1–200
    /// workloads in all.
    #[schema(max_items = 200)]
    pub workloads: Option<Vec<NamedWorkload>>,
    /// Recorded workloads to replay too: the newest that match, oldest first.
    pub history: Option<HistorySlice>,
    /// Runs of each workload under each policy (1–20, default 1).
    #[schema(minimum = 1, maximum = 20)]
    pub repeat: Option<u32>,
}

/// A workload as `POST /v1/workloads` takes it, with a name for the report. Its `isolation`
/// is ignored: every run is `auto`, since the policy is what is being tried.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NamedWorkload {
    pub name: String,
    pub workload: WorkloadRequest,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HistorySlice {
    /// How many recorded workloads (1–200).
    #[schema(minimum = 1, maximum = 200)]
    pub limit: u32,
    pub status: Option<Status>,
    pub backend: Option<BackendKind>,
}

#[utoipa::path(
    post,
    path = "/v1/experiments/routing",
    tag = "experiments",
    request_body = RoutingExperiment,
    responses(
        (status = 200, description = "Per policy: tiers chosen, latency, statuses, CPU time", body = RoutingReport),
        (status = 400, description = "Malformed request or policy, or too many runs", body = ErrorBody),
        (status = 408, description = "The body did not arrive within `--body-read-timeout-ms`; the connection is then closed", body = ErrorBody),
        (status = 413, description = "Body over its size limit", body = ErrorBody),
        (status = 415, description = "Content type is not application/json", body = ErrorBody),
        (status = 429, description = "Too many workloads in flight; see Retry-After", body = ErrorBody),
        (status = 503, description = "The history store is unavailable", body = ErrorBody),
    )
)]
pub async fn routing_experiment(
    State(state): State<AppState>,
    ApiJson(experiment): ApiJson<RoutingExperiment>,
) -> Result<Json<RoutingReport>, AppError> {
    let policies = policies(experiment.policies)?;
    if experiment.workloads.is_none() && experiment.history.is_none() {
        return Err(invalid("give workloads, history, or both").into());
    }
    let mut workloads = experiment.workloads.unwrap_or_default();
    if let Some(slice) = experiment.history {
        workloads.extend(from_history(&state, slice).await?);
    }
    let repeat = experiment.repeat.unwrap_or(1);
    check_counts(
        policies.len(),
        workloads.len(),
        repeat,
        state.workloads.limits.max_experiment_runs,
    )?;
    // Admitted: a client that hangs up does not cut a run short.
    let running = state.clone();
    let report = state
        .admitted("experiment", async move {
            replay(&running, policies, workloads, repeat).await
        })
        .await?;
    Ok(Json(report))
}

async fn replay(
    state: &AppState,
    policies: Vec<RoutingPolicy>,
    workloads: Vec<NamedWorkload>,
    repeat: u32,
) -> RoutingReport {
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); policies.len()];
    let mut cpu_ms = vec![0.0; policies.len()];
    for round in 0..repeat as usize {
        for turn in 0..policies.len() {
            let index = (turn + round) % policies.len();
            let cpu_before = process_tree_cpu();
            for (number, named) in workloads.iter().enumerate() {
                let run = run_once(state, &named.workload, &policies[index], number).await;
                runs[index].push(run);
            }
            let cpu = process_tree_cpu().saturating_sub(cpu_before);
            cpu_ms[index] += cpu.as_secs_f64() * 1e3;
        }
    }
    let reports = policies
        .into_iter()
        .zip(runs.iter().zip(cpu_ms))
        .map(|(policy, (runs, cpu))| PolicyReport::new(policy, workloads.len(), runs, cpu))
        .collect();
    RoutingReport {
        workloads: workloads.into_iter().map(|named| named.name).collect(),
        repeat,
        policies: reports,
    }
}

async fn run_once(
    state: &AppState,
    request: &WorkloadRequest,
    policy: &RoutingPolicy,
    workload: usize,
) -> Run {
    let mut request = request.clone();
    request.isolation = Isolation::Auto;
    let started = Instant::now();
    match state.workloads.accept(request, policy) {
        Ok(accepted) => {
            let record = state.workloads.run(accepted).await;
            Run {
                workload,
                backend: Some(record.backend),
                reason: record.route_reason,
                status: record.status.as_str().to_owned(),
                latency_ms: started.elapsed().as_secs_f64() * 1e3,
                duration_ms: record.duration_ms,
            }
        }
        Err(err) => Run {
            workload,
            backend: None,
            reason: err.to_string(),
            status: "refused".to_owned(),
            latency_ms: 0.0,
            duration_ms: 0.0,
        },
    }
}

fn policies(choices: Vec<PolicyChoice>) -> Result<Vec<RoutingPolicy>, Error> {
    if choices.is_empty() || choices.len() > MAX_POLICIES {
        let message = format!("give 1 to {MAX_POLICIES} policies, got {}", choices.len());
        return Err(invalid(&message));
    }
    choices
        .into_iter()
        .enumerate()
        .map(|(index, choice)| {
            let policy = choice
                .resolve()
                .map_err(|err| Error::InvalidPolicy(format!("policies[{index}]: {err}")))?;
            Ok(RoutingPolicy::clone(&policy))
        })
        .collect()
}

fn check_counts(
    policies: usize,
    workloads: usize,
    repeat: u32,
    max_runs: u64,
) -> Result<(), Error> {
    if workloads == 0 || workloads > MAX_WORKLOADS {
        let message = format!("give 1 to {MAX_WORKLOADS} workloads, got {workloads}");
        return Err(invalid(&message));
    }
    if !(1..=MAX_REPEAT).contains(&repeat) {
        return Err(invalid(&format!(
            "repeat must be between 1 and {MAX_REPEAT}, got {repeat}"
        )));
    }
    let total = (policies * workloads) as u64 * u64::from(repeat);
    if total > max_runs {
        return Err(invalid(&format!(
            "{policies} policies × {workloads} workloads × {repeat} repeats is {total} runs, over the limit of {max_runs}"
        )));
    }
    Ok(())
}

/// The newest recorded workloads matching the slice, oldest first, as requests.
async fn from_history(state: &AppState, slice: HistorySlice) -> Result<Vec<NamedWorkload>, Error> {
    if !(1..=MAX_WORKLOADS as u32).contains(&slice.limit) {
        let message = format!(
            "history.limit must be between 1 and {MAX_WORKLOADS}, got {}",
            slice.limit
        );
        return Err(invalid(&message));
    }
    let query = ListQuery {
        limit: slice.limit,
        before: None,
        status: slice.status,
        backend: slice.backend,
        tenant: None,
    };
    let mut workloads = Vec::new();
    for summary in state.workloads.history.list(query).await?.into_iter().rev() {
        let Some(record) = state.workloads.history.get(summary.id.clone()).await? else {
            continue;
        };
        workloads.push(NamedWorkload {
            name: summary.id,
            workload: WorkloadRequest {
                code: record.code,
                language: record.language,
                input: Some(record.input),
                isolation: Isolation::Auto,
                timeout_ms: Some(record.limits.timeout_ms),
                memory_mb: Some(record.limits.memory_mb),
                fuel: record.limits.fuel,
                tag: record.tag,
                callback_url: None,
            },
        });
    }
    Ok(workloads)
}

fn invalid(message: &str) -> Error {
    Error::InvalidRequest(message.to_owned())
}
