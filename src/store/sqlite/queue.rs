//! The queue's operations on SQLite (one node): the same rows and rules as on PostgreSQL, on
//! the store's queue connection, each in a transaction of its own. Leases are timed by this
//! agent's clock, the only one writing.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::webhooks;
use crate::backend::BackendKind;
use crate::error::Result;
use crate::store::codec::{decode_record, encode};
use crate::store::{
    Claim, IDEMPOTENCY_WINDOW, Reaped, Record, Submission, Submitted, agent_lost, now_ms,
};

pub(super) fn submit(conn: &mut Connection, submission: Submission) -> Result<Submitted> {
    let Submission {
        record,
        owner,
        idempotency_key,
        max_attempts,
        lease,
    } = submission;
    let now = now_ms();
    let transaction = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if let Some(key) = &idempotency_key {
        let oldest = now - IDEMPOTENCY_WINDOW.as_millis() as i64;
        transaction.execute(
            "UPDATE workloads SET idempotency_key = NULL
             WHERE idempotency_key = ?1 AND created_at_ms < ?2",
            params![key, oldest],
        )?;
    }
    let (summary, json) = encode(&record);
    let lease_expires = owner.as_ref().map(|_| now + lease.as_millis() as i64);
    let inserted = transaction.execute(
        "INSERT INTO workloads (id, created_at_ms, status, backend, summary, record, attempt,
             max_attempts, lease_owner, lease_expires_at_ms, idempotency_key, tenant)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (idempotency_key) DO NOTHING",
        params![
            record.id,
            record.created_at_ms,
            record.status.as_str(),
            record.backend.as_str(),
            summary,
            json,
            i64::from(owner.is_some()),
            max_attempts,
            owner,
            lease_expires,
            idempotency_key,
            record.tenant,
        ],
    )?;
    let submitted = match inserted {
        0 => {
            let (status, json): (String, String) = transaction.query_row(
                "SELECT status, record FROM workloads WHERE idempotency_key = ?1",
                [&idempotency_key],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            Submitted::Existing(Box::new(decode_record(&status, &json)?))
        }
        _ => Submitted::New(owner.map(|owner| Claim { owner, attempt: 1 })),
    };
    transaction.commit()?;
    Ok(submitted)
}

pub(super) fn claim(
    conn: &mut Connection,
    owner: &str,
    tiers: &[BackendKind],
    lease: Duration,
) -> Result<Option<(Record, Claim)>> {
    let tiers = serde_json::to_string(&tiers.iter().map(|t| t.as_str()).collect::<Vec<_>>())
        .expect("tier names serialise");
    let claimed: Option<(String, u32)> = conn
        .query_row(
            "UPDATE workloads SET status = 'running', attempt = attempt + 1,
                 lease_owner = ?1, lease_expires_at_ms = ?2
             WHERE id = (
                 SELECT id FROM workloads WHERE status = 'queued'
                     AND backend IN (SELECT value FROM json_each(?3))
                 ORDER BY id LIMIT 1)
             RETURNING record, attempt",
            params![owner, now_ms() + lease.as_millis() as i64, tiers],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    claimed
        .map(|(json, attempt)| {
            let claim = Claim {
                owner: owner.to_owned(),
                attempt,
            };
            Ok((decode_record("running", &json)?, claim))
        })
        .transpose()
}

pub(super) fn finish(conn: &mut Connection, record: &Record, claim: &Claim) -> Result<bool> {
    let (summary, json) = encode(record);
    let transaction = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let updated = transaction.execute(
        "UPDATE workloads SET status = ?2, summary = ?3, record = ?4, lease_owner = NULL,
             lease_expires_at_ms = NULL
         WHERE id = ?1 AND status = 'running' AND attempt = ?5 AND lease_owner = ?6",
        params![
            record.id,
            record.status.as_str(),
            summary,
            json,
            claim.attempt,
            claim.owner
        ],
    )?;
    if updated == 1 {
        webhooks::insert(&transaction, record, &json)?;
    }
    transaction.commit()?;
    Ok(updated == 1)
}

pub(super) fn renew(conn: &mut Connection, owner: &str, lease: Duration) -> Result<()> {
    conn.execute(
        "UPDATE workloads SET lease_expires_at_ms = ?2
         WHERE status = 'running' AND lease_owner = ?1",
        params![owner, now_ms() + lease.as_millis() as i64],
    )?;
    Ok(())
}

/// The expired leases returned to the queue, and the records of those ended.
pub(super) fn reap(conn: &mut Connection) -> Result<(Reaped, Vec<String>)> {
    let now = now_ms();
    let transaction = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let requeued = transaction.execute(
        "UPDATE workloads SET status = 'queued', lease_owner = NULL, lease_expires_at_ms = NULL
         WHERE status = 'running' AND lease_expires_at_ms < ?1 AND attempt < max_attempts",
        [now],
    )?;
    let lost: Vec<(String, u32)> = transaction
        .prepare(
            "SELECT record, attempt FROM workloads WHERE status = 'running'
                 AND lease_expires_at_ms < ?1 AND attempt >= max_attempts",
        )?
        .query_map([now], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut ended = Vec::new();
    for (json, attempts) in lost {
        let record = agent_lost(decode_record("running", &json)?, attempts);
        let (summary, json) = encode(&record);
        transaction.execute(
            "UPDATE workloads SET status = ?2, summary = ?3, record = ?4, lease_owner = NULL,
                 lease_expires_at_ms = NULL
             WHERE id = ?1",
            params![record.id, record.status.as_str(), summary, json],
        )?;
        webhooks::insert(&transaction, &record, &json)?;
        ended.push(record.id);
    }
    transaction.commit()?;
    let reaped = Reaped {
        requeued: requeued as u64,
        ended: ended.len() as u64,
    };
    Ok((reaped, ended))
}

pub(super) fn queue_depth(conn: &mut Connection) -> Result<u64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM workloads WHERE status = 'queued'",
        [],
        |row| row.get(0),
    )?)
}
