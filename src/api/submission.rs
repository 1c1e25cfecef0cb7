//! How a client asked for its workload: `Prefer: respond-async` (answer `202` at once, with
//! `Location`), and `Idempotency-Key` (the same key within 24 h is the same workload); and the
//! answers that say where a workload is.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::record_json::WorkloadRecord;
use crate::error::Error;
use crate::store::Record;

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Longest idempotency key.
const MAX_KEY_BYTES: usize = 255;

/// Whether the request carries `Prefer: respond-async` (RFC 7240), among other preferences.
pub fn prefers_async(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|preference| {
            let name = preference.split(';').next().unwrap_or("").trim();
            name.eq_ignore_ascii_case("respond-async")
        })
}

/// The request's idempotency key: 1 to 255 visible ASCII characters, or none.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Error> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or("");
    let valid =
        (1..=MAX_KEY_BYTES).contains(&key.len()) && key.bytes().all(|byte| byte.is_ascii_graphic());
    match valid {
        true => Ok(Some(key.to_owned())),
        false => Err(Error::InvalidRequest(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_BYTES} visible ASCII characters"
        ))),
    }
}

/// A workload's record as it is: `200` once it has ended, else `202` with where to ask again.
pub fn where_it_is(record: Record, recorded: bool) -> Response {
    let ended = record.status.is_final();
    let location = format!("/v1/workloads/{}", record.id);
    let answer = WorkloadRecord::new(record, recorded);
    match ended {
        true => answer.into_response(),
        false => {
            let mut response = (StatusCode::ACCEPTED, answer).into_response();
            let headers = response.headers_mut();
            if let Ok(location) = HeaderValue::from_str(&location) {
                headers.insert(header::LOCATION, location);
            }
            headers.insert(
                "preference-applied",
                HeaderValue::from_static("respond-async"),
            );
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn respond_async_is_found_among_other_preferences() {
        assert!(prefers_async(&headers(&[("prefer", "respond-async")])));
        assert!(prefers_async(&headers(&[(
            "prefer",
            "return=minimal, Respond-Async; wait=10"
        )])));
        assert!(prefers_async(&headers(&[
            ("prefer", "wait=5"),
            ("prefer", "respond-async")
        ])));
        assert!(!prefers_async(&headers(&[(
            "prefer",
            "return=representation"
        )])));
        assert!(!prefers_async(&headers(&[])));
    }

    #[test]
    fn idempotency_keys_are_short_visible_ascii() {
        let key = |value: &str| idempotency_key(&headers(&[("idempotency-key", value)]));
        assert_eq!(
            key("order-42/retry").unwrap(),
            Some("order-42/retry".into())
        );
        assert!(key("").is_err());
        assert!(key("has space").is_err());
        assert!(key(&"k".repeat(256)).is_err());
        assert_eq!(idempotency_key(&headers(&[])).unwrap(), None);
    }
}
