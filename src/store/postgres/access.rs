//! Keys, tenants' quotas and usage in PostgreSQL.

use async_trait::async_trait;
use tokio_postgres::Row;

use super::PostgresStore;
use crate::access::quotas::QuotaOverrides;
use crate::error::Result;
use crate::store::access::{encode_quotas, parse_quotas, parse_scopes};
use crate::store::{AccessStore, ApiKey, FoundKey, TenantUsage};

const KEY_COLUMNS: &str =
    "id, tenant, scopes, hash, name, created_at_ms, expires_at_ms, revoked_at_ms";

#[async_trait]
impl AccessStore for PostgresStore {
    async fn create_key(&self, key: &ApiKey) -> Result<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                &format!(
                    "INSERT INTO api_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                ),
                &[
                    &key.id,
                    &key.tenant,
                    &key.scopes.to_string(),
                    &key.hash,
                    &key.name,
                    &key.created_at_ms,
                    &key.expires_at_ms,
                    &key.revoked_at_ms,
                ],
            )
            .await?;
        Ok(())
    }

    async fn keys(&self) -> Result<Vec<ApiKey>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at_ms DESC, id"),
                &[],
            )
            .await?;
        rows.iter().map(key_of).collect()
    }

    async fn key(&self, id: &str) -> Result<Option<FoundKey>> {
        let client = self.pool.get().await?;
        let select = client
            .prepare_cached(
                "SELECT k.id, k.tenant, k.scopes, k.hash, k.name, k.created_at_ms,
                        k.expires_at_ms, k.revoked_at_ms, t.quotas
                 FROM api_keys k LEFT JOIN tenants t ON t.tenant = k.tenant WHERE k.id = $1",
            )
            .await?;
        let Some(row) = client.query_opt(&select, &[&id]).await? else {
            return Ok(None);
        };
        let quotas: Option<&str> = row.get(8);
        Ok(Some(FoundKey {
            key: key_of(&row)?,
            quotas: quotas.map(parse_quotas).transpose()?.unwrap_or_default(),
        }))
    }

    async fn revoke_key(&self, id: &str, at_ms: i64) -> Result<Option<ApiKey>> {
        let client = self.pool.get().await?;
        client
            .execute(
                "UPDATE api_keys SET revoked_at_ms = $2 WHERE id = $1 AND revoked_at_ms IS NULL",
                &[&id, &at_ms],
            )
            .await?;
        let row = client
            .query_opt(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"),
                &[&id],
            )
            .await?;
        row.as_ref().map(key_of).transpose()
    }

    async fn set_quotas(&self, tenant: &str, quotas: &QuotaOverrides) -> Result<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO tenants (tenant, quotas) VALUES ($1, $2)
                 ON CONFLICT (tenant) DO UPDATE SET quotas = excluded.quotas",
                &[&tenant, &encode_quotas(quotas)],
            )
            .await?;
        Ok(())
    }

    async fn quotas(&self) -> Result<Vec<(String, QuotaOverrides)>> {
        let client = self.pool.get().await?;
        let rows = client
            .query("SELECT tenant, quotas FROM tenants ORDER BY tenant", &[])
            .await?;
        rows.iter()
            .map(|row| Ok((row.get(0), parse_quotas(row.get(1))?)))
            .collect()
    }

    async fn usage(&self, tenant: Option<String>, since_ms: i64) -> Result<Vec<TenantUsage>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT tenant, count(*),
                        coalesce(sum((summary::jsonb ->> 'duration_ms')::float8), 0),
                        coalesce(sum((summary::jsonb ->> 'cpu_ms')::float8), 0)
                 FROM workloads
                 WHERE created_at_ms >= $1 AND ($2::TEXT IS NULL OR tenant = $2)
                   AND status NOT IN ('queued', 'running')
                 GROUP BY tenant ORDER BY tenant",
                &[&since_ms, &tenant],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| TenantUsage {
                tenant: row.get(0),
                workloads: row.get::<_, i64>(1) as u64,
                duration_ms: row.get(2),
                cpu_ms: row.get(3),
            })
            .collect())
    }
}

fn key_of(row: &Row) -> Result<ApiKey> {
    Ok(ApiKey {
        id: row.get(0),
        tenant: row.get(1),
        scopes: parse_scopes(row.get(2))?,
        hash: row.get(3),
        name: row.get(4),
        created_at_ms: row.get(5),
        expires_at_ms: row.get(6),
        revoked_at_ms: row.get(7),
    })
}
