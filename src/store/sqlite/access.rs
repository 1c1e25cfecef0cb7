//! Keys, tenants' quotas and usage in SQLite, on the queue's connection.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqliteStore;
use crate::access::quotas::QuotaOverrides;
use crate::error::Result;
use crate::store::access::{encode_quotas, parse_quotas, parse_scopes};
use crate::store::{AccessStore, ApiKey, FoundKey, TenantUsage};

const KEY_COLUMNS: &str =
    "id, tenant, scopes, hash, name, created_at_ms, expires_at_ms, revoked_at_ms";

#[async_trait]
impl AccessStore for SqliteStore {
    async fn create_key(&self, key: &ApiKey) -> Result<()> {
        let key = key.clone();
        self.queue_op(move |conn| {
            conn.execute(
                &format!(
                    "INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                ),
                params![
                    key.id,
                    key.tenant,
                    key.scopes.to_string(),
                    key.hash,
                    key.name,
                    key.created_at_ms,
                    key.expires_at_ms,
                    key.revoked_at_ms
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn keys(&self) -> Result<Vec<ApiKey>> {
        self.queue_op(|conn| {
            let mut select = conn.prepare(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at_ms DESC, id"
            ))?;
            let rows = select.query_map([], raw_key)?;
            rows.map(|row| row?.into_key()).collect()
        })
        .await
    }

    async fn key(&self, id: &str) -> Result<Option<FoundKey>> {
        let id = id.to_owned();
        self.queue_op(move |conn| {
            let Some(key) = find(conn, &id)? else {
                return Ok(None);
            };
            let quotas: Option<String> = conn
                .prepare_cached("SELECT quotas FROM tenants WHERE tenant = ?1")?
                .query_row([&key.tenant], |row| row.get(0))
                .optional()?;
            let quotas = quotas.as_deref().map(parse_quotas).transpose()?;
            Ok(Some(FoundKey {
                key,
                quotas: quotas.unwrap_or_default(),
            }))
        })
        .await
    }

    async fn revoke_key(&self, id: &str, at_ms: i64) -> Result<Option<ApiKey>> {
        let id = id.to_owned();
        self.queue_op(move |conn| {
            conn.execute(
                "UPDATE api_keys SET revoked_at_ms = ?2 WHERE id = ?1 AND revoked_at_ms IS NULL",
                params![id, at_ms],
            )?;
            find(conn, &id)
        })
        .await
    }

    async fn set_quotas(&self, tenant: &str, quotas: &QuotaOverrides) -> Result<()> {
        let (tenant, json) = (tenant.to_owned(), encode_quotas(quotas));
        self.queue_op(move |conn| {
            conn.execute(
                "INSERT INTO tenants (tenant, quotas) VALUES (?1, ?2)
                 ON CONFLICT (tenant) DO UPDATE SET quotas = excluded.quotas",
                params![tenant, json],
            )?;
            Ok(())
        })
        .await
    }

    async fn quotas(&self) -> Result<Vec<(String, QuotaOverrides)>> {
        self.queue_op(|conn| {
            let mut select = conn.prepare("SELECT tenant, quotas FROM tenants ORDER BY tenant")?;
            let rows = select.query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })?;
            rows.map(|row| {
                let (tenant, json) = row?;
                Ok((tenant, parse_quotas(&json)?))
            })
            .collect()
        })
        .await
    }

    async fn usage(&self, tenant: Option<String>, since_ms: i64) -> Result<Vec<TenantUsage>> {
        self.settled().await;
        self.read(move |conn| {
            let mut select = conn.prepare_cached(
                "SELECT tenant, count(*),
                        coalesce(sum(json_extract(summary, '$.duration_ms')), 0.0),
                        coalesce(sum(json_extract(summary, '$.cpu_ms')), 0.0)
                 FROM workloads
                 WHERE created_at_ms >= ?1 AND (?2 IS NULL OR tenant = ?2)
                   AND status NOT IN ('queued', 'running')
                 GROUP BY tenant ORDER BY tenant",
            )?;
            let rows = select.query_map(params![since_ms, tenant], |row| {
                Ok(TenantUsage {
                    tenant: row.get(0)?,
                    workloads: row.get::<_, i64>(1)? as u64,
                    duration_ms: row.get(2)?,
                    cpu_ms: row.get(3)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }
}

fn find(conn: &Connection, id: &str) -> Result<Option<ApiKey>> {
    let raw = conn
        .prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?1"))?
        .query_row([id], raw_key)
        .optional()?;
    raw.map(RawKey::into_key).transpose()
}

/// A key's row before its scopes are parsed.
struct RawKey {
    key: ApiKey,
    scopes: String,
}

impl RawKey {
    fn into_key(self) -> Result<ApiKey> {
        Ok(ApiKey {
            scopes: parse_scopes(&self.scopes)?,
            ..self.key
        })
    }
}

fn raw_key(row: &Row<'_>) -> rusqlite::Result<RawKey> {
    Ok(RawKey {
        key: ApiKey {
            id: row.get(0)?,
            tenant: row.get(1)?,
            scopes: Default::default(),
            hash: row.get(3)?,
            name: row.get(4)?,
            created_at_ms: row.get(5)?,
            expires_at_ms: row.get(6)?,
            revoked_at_ms: row.get(7)?,
        },
        scopes: row.get(2)?,
    })
}
