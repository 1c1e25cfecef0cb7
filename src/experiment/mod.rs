//! Experiments: the same workloads run under several routing policies, summarised per policy;
//! fuel per millisecond ([`calibration`]); a workload under both a fuel budget and a timeout
//! ([`limits`]). This module holds the reports and their arithmetic; the API runs the
//! workloads.

pub mod calibration;
pub mod limits;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::backend::BackendKind;
use crate::policy::RoutingPolicy;

/// What happened to one run of one workload under one policy.
#[derive(Clone, Debug)]
pub struct Run {
    pub workload: usize,
    /// The tier that ran it, or `None` when the policy left it no tier or its limits did not
    /// fit the tier chosen (see `reason`).
    pub backend: Option<BackendKind>,
    /// The route reason, or why it was refused.
    pub reason: String,
    /// The workload's status, or `refused`.
    pub status: String,
    /// From routing to the outcome, inside the agent.
    pub latency_ms: f64,
    /// Inside the tier.
    pub duration_ms: f64,
}

/// p50, p95 and max of a set of times; zeros when there are none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Spread {
    pub p50: f64,
    pub p95: f64,
    pub max: f64,
}

impl Spread {
    /// Nearest-rank percentiles.
    pub fn of(values: &[f64]) -> Spread {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let rank = |q: f64| {
            let index = ((q * sorted.len() as f64).ceil() as usize).max(1) - 1;
            sorted.get(index).copied().unwrap_or(0.0)
        };
        Spread {
            p50: rank(0.50),
            p95: rank(0.95),
            max: sorted.last().copied().unwrap_or(0.0),
        }
    }
}

/// One workload under one policy, over its repeats.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Choice {
    /// The tier of its first run (`null` when refused).
    pub backend: Option<BackendKind>,
    /// The route reason of its first run, or why it was refused.
    pub reason: String,
    /// Runs by status.
    pub statuses: BTreeMap<String, u32>,
    pub latency_ms: Spread,
}

/// Everything measured for one policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PolicyReport {
    pub policy: RoutingPolicy,
    pub runs: u32,
    /// Runs by tier, and `none` for refused ones.
    pub tiers: BTreeMap<String, u32>,
    /// Runs by status; `refused` when no tier could take it.
    pub statuses: BTreeMap<String, u32>,
    /// From routing to the outcome, inside the agent, over runs that ran.
    pub latency_ms: Spread,
    /// Inside the tiers, over runs that ran.
    pub duration_ms: Spread,
    /// CPU time of the agent and its isolate hosts while this policy's runs went on.
    pub cpu_ms: f64,
    /// One entry per workload, in the experiment's order.
    pub choices: Vec<Choice>,
}

impl PolicyReport {
    pub fn new(policy: RoutingPolicy, workloads: usize, runs: &[Run], cpu_ms: f64) -> Self {
        let ran = |run: &&Run| run.backend.is_some();
        let latencies: Vec<f64> = runs.iter().filter(ran).map(|run| run.latency_ms).collect();
        let durations: Vec<f64> = runs.iter().filter(ran).map(|run| run.duration_ms).collect();
        let choices = (0..workloads)
            .map(|index| {
                let own: Vec<&Run> = runs.iter().filter(|run| run.workload == index).collect();
                let own_latencies: Vec<f64> = own
                    .iter()
                    .copied()
                    .filter(ran)
                    .map(|r| r.latency_ms)
                    .collect();
                Choice {
                    backend: own.first().and_then(|run| run.backend),
                    reason: own
                        .first()
                        .map(|run| run.reason.clone())
                        .unwrap_or_default(),
                    statuses: count(own.iter().map(|run| run.status.clone())),
                    latency_ms: Spread::of(&own_latencies),
                }
            })
            .collect();
        PolicyReport {
            policy,
            runs: runs.len() as u32,
            tiers: count(runs.iter().map(|run| match run.backend {
                Some(kind) => kind.as_str().to_owned(),
                None => "none".to_owned(),
            })),
            statuses: count(runs.iter().map(|run| run.status.clone())),
            latency_ms: Spread::of(&latencies),
            duration_ms: Spread::of(&durations),
            cpu_ms,
            choices,
        }
    }
}

fn count(keys: impl Iterator<Item = String>) -> BTreeMap<String, u32> {
    let mut counts = BTreeMap::new();
    for key in keys {
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

/// A routing experiment's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RoutingReport {
    /// The workloads' names, in order.
    pub workloads: Vec<String>,
    /// Runs of each workload under each policy.
    pub repeat: u32,
    /// One per policy, in the order asked for.
    pub policies: Vec<PolicyReport>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(workload: usize, backend: Option<BackendKind>, status: &str, ms: f64) -> Run {
        Run {
            workload,
            backend,
            reason: format!("reason {workload}"),
            status: status.into(),
            latency_ms: ms,
            duration_ms: ms / 2.0,
        }
    }

    #[test]
    fn spread_is_nearest_rank() {
        let values: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(
            Spread::of(&values),
            Spread {
                p50: 50.0,
                p95: 95.0,
                max: 100.0
            }
        );
        assert_eq!(Spread::of(&[7.0]).p95, 7.0);
        assert_eq!(Spread::of(&[]), Spread::default());
    }

    #[test]
    fn a_report_counts_tiers_and_statuses_and_leaves_refusals_out_of_latency() {
        let policy = crate::policy::built_in("wasm-first").unwrap();
        let runs = [
            run(0, Some(BackendKind::Wasm), "succeeded", 1.0),
            run(1, Some(BackendKind::Isolate), "timeout", 3.0),
            run(2, None, "refused", 0.0),
            run(0, Some(BackendKind::Wasm), "succeeded", 2.0),
        ];
        let report = PolicyReport::new(policy, 3, &runs, 5.0);
        assert_eq!(report.runs, 4);
        assert_eq!(report.tiers["wasm"], 2);
        assert_eq!(report.tiers["isolate"], 1);
        assert_eq!(report.tiers["none"], 1);
        assert_eq!(report.statuses["refused"], 1);
        assert_eq!(report.statuses["succeeded"], 2);
        assert_eq!(report.latency_ms.p50, 2.0);
        assert_eq!(report.latency_ms.max, 3.0);
        assert_eq!(report.choices.len(), 3);
        assert_eq!(report.choices[0].backend, Some(BackendKind::Wasm));
        assert_eq!(report.choices[0].statuses["succeeded"], 2);
        assert_eq!(report.choices[0].latency_ms.max, 2.0);
        assert_eq!(report.choices[2].backend, None);
        assert_eq!(report.choices[2].reason, "reason 2");
        assert_eq!(report.cpu_ms, 5.0);
    }
}
