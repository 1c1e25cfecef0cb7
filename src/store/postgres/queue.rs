//! The queue's operations on PostgreSQL: submit (queued, or claimed at once), claim, finish,
//! renew leases, reap expired ones.
//!
//! Only what an answer promises waits for the disk: a queued submission (202) and a finish.
//! A claim, and a submission claimed by its agent, commit without waiting for their WAL to be
//! flushed (`synchronous_commit = off`): the finish's flush, which comes after them in the
//! same WAL, makes them durable too, and should the database crash before it, the workload
//! has not been answered. That halves the disk waits of a synchronous workload (measured:
//! BENCHMARKS.md).

use std::time::Duration;

use super::listener::{FINISHED, QUEUED, WEBHOOK};
use super::webhooks;
use super::{NOW_MS, PostgresStore};
use crate::backend::BackendKind;
use crate::error::Result;
use crate::store::codec::{decode_record, encode};
use crate::store::{
    Claim, IDEMPOTENCY_WINDOW, Reaped, Record, Submission, Submitted, agent_lost, now_ms,
};

/// For this transaction: commit without waiting for the WAL flush.
const NO_FLUSH: &str = "SET LOCAL synchronous_commit = off";

pub(super) async fn submit(store: &PostgresStore, submission: Submission) -> Result<Submitted> {
    let Submission {
        record,
        owner,
        idempotency_key,
        max_attempts,
        lease,
    } = submission;
    let attempt: i32 = owner.is_some().into();
    let mut client = store.pool.get().await?;
    let transaction = client.transaction().await?;
    if owner.is_some() {
        transaction.batch_execute(NO_FLUSH).await?;
    }
    if let Some(key) = &idempotency_key {
        // A key older than the window names nothing any more: free it for this workload.
        let oldest = now_ms() - IDEMPOTENCY_WINDOW.as_millis() as i64;
        transaction
            .execute(
                "UPDATE workloads SET idempotency_key = NULL
                 WHERE idempotency_key = $1 AND created_at_ms < $2",
                &[key, &oldest],
            )
            .await?;
    }
    let (summary, json) = encode(&record);
    let inserted = transaction
        .execute(
            &format!(
                "INSERT INTO workloads (id, created_at_ms, status, backend, summary, record,
                     attempt, max_attempts, lease_owner, lease_expires_at_ms, idempotency_key,
                     tenant)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::TEXT,
                     CASE WHEN $9::TEXT IS NULL THEN NULL ELSE {NOW_MS} + $10 END, $11, $12)
                 ON CONFLICT (idempotency_key) DO NOTHING"
            ),
            &[
                &record.id,
                &(record.created_at_ms as i64),
                &record.status.as_str(),
                &record.backend.as_str(),
                &summary,
                &json,
                &attempt,
                &(max_attempts as i32),
                &owner,
                &(lease.as_millis() as i64),
                &idempotency_key,
                &record.tenant,
            ],
        )
        .await?;
    if inserted == 0 {
        let row = transaction
            .query_one(
                "SELECT status, record FROM workloads WHERE idempotency_key = $1",
                &[&idempotency_key],
            )
            .await?;
        let existing = decode_record(row.get(0), row.get(1))?;
        transaction.commit().await?;
        return Ok(Submitted::Existing(Box::new(existing)));
    }
    if owner.is_none() {
        transaction
            .execute(&format!("NOTIFY {QUEUED}"), &[])
            .await?;
    }
    transaction.commit().await?;
    Ok(Submitted::New(
        owner.map(|owner| Claim { owner, attempt: 1 }),
    ))
}

