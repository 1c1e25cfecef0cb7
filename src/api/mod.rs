//! The HTTP API: `router(state)` builds every route, the OpenAPI description (generated from
//! the same handlers, so the two cannot drift), JSON errors for unknown routes, the body
//! limit and request metrics.

mod backends;
mod calibration;
mod detached;
mod error;
mod experiments;
mod extract;
mod limits;
mod policy;
mod record_json;
mod state;
mod submission;
mod system;
#[cfg(test)]
mod tests;
mod web;
mod workloads;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router, middleware};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::{AppError, ErrorBody};
pub use record_json::WorkloadRecord;
pub use state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Vulcan",
        description = "Run untrusted JavaScript and TypeScript in isolation tiers and compare them."
    ),
    tags(
        (name = "workloads", description = "Run workloads and read their history"),
        (name = "backends", description = "The isolation tiers and routing"),
        (name = "experiments", description = "Routing policies tried side by side on the same workloads"),
        (name = "system", description = "Health and metrics"),
    )
)]
struct ApiDoc;

/// The whole HTTP API.
pub fn router(state: AppState) -> Router {
    let (router, spec) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(
            workloads::workloads_create,
            workloads::workloads_list
        ))
        .routes(routes!(workloads::workloads_get))
        .routes(routes!(backends::backends_list))
        .routes(routes!(backends::route_preview))
        .routes(routes!(policy::policy_get, policy::policy_put))
        .routes(routes!(experiments::routing_experiment))
        .routes(routes!(calibration::calibrate))
        .routes(routes!(limits::limits_experiment))
        .routes(routes!(system::healthz))
        .routes(routes!(system::metrics))
        .split_for_parts();
    let metrics = state.workloads.metrics.clone();
    router
        .route("/openapi.json", get(move || async move { Json(spec) }))
        .route("/", get(web::index))
        .route("/assets/{name}", get(web::asset))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(
            state.workloads.limits.max_body_bytes(),
        ))
        .with_state(state)
        .route_layer(middleware::from_fn_with_state(
            metrics,
            crate::metrics::track_http,
        ))
}

async fn not_found(method: Method, uri: Uri) -> AppError {
    AppError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {method} {}", uri.path()),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> AppError {
    AppError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}
