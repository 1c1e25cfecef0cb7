//! `vulcan keys create|list|revoke` and `vulcan tenants set|list`: access control, worked on
//! in the agent's own store (so the first admin key can be made before any exists).

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use prometheus::IntCounter;

use super::table::{render, row};
use crate::access::Scopes;
use crate::access::keys::{self, KeyRequest, check_tenant, parse_lifetime};
use crate::access::quotas::QuotaOverrides;
use crate::config::{KeysCommand, StoreArgs, TenantsCommand};
use crate::store::{self, ApiKey, Store, now_ms};

pub async fn keys(command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Create {
            tenant,
            scopes,
            expires,
            name,
            store,
        } => {
            let request = KeyRequest {
                tenant,
                scopes: Scopes::parse(&scopes).map_err(anyhow::Error::msg)?,
                expires_in: expires
                    .as_deref()
                    .map(parse_lifetime)
                    .transpose()
                    .map_err(anyhow::Error::msg)?,
                name,
            };
            let store = open(&store).await?;
            let (token, key) = keys::create(store.as_ref(), request).await?;
            store.close();
            println!("{token}");
            eprintln!(
                "key {} for tenant {} ({}), {}: shown this once, keep it now",
                key.id,
                key.tenant,
                key.scopes,
                expiry(&key)
            );
        }
        KeysCommand::List { store } => {
            let store = open(&store).await?;
            let keys = store.keys().await?;
            store.close();
            let mut rows = vec![row(&["id", "tenant", "scopes", "state", "name"])];
            for key in &keys {
                rows.push(vec![
                    key.id.clone(),
                    key.tenant.clone(),
                    key.scopes.to_string(),
                    key.state(now_ms()).as_str().to_owned(),
                    key.name.clone().unwrap_or_default(),
                ]);
            }
            print!("{}", render(&rows));
        }
        KeysCommand::Revoke { id, store } => {
            let store = open(&store).await?;
            let revoked = store.revoke_key(&id, now_ms()).await?;
            store.close();
            let Some(key) = revoked else {
                eprintln!("vulcan: no key {id}");
                return Ok(ExitCode::from(2));
            };
            println!("key {} ({}) revoked", key.id, key.tenant);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn tenants(command: TenantsCommand) -> anyhow::Result<ExitCode> {
    match command {
        TenantsCommand::Set {
            tenant,
            max_in_flight,
            rate_per_sec,
            burst,
            max_timeout_ms,
            max_memory_mb,
            max_fuel,
            store,
        } => {
            check_tenant(&tenant).map_err(anyhow::Error::msg)?;
            let quotas = QuotaOverrides {
                max_in_flight,
                rate_per_sec,
                burst,
                max_timeout_ms,
                max_memory_mb,
                max_fuel,
            };
            quotas.check().map_err(anyhow::Error::msg)?;
            let store = open(&store).await?;
            store.set_quotas(&tenant, &quotas).await?;
            store.close();
            println!("tenant {tenant}: {}", serde_json::to_string(&quotas)?);
        }
        TenantsCommand::List { store } => {
            let store = open(&store).await?;
            let tenants = store.quotas().await?;
            store.close();
            for (tenant, quotas) in tenants {
                println!("{tenant}  {}", serde_json::to_string(&quotas)?);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn open(args: &StoreArgs) -> anyhow::Result<Arc<dyn Store>> {
    let location = args.location();
    let errors = IntCounter::new("errors", "history write errors").expect("a counter");
    store::open(&location, u64::MAX, errors)
        .await
        .with_context(|| format!("opening the store at {location}"))
}

fn expiry(key: &ApiKey) -> String {
    match key.expires_at_ms {
        Some(expires) => format!("expires in {} h", (expires - now_ms()) / 3_600_000),
        None => "does not expire".into(),
    }
}
