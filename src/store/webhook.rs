//! Webhooks' outbox: a workload submitted with a `callback_url` gets a row here in the same
//! transaction as its result, and agents deliver it (at least once) from there.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The delivery of a workload's result to its `callback_url`, as far as it has gone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    pub url: String,
    /// POSTs made so far.
    pub attempts: u32,
    /// When a POST was answered 2xx (milliseconds since the Unix epoch).
    pub delivered_at_ms: Option<u64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// No more attempts will be made.
    pub gave_up: bool,
}

/// A result to POST: claimed by one agent for a while, so no other sends it at once.
#[derive(Clone, Debug)]
pub struct Webhook {
    pub workload_id: String,
    pub url: String,
    /// The record's JSON, as sent.
    pub body: String,
    /// Attempts before this one.
    pub attempts: u32,
}

/// How an attempt went.
#[derive(Clone, Debug)]
pub enum Attempt {
    Delivered,
    /// Failed; tried again after `retry_in_ms`, or never (`None`).
    Failed {
        error: String,
        retry_in_ms: Option<u64>,
    },
}
