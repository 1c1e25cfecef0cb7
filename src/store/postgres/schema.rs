//! The PostgreSQL history's schema: numbered migrations, applied at start under an advisory
//! lock (agents starting together migrate once), the version in `vulcan_schema`.

use deadpool_postgres::Client;

use crate::error::Result;
use crate::store::check_schema_version;

/// Any number, the same in every agent: the lock that serialises migrations.
const MIGRATION_LOCK: i64 = 0x7675_6c63_616e;

/// Migration `n` (1-based) brings the schema from version `n - 1` to `n`.
const MIGRATIONS: &[&str] = &[
    // 1: the history.
    "CREATE TABLE workloads (
        id TEXT PRIMARY KEY,
        created_at_ms BIGINT NOT NULL,
        status TEXT NOT NULL,
        backend TEXT NOT NULL,
        summary TEXT NOT NULL,
        record TEXT NOT NULL
    );
    CREATE INDEX workloads_status ON workloads (status, id);
    CREATE INDEX workloads_backend ON workloads (backend, id);",
    // 2: the queue. A workload is a row from submission on: queued, running under an agent's
    // lease, then finished; and an idempotency key names one row.
    "ALTER TABLE workloads
        ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0,
        ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 1,
        ADD COLUMN lease_owner TEXT,
        ADD COLUMN lease_expires_at_ms BIGINT,
        ADD COLUMN idempotency_key TEXT UNIQUE;
    CREATE INDEX workloads_queue ON workloads (backend, id) WHERE status = 'queued';
    CREATE INDEX workloads_leases ON workloads (lease_expires_at_ms) WHERE status = 'running';",
    // 3: the webhooks' outbox, a row written with the result it delivers.
    "CREATE TABLE webhooks (
        workload_id TEXT PRIMARY KEY REFERENCES workloads (id) ON DELETE CASCADE,
        url TEXT NOT NULL,
        body TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at_ms BIGINT NOT NULL,
        delivered_at_ms BIGINT,
        last_error TEXT,
        gave_up BOOLEAN NOT NULL DEFAULT FALSE
    );
    CREATE INDEX webhooks_due ON webhooks (next_attempt_at_ms)
        WHERE delivered_at_ms IS NULL AND NOT gave_up;",
    // 4: access control. Every workload belongs to a tenant (those from before, to
    // `default`); API keys (a hash of each) and tenants' own quotas.
    "ALTER TABLE workloads ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
    CREATE INDEX workloads_tenant ON workloads (tenant, id);
    CREATE INDEX workloads_created ON workloads (created_at_ms);
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        scopes TEXT NOT NULL,
        hash TEXT NOT NULL,
        name TEXT,
        created_at_ms BIGINT NOT NULL,
        expires_at_ms BIGINT,
        revoked_at_ms BIGINT
    );
    CREATE TABLE tenants (tenant TEXT PRIMARY KEY, quotas TEXT NOT NULL);",
];

/// Applies the migrations the database lacks, in one transaction.
pub(super) async fn migrate(client: &mut Client) -> Result<()> {
    let transaction = client.transaction().await?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    transaction
        .batch_execute("CREATE TABLE IF NOT EXISTS vulcan_schema (version BIGINT NOT NULL)")
        .await?;
    let version: i64 = transaction
        .query_one("SELECT coalesce(max(version), 0) FROM vulcan_schema", &[])
        .await?
        .get(0);
    check_schema_version("PostgreSQL", version, MIGRATIONS.len())?;
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        transaction.batch_execute(migration).await?;
        let version = index as i64 + 1;
        transaction
            .execute(
                "INSERT INTO vulcan_schema (version) VALUES ($1)",
                &[&version],
            )
            .await?;
    }
    transaction.commit().await?;
    Ok(())
}
