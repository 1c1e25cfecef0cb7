//! `vulcan calibrate`: measure the wasm tier's fuel per millisecond on a running server and
//! print it per reference workload.

use std::process::ExitCode;

use serde_json::json;

use super::http::post;
use super::table::{render, row};
use crate::config::CalibrateArgs;
use crate::experiment::calibration::Calibration;

pub async fn calibrate(args: CalibrateArgs) -> anyhow::Result<ExitCode> {
    let Some(answer) = post(&args.server, "/v1/calibrate", &json!(null), "to calibrate").await?
    else {
        return Ok(ExitCode::from(2));
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(ExitCode::SUCCESS);
    }
    let calibration: Calibration = serde_json::from_value(answer)?;
    let mut rows = vec![row(&["workload", "fuel", "run ms", "fuel/ms"])];
    for workload in &calibration.workloads {
        rows.push(vec![
            workload.name.clone(),
            workload.fuel.to_string(),
            format!("{:.2}", workload.run_ms),
            format!("{:.0}", workload.fuel_per_ms),
        ]);
    }
    print!(
        "{}\nfuel per ms: {:.0} overall ({:.0} to {:.0} by workload), medians of {} runs\n",
        render(&rows),
        calibration.fuel_per_ms,
        calibration.min_fuel_per_ms,
        calibration.max_fuel_per_ms,
        calibration.runs_per_workload
    );
    Ok(ExitCode::SUCCESS)
}
