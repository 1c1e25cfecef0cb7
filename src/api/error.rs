//! Every error that reaches HTTP, as `{"error": {"code", "message"}}` with exactly one status
//! code per kind. Client errors carry their message and are not logged as errors; internal
//! ones say "internal error" to the client and are logged once.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::quotas::RateState;
use crate::connections::BodyTimeout;
use crate::error::Error;

/// Seconds a client is asked to wait after a 429.
const RETRY_AFTER_SECS: u64 = 1;

#[derive(Debug)]
pub struct AppError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// For a 429: seconds to wait.
    retry_after_secs: u64,
    /// For a 429 of a tenant's rate: where it stands.
    rate: Option<RateState>,
}

/// The body of every error response.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `invalid_json`, `invalid_request`, `payload_too_large`, …
    pub code: String,
    /// For people; may change between versions.
    pub message: String,
}

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AppError {
            status,
            code,
            message: message.into(),
            retry_after_secs: RETRY_AFTER_SECS,
            rate: None,
        }
    }

    /// With `RateLimit-*` headers saying where the tenant's rate stands.
    pub fn with_rate(mut self, rate: Option<RateState>) -> Self {
        self.rate = rate;
        self
    }
}

impl From<Error> for AppError {
    fn from(err: Error) -> Self {
        let (status, code) = match &err {
            Error::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            Error::InvalidPolicy(_) => (StatusCode::BAD_REQUEST, "invalid_policy"),
            Error::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Error::Overloaded => (StatusCode::TOO_MANY_REQUESTS, "overloaded"),
            Error::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            Error::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Error::RateLimited {
                retry_after_secs, ..
            } => {
                let mut error = AppError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    err.to_string(),
                );
                error.retry_after_secs = *retry_after_secs;
                return error;
            }
            Error::TenantBusy { .. } => (StatusCode::TOO_MANY_REQUESTS, "tenant_in_flight"),
            Error::OverQuota(_) => (StatusCode::BAD_REQUEST, "over_quota"),
            Error::QueueFull(_) => (StatusCode::TOO_MANY_REQUESTS, "queue_full"),
            Error::TierUnavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "tier_unavailable"),
            Error::NoTierAvailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "no_tier_available"),
            Error::Unroutable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unroutable"),
            Error::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "history_unavailable"),
            Error::Engine(_) | Error::Io(_) => {
                tracing::error!(error = %err, "internal error");
                return AppError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                );
            }
        };
        AppError::new(status, code, err.to_string())
    }
}

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        if let Some(timeout) = BodyTimeout::find(&rejection) {
            return AppError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                timeout.to_string(),
            );
        }
        let (status, code) = match &rejection {
            JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
            JsonRejection::JsonDataError(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            JsonRejection::MissingJsonContentType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            _ => (StatusCode::BAD_REQUEST, "invalid_request"),
        };
        AppError::new(status, code, rejection.body_text())
    }
}

impl From<QueryRejection> for AppError {
    fn from(rejection: QueryRejection) -> Self {
        AppError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            rejection.body_text(),
        )
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        match self.status {
            StatusCode::TOO_MANY_REQUESTS => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(self.retry_after_secs),
                );
            }
            StatusCode::UNAUTHORIZED => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"vulcan\""),
                );
            }
            _ => {}
        }
        if let Some(rate) = self.rate {
            rate_headers(headers, rate);
        }
        response
    }
}

/// `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds), as in the IETF
/// draft on rate-limit header fields.
pub fn rate_headers(headers: &mut axum::http::HeaderMap, rate: RateState) {
    for (name, value) in [
        ("ratelimit-limit", rate.limit),
        ("ratelimit-remaining", rate.remaining),
        ("ratelimit-reset", rate.reset_secs),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
}
