//! The SQLite history's schema: numbered migrations, the version in `PRAGMA user_version`.

use rusqlite::Connection;

use crate::error::Result;
use crate::store::check_schema_version;

/// Migration `n` (1-based) brings the schema from version `n - 1` to `n`. Version 1 is the
/// schema of agents from before versioning, so their databases take it as a no-op.
const MIGRATIONS: &[&str] = &[
    // 1: the history.
    "CREATE TABLE IF NOT EXISTS workloads (
        id TEXT PRIMARY KEY,
        created_at_ms INTEGER NOT NULL,
        status TEXT NOT NULL,
        backend TEXT NOT NULL,
        summary TEXT NOT NULL,
        record TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS workloads_status ON workloads (status, id);
    CREATE INDEX IF NOT EXISTS workloads_backend ON workloads (backend, id);",
    // 2: the queue. A workload is a row from submission on: queued, running under a lease,
    // then finished; and an idempotency key names one row.
    "ALTER TABLE workloads ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE workloads ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE workloads ADD COLUMN lease_owner TEXT;
    ALTER TABLE workloads ADD COLUMN lease_expires_at_ms INTEGER;
    ALTER TABLE workloads ADD COLUMN idempotency_key TEXT;
    CREATE UNIQUE INDEX workloads_idempotency ON workloads (idempotency_key);
    CREATE INDEX workloads_queue ON workloads (backend, id) WHERE status = 'queued';
    CREATE INDEX workloads_leases ON workloads (lease_expires_at_ms) WHERE status = 'running';",
    // 3: the webhooks' outbox, a row written with the result it delivers (deleted with its
    // workload when the history is pruned).
    "CREATE TABLE webhooks (
        workload_id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        body TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at_ms INTEGER NOT NULL,
        delivered_at_ms INTEGER,
        last_error TEXT,
        gave_up INTEGER NOT NULL DEFAULT 0
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
        created_at_ms INTEGER NOT NULL,
        expires_at_ms INTEGER,
        revoked_at_ms INTEGER
    );
    CREATE TABLE tenants (tenant TEXT PRIMARY KEY, quotas TEXT NOT NULL);",
];

/// Applies the migrations `conn`'s database lacks, each in its own transaction.
pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    check_schema_version("SQLite", version, MIGRATIONS.len())?;
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let transaction = conn.transaction()?;
        transaction.execute_batch(migration)?;
        transaction.pragma_update(None, "user_version", index as i64 + 1)?;
        transaction.commit()?;
    }
    Ok(())
}

/// The schema version this agent writes.
#[cfg(test)]
pub(super) fn latest() -> i64 {
    MIGRATIONS.len() as i64
}
