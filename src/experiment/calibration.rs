//! Fuel per millisecond on this machine: reference workloads of different kinds run on the
//! wasm tier, each timed and metered, so a time budget can be turned into a fuel budget and
//! back. Fuel counts wasm instructions, so the rate depends on what the code does: the
//! report keeps each workload's rate beside the overall one.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The reference workloads: name and code, each ~15–40 ms on the wasm tier here.
pub const REFERENCE: [(&str, &str); 4] = [
    (
        "arithmetic",
        "export default () => { let s = 0; for (let i = 0; i < 60000; i++) s = (s + i * i) % 1000003; return s; }",
    ),
    (
        "strings",
        "export default () => { let n = 0; for (let i = 0; i < 5000; i++) n += ('item ' + i).toUpperCase().split(' ')[1].length; return n; }",
    ),
    (
        "json",
        "export default () => { const rows = Array.from({ length: 500 }, (_, i) => ({ id: i, name: 'row ' + i, tags: ['a', 'b'] })); let n = 0; for (let i = 0; i < 3; i++) n += JSON.parse(JSON.stringify(rows)).length; return n; }",
    ),
    (
        "objects",
        "export default () => { const xs = []; for (let i = 0; i < 6000; i++) xs.push({ k: (i * 7919) % 10007 }); xs.sort((a, b) => a.k - b.k); return xs[0].k; }",
    ),
];

/// One reference workload's measurements.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReferenceRate {
    pub name: String,
    /// Fuel of one run (the same every run, give or take a few hundredths of a percent).
    pub fuel: u64,
    /// Median time of the guest's call, instantiation excluded.
    pub run_ms: f64,
    pub fuel_per_ms: f64,
}

/// What calibration measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Calibration {
    /// All the reference workloads' fuel over all their time.
    pub fuel_per_ms: f64,
    /// The slowest and fastest reference workloads' rates: how far one number can be off
    /// for a given piece of code.
    pub min_fuel_per_ms: f64,
    pub max_fuel_per_ms: f64,
    pub runs_per_workload: u32,
    /// Milliseconds since the Unix epoch when it was measured.
    pub measured_at_ms: u64,
    pub workloads: Vec<ReferenceRate>,
}

impl Calibration {
    /// From each reference workload's runs as `(fuel, run_ms)` pairs.
    pub fn from_runs(runs: &[(&str, Vec<(u64, f64)>)], measured_at_ms: u64) -> Calibration {
        let workloads: Vec<ReferenceRate> = runs
            .iter()
            .map(|(name, runs)| {
                let mut times: Vec<f64> = runs.iter().map(|(_, ms)| *ms).collect();
                times.sort_by(f64::total_cmp);
                let run_ms = times.get(times.len() / 2).copied().unwrap_or(0.0);
                let mut fuels: Vec<u64> = runs.iter().map(|(fuel, _)| *fuel).collect();
                fuels.sort_unstable();
                let fuel = fuels.get(fuels.len() / 2).copied().unwrap_or(0);
                ReferenceRate {
                    name: (*name).to_owned(),
                    fuel,
                    run_ms,
                    fuel_per_ms: rate(fuel, run_ms),
                }
            })
            .collect();
        let total_fuel = workloads.iter().map(|w| w.fuel).sum();
        let total_ms = workloads.iter().map(|w| w.run_ms).sum();
        let rates = workloads.iter().map(|w| w.fuel_per_ms);
        Calibration {
            fuel_per_ms: rate(total_fuel, total_ms),
            min_fuel_per_ms: rates.clone().fold(f64::INFINITY, f64::min),
            max_fuel_per_ms: rates.fold(0.0, f64::max),
            runs_per_workload: runs.first().map_or(0, |(_, runs)| runs.len() as u32),
            measured_at_ms,
            workloads,
        }
    }
}

fn rate(fuel: u64, ms: f64) -> f64 {
    match ms > 0.0 {
        true => fuel as f64 / ms,
        false => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_medians_and_the_overall_rate_weighs_by_time() {
        let runs = [
            ("a", vec![(1_000, 2.0), (1_000, 1.0), (1_002, 9.0)]),
            ("b", vec![(9_000, 3.0), (9_000, 3.0), (9_000, 3.0)]),
        ];
        let calibration = Calibration::from_runs(&runs, 7);
        assert_eq!(calibration.workloads[0].fuel, 1_000);
        assert_eq!(calibration.workloads[0].run_ms, 2.0);
        assert_eq!(calibration.workloads[0].fuel_per_ms, 500.0);
        assert_eq!(calibration.workloads[1].fuel_per_ms, 3_000.0);
        assert_eq!(calibration.fuel_per_ms, 10_000.0 / 5.0);
        assert_eq!(calibration.min_fuel_per_ms, 500.0);
        assert_eq!(calibration.max_fuel_per_ms, 3_000.0);
        assert_eq!(calibration.runs_per_workload, 3);
        assert_eq!(calibration.measured_at_ms, 7);
    }
}
