//! Access control at the door: which scope each route needs ([`need`], a pure function), and
//! the middleware that finds the caller from its bearer token, refuses it (401, 403) or
//! hands it to the handler as an extension.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::AppError;
use super::state::AppState;
use crate::access::{AuthMode, Scope};
use crate::error::Error;

/// What a route needs of its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Nothing: health, the page and its assets, the OpenAPI description.
    Open,
    /// An admin key or the metrics token.
    Metrics,
    /// Any valid key.
    Key,
    Scope(Scope),
}

/// The scope a request needs, by method and path.
pub fn need(method: &Method, path: &str) -> Need {
    let method = method.as_str();
    match (method, path) {
        (_, "/healthz" | "/" | "/openapi.json") => Need::Open,
        (_, path) if path.starts_with("/assets/") => Need::Open,
        (_, "/metrics") => Need::Metrics,
        ("POST", "/v1/workloads" | "/v1/route") => Need::Scope(Scope::Run),
        ("GET", "/v1/workloads" | "/v1/usage") => Need::Scope(Scope::Read),
        ("GET", path) if path.starts_with("/v1/workloads/") => Need::Scope(Scope::Read),
        ("PUT", "/v1/policy")
        | ("POST", "/v1/calibrate" | "/v1/experiments/routing" | "/v1/experiments/limits") => {
            Need::Scope(Scope::Admin)
        }
        (_, path) if path.starts_with("/v1/keys") || path.starts_with("/v1/tenants") => {
            Need::Scope(Scope::Admin)
        }
        _ => Need::Key,
    }
}

/// The bearer token of a request, if it sent one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// Finds the caller, refuses what it may not do, and passes it on as an extension.
pub async fn authorize(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let need = need(request.method(), request.uri().path());
    let access = &state.access;
    let token = bearer(request.headers());
    let allowed = match need {
        Need::Open => return next.run(request).await,
        Need::Metrics if access.mode == AuthMode::Off || access.is_metrics_token(token) => {
            return next.run(request).await;
        }
        Need::Metrics => check(&state, token, Scope::Admin).await,
        Need::Key => access.authenticate(token).await,
        Need::Scope(scope) => check(&state, token, scope).await,
    };
    match allowed {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(err) => {
            if let Some(reason) = refusal_reason(&err) {
                access.metrics.refused(reason);
            }
            AppError::from(err).into_response()
        }
    }
}

async fn check(
    state: &AppState,
    token: Option<&str>,
    scope: Scope,
) -> Result<crate::access::Caller, Error> {
    let caller = state.access.authenticate(token).await?;
    caller.require(scope)?;
    Ok(caller)
}

/// The `reason` label of a refused request, for the metrics (a store error is no refusal).
fn refusal_reason(err: &Error) -> Option<&'static str> {
    match err {
        Error::Unauthenticated(_) => Some("unauthenticated"),
        Error::Forbidden(_) => Some("forbidden"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_needs_what_its_scope_says() {
        let cases = [
            (Method::GET, "/healthz", Need::Open),
            (Method::GET, "/", Need::Open),
            (Method::GET, "/assets/index.js", Need::Open),
            (Method::GET, "/openapi.json", Need::Open),
            (Method::GET, "/metrics", Need::Metrics),
            (Method::POST, "/v1/workloads", Need::Scope(Scope::Run)),
            (Method::POST, "/v1/route", Need::Scope(Scope::Run)),
            (Method::GET, "/v1/workloads", Need::Scope(Scope::Read)),
            (Method::GET, "/v1/workloads/x", Need::Scope(Scope::Read)),
            (Method::GET, "/v1/usage", Need::Scope(Scope::Read)),
            (Method::GET, "/v1/backends", Need::Key),
            (Method::GET, "/v1/policy", Need::Key),
            (Method::GET, "/v1/whoami", Need::Key),
            (Method::PUT, "/v1/policy", Need::Scope(Scope::Admin)),
            (Method::POST, "/v1/calibrate", Need::Scope(Scope::Admin)),
            (
                Method::POST,
                "/v1/experiments/routing",
                Need::Scope(Scope::Admin),
            ),
            (
                Method::POST,
                "/v1/experiments/limits",
                Need::Scope(Scope::Admin),
            ),
            (Method::GET, "/v1/keys", Need::Scope(Scope::Admin)),
            (Method::DELETE, "/v1/keys/abc", Need::Scope(Scope::Admin)),
            (Method::PUT, "/v1/tenants/t", Need::Scope(Scope::Admin)),
            (Method::GET, "/v1/nothing", Need::Key),
        ];
        for (method, path, expected) in cases {
            assert_eq!(need(&method, path), expected, "{method} {path}");
        }
    }

    #[test]
    fn only_a_bearer_token_is_taken() {
        let headers = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            headers
        };
        assert_eq!(bearer(&headers("Bearer vk_x")), Some("vk_x"));
        assert_eq!(bearer(&headers("bearer  vk_x ")), Some("vk_x"));
        assert_eq!(bearer(&headers("Basic dXNlcg==")), None);
        assert_eq!(bearer(&headers("Bearer ")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
