//! Extractors whose rejections are `AppError`s, so malformed requests get the JSON error
//! body instead of axum's plain-text one.

use axum::extract::{FromRequest, FromRequestParts};

use super::error::AppError;

/// `axum::Json`, rejecting with `AppError`.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct ApiJson<T>(pub T);

/// `axum::extract::Query`, rejecting with `AppError`.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct ApiQuery<T>(pub T);
