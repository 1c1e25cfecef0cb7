//! The webhooks' outbox on PostgreSQL: written in the transaction of the result it
//! delivers, claimed with `SKIP LOCKED` for a while by the agent that sends it.

use std::time::Duration;

use deadpool_postgres::GenericClient;

use super::listener::WEBHOOK;
use super::{NOW_MS, PostgresStore};
use crate::error::Result;
use crate::store::{Attempt, Delivery, Record, Webhook};

/// Puts `record`'s result in the outbox when it has a callback, in the caller's transaction,
/// and tells the agents.
pub(super) async fn insert(client: &impl GenericClient, record: &Record, json: &str) -> Result<()> {
    let Some(url) = &record.callback_url else {
        return Ok(());
    };
    client
        .execute(
            &format!(
                "INSERT INTO webhooks (workload_id, url, body, next_attempt_at_ms)
                 VALUES ($1, $2, $3, {NOW_MS}) ON CONFLICT (workload_id) DO NOTHING"
            ),
            &[&record.id, url, &json],
        )
        .await?;
    client.execute(&format!("NOTIFY {WEBHOOK}"), &[]).await?;
    Ok(())
}

pub(super) async fn due(
    store: &PostgresStore,
    limit: u32,
    lease: Duration,
) -> Result<Vec<Webhook>> {
    let client = store.pool.get().await?;
    let rows = client
        .query(
            &format!(
                "UPDATE webhooks SET next_attempt_at_ms = {NOW_MS} + $1
                 WHERE workload_id IN (
                     SELECT workload_id FROM webhooks
                     WHERE delivered_at_ms IS NULL AND NOT gave_up
                         AND next_attempt_at_ms <= {NOW_MS}
                     ORDER BY next_attempt_at_ms LIMIT $2 FOR UPDATE SKIP LOCKED)
                 RETURNING workload_id, url, body, attempts"
            ),
            &[&(lease.as_millis() as i64), &i64::from(limit)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| Webhook {
            workload_id: row.get(0),
            url: row.get(1),
            body: row.get(2),
            attempts: row.get::<_, i32>(3) as u32,
        })
        .collect())
}

pub(super) async fn attempted(
    store: &PostgresStore,
    workload_id: &str,
    attempt: &Attempt,
) -> Result<()> {
    let client = store.pool.get().await?;
    match attempt {
        Attempt::Delivered => {
            client
                .execute(
                    &format!(
                        "UPDATE webhooks SET attempts = attempts + 1, delivered_at_ms = {NOW_MS},
                         last_error = NULL
                     WHERE workload_id = $1"
                    ),
                    &[&workload_id],
                )
                .await?
        }
        Attempt::Failed { error, retry_in_ms } => {
            client
                .execute(
                    &format!(
                        "UPDATE webhooks SET attempts = attempts + 1, last_error = $2,
                         next_attempt_at_ms = {NOW_MS} + $3, gave_up = $4
                     WHERE workload_id = $1"
                    ),
                    &[
                        &workload_id,
                        error,
                        &(retry_in_ms.unwrap_or(0) as i64),
                        &retry_in_ms.is_none(),
                    ],
                )
                .await?
        }
    };
    Ok(())
}

/// The delivery of `workload_id`'s result, if it has one.
pub(super) async fn delivery(
    client: &impl GenericClient,
    workload_id: &str,
) -> Result<Option<Delivery>> {
    let row = client
        .query_opt(
            "SELECT url, attempts, delivered_at_ms, last_error, gave_up FROM webhooks
             WHERE workload_id = $1",
            &[&workload_id],
        )
        .await?;
    Ok(row.map(|row| Delivery {
        url: row.get(0),
        attempts: row.get::<_, i32>(1) as u32,
        delivered_at_ms: row.get::<_, Option<i64>>(2).map(|ms| ms as u64),
        last_error: row.get(3),
        gave_up: row.get(4),
    }))
}
