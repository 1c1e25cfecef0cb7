//! The webhooks' outbox on SQLite.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::Result;
use crate::store::{Attempt, Delivery, Record, Webhook, now_ms};

/// Puts `record`'s result in the outbox when it has a callback, in the caller's transaction.
/// Whether it did.
pub(super) fn insert(conn: &Connection, record: &Record, json: &str) -> Result<bool> {
    let Some(url) = &record.callback_url else {
        return Ok(false);
    };
    conn.prepare_cached(
        "INSERT INTO webhooks (workload_id, url, body, next_attempt_at_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (workload_id) DO NOTHING",
    )?
    .execute(params![record.id, url, json, now_ms()])?;
    Ok(true)
}

pub(super) fn due(conn: &mut Connection, limit: u32, lease: Duration) -> Result<Vec<Webhook>> {
    let now = now_ms();
    let mut statement = conn.prepare_cached(
        "UPDATE webhooks SET next_attempt_at_ms = ?2
         WHERE workload_id IN (
             SELECT workload_id FROM webhooks
             WHERE delivered_at_ms IS NULL AND NOT gave_up AND next_attempt_at_ms <= ?1
             ORDER BY next_attempt_at_ms LIMIT ?3)
         RETURNING workload_id, url, body, attempts",
    )?;
    let rows = statement.query_map(params![now, now + lease.as_millis() as i64, limit], |row| {
        Ok(Webhook {
            workload_id: row.get(0)?,
            url: row.get(1)?,
            body: row.get(2)?,
            attempts: row.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn attempted(conn: &mut Connection, workload_id: &str, attempt: &Attempt) -> Result<()> {
    let now = now_ms();
    match attempt {
        Attempt::Delivered => conn.execute(
            "UPDATE webhooks SET attempts = attempts + 1, delivered_at_ms = ?2, last_error = NULL
             WHERE workload_id = ?1",
            params![workload_id, now],
        )?,
        Attempt::Failed { error, retry_in_ms } => conn.execute(
            "UPDATE webhooks SET attempts = attempts + 1, last_error = ?2,
                 next_attempt_at_ms = ?3, gave_up = ?4
             WHERE workload_id = ?1",
            params![
                workload_id,
                error,
                now + retry_in_ms.unwrap_or(0) as i64,
                retry_in_ms.is_none()
            ],
        )?,
    };
    Ok(())
}

/// The delivery of `workload_id`'s result, if it has one.
pub(super) fn delivery(conn: &Connection, workload_id: &str) -> Result<Option<Delivery>> {
    Ok(conn
        .prepare_cached(
            "SELECT url, attempts, delivered_at_ms, last_error, gave_up FROM webhooks
             WHERE workload_id = ?1",
        )?
        .query_row([workload_id], |row| {
            Ok(Delivery {
                url: row.get(0)?,
                attempts: row.get(1)?,
                delivered_at_ms: row.get(2)?,
                last_error: row.get(3)?,
                gave_up: row.get(4)?,
            })
        })
        .optional()?)
}
