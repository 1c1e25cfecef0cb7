//! A workload's record as a JSON response, serialised into a buffer sized for it up front.
//! `axum::Json` starts at 128 bytes and doubles, so a trivial workload's record (~700 bytes)
//! was copied three times on the way out: ~2 of the ~35 µs the agent adds to a trivial wasm
//! workload (timed in the handler; BENCHMARKS.md).

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::error::AppError;
use crate::error::Error;
use crate::store::WorkloadRecord;

pub struct RecordJson(pub WorkloadRecord);

impl IntoResponse for RecordJson {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(self.0.json_size_hint());
        match serde_json::to_writer(&mut body, &self.0) {
            Ok(()) => {
                let json = HeaderValue::from_static("application/json");
                ([(header::CONTENT_TYPE, json)], body).into_response()
            }
            Err(err) => AppError::from(Error::Engine(format!("serialising a record: {err}")))
                .into_response(),
        }
    }
}
