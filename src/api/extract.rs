//! Extractors whose rejections are `AppError`s, so malformed requests get the JSON error
//! body instead of axum's plain-text one.

use axum::extract::{FromRequest, FromRequestParts, Request};
use serde::de::DeserializeOwned;

use super::error::AppError;
use crate::json_object::Object;

/// A JSON object body (never an array of the fields in order), rejecting with `AppError`.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        let axum::Json(Object(value)) =
            axum::Json::<Object<T>>::from_request(request, state).await?;
        Ok(ApiJson(value))
    }
}

/// Any JSON body (`PUT /v1/policy` takes a name or an object), rejecting with `AppError`.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct ApiJsonValue<T>(pub T);

/// `axum::extract::Query`, rejecting with `AppError`.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct ApiQuery<T>(pub T);
