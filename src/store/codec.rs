//! Rows as both engines store them: a record's summary and its own JSON, and the row's
//! `status` column, which is the truth (a record queued again still says `running` inside).

use super::record::summarise;
use super::{Record, WorkloadSummary};
use crate::backend::Status;
use crate::error::{Error, Result};

/// A record's summary and its JSON, as stored.
pub(super) fn encode(record: &Record) -> (String, String) {
    let summary = serde_json::to_string(&summarise(record)).expect("summary serialises");
    let json = serde_json::to_string(record).expect("record serialises");
    (summary, json)
}

pub(super) fn decode_record(status_column: &str, json: &str) -> Result<Record> {
    let mut record: Record = decode(json)?;
    record.status = status(status_column)?;
    Ok(record)
}

pub(super) fn decode_summary(status_column: &str, json: &str) -> Result<WorkloadSummary> {
    let mut summary: WorkloadSummary = decode(json)?;
    summary.status = status(status_column)?;
    Ok(summary)
}

fn status(column: &str) -> Result<Status> {
    Status::parse(column).ok_or_else(|| Error::Store(format!("unknown status {column:?}")))
}

fn decode<T: serde::de::DeserializeOwned>(json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|err| Error::Store(format!("corrupt history record: {err}")))
}
