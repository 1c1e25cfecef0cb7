//! Fuel versus wall-clock: one workload run N times on the wasm tier under both a fuel budget
//! and a timeout, reporting which limit stopped it and how stable each measure is. Fuel
//! counts instructions, so it repeats run after run; time depends on the machine's load.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::calibration::Calibration;
use crate::backend::Status;

/// One run's measurements.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LimitRun {
    pub status: Status,
    pub fuel_consumed: u64,
    /// Wall time inside the tier.
    pub duration_ms: f64,
}

/// How a measure varied over the runs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Stability {
    pub min: f64,
    pub median: f64,
    pub max: f64,
    /// (max − min) / median, in percent: 0 for a measure that never changed.
    pub spread_pct: f64,
}

impl Stability {
    pub fn of(values: &[f64]) -> Stability {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let (min, max) = (
            sorted.first().copied().unwrap_or(0.0),
            sorted.last().copied().unwrap_or(0.0),
        );
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
        let spread_pct = match median > 0.0 {
            true => (max - min) / median * 100.0,
            false => 0.0,
        };
        Stability {
            min,
            median,
            max,
            spread_pct,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LimitsReport {
    pub fuel: u64,
    pub timeout_ms: u64,
    /// Runs by what ended them: `fuel`, `timeout`, or `neither` (the workload finished, or
    /// failed on its own).
    pub stopped_by: BTreeMap<String, u32>,
    pub fuel_consumed: Stability,
    pub duration_ms: Stability,
    /// The time the fuel budget lasts at this agent's calibrated rate (after
    /// `POST /v1/calibrate`), and the fuel the timeout is worth.
    pub fuel_budget_ms: Option<f64>,
    pub timeout_fuel: Option<u64>,
    pub runs: Vec<LimitRun>,
}

impl LimitsReport {
    pub fn new(
        fuel: u64,
        timeout_ms: u64,
        runs: Vec<LimitRun>,
        calibration: Option<&Calibration>,
    ) -> LimitsReport {
        let mut stopped_by = BTreeMap::new();
        for run in &runs {
            let by = match run.status {
                Status::FuelExhausted => "fuel",
                Status::Timeout => "timeout",
                _ => "neither",
            };
            *stopped_by.entry(by.to_owned()).or_insert(0) += 1;
        }
        let fuels: Vec<f64> = runs.iter().map(|run| run.fuel_consumed as f64).collect();
        let times: Vec<f64> = runs.iter().map(|run| run.duration_ms).collect();
        let rate = calibration.map(|calibration| calibration.fuel_per_ms);
        LimitsReport {
            fuel,
            timeout_ms,
            stopped_by,
            fuel_consumed: Stability::of(&fuels),
            duration_ms: Stability::of(&times),
            fuel_budget_ms: rate
                .filter(|rate| *rate > 0.0)
                .map(|rate| fuel as f64 / rate),
            timeout_fuel: rate.map(|rate| (timeout_ms as f64 * rate) as u64),
            runs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: Status, fuel_consumed: u64, duration_ms: f64) -> LimitRun {
        LimitRun {
            status,
            fuel_consumed,
            duration_ms,
        }
    }

    #[test]
    fn counts_what_stopped_each_run_and_how_each_measure_varied() {
        let runs = vec![
            run(Status::FuelExhausted, 1_000, 10.0),
            run(Status::FuelExhausted, 1_000, 12.0),
            run(Status::Timeout, 900, 20.0),
            run(Status::Succeeded, 500, 5.0),
        ];
        let calibration = Calibration::from_runs(&[("a", vec![(200, 1.0)])], 0);
        let report = LimitsReport::new(1_000, 20, runs, Some(&calibration));
        assert_eq!(report.stopped_by["fuel"], 2);
        assert_eq!(report.stopped_by["timeout"], 1);
        assert_eq!(report.stopped_by["neither"], 1);
        assert_eq!(report.fuel_consumed.min, 500.0);
        assert_eq!(report.fuel_consumed.median, 1_000.0);
        assert_eq!(report.fuel_consumed.spread_pct, 50.0);
        assert_eq!(report.duration_ms.max, 20.0);
        assert_eq!(report.fuel_budget_ms, Some(5.0));
        assert_eq!(report.timeout_fuel, Some(4_000));
        let uncalibrated = LimitsReport::new(1, 1, vec![], None);
        assert_eq!(uncalibrated.fuel_budget_ms, None);
        assert_eq!(uncalibrated.duration_ms.spread_pct, 0.0);
    }
}