pub(super) async fn claim(
    store: &PostgresStore,
    owner: &str,
    tiers: &[BackendKind],
    lease: Duration,
) -> Result<Option<(Record, Claim)>> {
    let tiers: Vec<&str> = tiers.iter().map(|tier| tier.as_str()).collect();
    let mut client = store.pool.get().await?;
    let transaction = client.transaction().await?;
    transaction.batch_execute(NO_FLUSH).await?;
    let row = transaction
        .query_opt(
            &format!(
                "UPDATE workloads SET status = 'running', attempt = attempt + 1,
                     lease_owner = $1, lease_expires_at_ms = {NOW_MS} + $2
                 WHERE id = (
                     SELECT id FROM workloads WHERE status = 'queued' AND backend = ANY($3)
                     ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
                 RETURNING record, attempt"
            ),
            &[&owner, &(lease.as_millis() as i64), &tiers],
        )
        .await?;
    transaction.commit().await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let record = decode_record("running", row.get(0))?;
    let claim = Claim {
        owner: owner.to_owned(),
        attempt: row.get::<_, i32>(1) as u32,
    };
    Ok(Some((record, claim)))
}

pub(super) async fn finish(store: &PostgresStore, record: &Record, claim: &Claim) -> Result<bool> {
    let client = store.pool.get().await?;
    let (summary, json) = encode(record);
    let finished = client
        .query(
            &format!(
                "WITH done AS (
                     UPDATE workloads SET status = $2, summary = $3, record = $4,
                         lease_owner = NULL, lease_expires_at_ms = NULL
                     WHERE id = $1 AND status = 'running' AND attempt = $5 AND lease_owner = $6
                     RETURNING id),
                 hook AS (
                     INSERT INTO webhooks (workload_id, url, body, next_attempt_at_ms)
                     SELECT id, $7, $4, {NOW_MS} FROM done WHERE $7::TEXT IS NOT NULL
                     ON CONFLICT (workload_id) DO NOTHING
                     RETURNING workload_id)
                 SELECT pg_notify('{FINISHED}', id), (SELECT pg_notify('{WEBHOOK}', '') FROM hook)
                 FROM done"
            ),
            &[
                &record.id,
                &record.status.as_str(),
                &summary,
                &json,
                &(claim.attempt as i32),
                &claim.owner,
                &record.callback_url,
            ],
        )
        .await?;
    if finished.is_empty() {
        return Ok(false);
    }
    store.wrote(&client).await?;
    Ok(true)
}

pub(super) async fn renew(store: &PostgresStore, owner: &str, lease: Duration) -> Result<()> {
    let client = store.pool.get().await?;
    client
        .execute(
            &format!(
                "UPDATE workloads SET lease_expires_at_ms = {NOW_MS} + $2
                 WHERE status = 'running' AND lease_owner = $1"
            ),
            &[&owner, &(lease.as_millis() as i64)],
        )
        .await?;
    Ok(())
}

pub(super) async fn reap(store: &PostgresStore) -> Result<Reaped> {
    let mut client = store.pool.get().await?;
    let transaction = client.transaction().await?;
    let requeued = transaction
        .execute(
            &format!(
                "UPDATE workloads SET status = 'queued', lease_owner = NULL,
                     lease_expires_at_ms = NULL
                 WHERE id IN (
                     SELECT id FROM workloads WHERE status = 'running'
                         AND lease_expires_at_ms < {NOW_MS} AND attempt < max_attempts
                     FOR UPDATE SKIP LOCKED)"
            ),
            &[],
        )
        .await?;
    if requeued > 0 {
        transaction
            .execute(&format!("NOTIFY {QUEUED}"), &[])
            .await?;
    }
    let lost = transaction
        .query(
            &format!(
                "SELECT record, attempt FROM workloads WHERE status = 'running'
                     AND lease_expires_at_ms < {NOW_MS} AND attempt >= max_attempts
                 FOR UPDATE SKIP LOCKED"
            ),
            &[],
        )
        .await?;
    for row in &lost {
        let attempts = row.get::<_, i32>(1) as u32;
        let record = agent_lost(decode_record("running", row.get(0))?, attempts);
        let (summary, json) = encode(&record);
        transaction
            .execute(
                "UPDATE workloads SET status = $2, summary = $3, record = $4,
                     lease_owner = NULL, lease_expires_at_ms = NULL
                 WHERE id = $1",
                &[&record.id, &record.status.as_str(), &summary, &json],
            )
            .await?;
        webhooks::insert(&transaction, &record, &json).await?;
        transaction
            .execute("SELECT pg_notify($1, $2)", &[&FINISHED, &record.id])
            .await?;
    }
    transaction.commit().await?;
    Ok(Reaped {
        requeued,
        ended: lost.len() as u64,
    })
}
