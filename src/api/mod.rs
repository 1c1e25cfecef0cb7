//! The HTTP API: `router(state)` builds every route, the OpenAPI description (generated from
//! the same handlers, so the two cannot drift), access control at the door (`auth.rs`), JSON
//! errors for unknown routes, the body limit and request metrics.

mod auth;
mod backends;
mod calibration;
mod detached;
mod error;
mod experiments;
mod extract;
mod keys;
mod limits;
mod policy;
mod record_json;
mod state;
mod submission;
mod system;
mod tenants;
#[cfg(test)]
mod tests;
mod web;
mod whoami;
mod workloads;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router, middleware};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};
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
        (name = "access", description = "API keys, tenants' quotas and usage"),
    ),
    modifiers(&Security)
)]
struct ApiDoc;

/// Declares the bearer scheme, and on every operation that needs a key (with `--auth
/// required`) the requirement and its 401 and 403 answers.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("vk_<id>_<secret>")
            .description(Some(
                "An API key (`vulcan keys create`), when the agent runs with `--auth required`",
            ))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
        let error = |description: &str| {
            let content = Content::new(Some(Ref::from_schema_name("ErrorBody")));
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content("application/json", content)
                    .build(),
            )
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                (Method::GET, &mut item.get),
                (Method::PUT, &mut item.put),
                (Method::POST, &mut item.post),
                (Method::DELETE, &mut item.delete),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else { continue };
                if auth::need(&method, path) == auth::Need::Open {
                    continue;
                }
                operation.security = Some(vec![SecurityRequirement::new(
                    "bearer",
                    Vec::<String>::new(),
                )]);
                let responses = &mut operation.responses.responses;
                responses.insert(
                    "401".into(),
                    error("No API key, or an unknown, revoked or expired one (`WWW-Authenticate: Bearer`)"),
                );
                responses.insert("403".into(), error("The key's scopes do not allow this"));
            }
        }
    }
}

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
        .routes(routes!(whoami::whoami))
        .routes(routes!(keys::keys_list, keys::keys_create))
        .routes(routes!(keys::keys_revoke))
        .routes(routes!(tenants::tenants_list))
        .routes(routes!(tenants::tenants_put))
        .routes(routes!(tenants::usage_get))
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
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authorize,
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
