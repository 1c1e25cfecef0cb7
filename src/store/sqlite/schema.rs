//! The SQLite history's schema: numbered migrations, the version in `PRAGMA user_version`.

use rusqlite::Connection;

use crate::error::Result;
use crate::store::check_schema_version;

/// Migration `n` (1-based) brings the schema from version `n - 1` to `n`. Version 1 is the
/// schema of agents from before versioning, so their databases take it as a no-op.
const MIGRATIONS: &[&str] = &["CREATE TABLE IF NOT EXISTS workloads (
        id TEXT PRIMARY KEY,
        created_at_ms INTEGER NOT NULL,
        status TEXT NOT NULL,
        backend TEXT NOT NULL,
        summary TEXT NOT NULL,
        record TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS workloads_status ON workloads (status, id);
    CREATE INDEX IF NOT EXISTS workloads_backend ON workloads (backend, id);"];

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
