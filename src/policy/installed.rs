//! The policy `auto` follows now: chosen at start, replaceable through the API, read by
//! every routed workload. Not persisted: a restart goes back to `--policy`.

use std::path::Path;
use std::sync::{Arc, RwLock};

use serde::Serialize;
use utoipa::ToSchema;

use super::{RoutingPolicy, built_in, load_file};

/// A policy and where it came from.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Installed {
    #[schema(value_type = RoutingPolicy)]
    pub policy: Arc<RoutingPolicy>,
    /// `built-in`, `file <path>` or `api`.
    pub source: String,
}

pub struct PolicySlot(RwLock<Installed>);

impl PolicySlot {
    /// `--policy`: a built-in name, or a path to a `.toml` or `.json` file.
    pub fn from_arg(arg: &str) -> Result<PolicySlot, String> {
        let installed = match arg.ends_with(".toml") || arg.ends_with(".json") {
            true => Installed {
                policy: Arc::new(load_file(Path::new(arg))?),
                source: format!("file {arg}"),
            },
            false => Installed {
                policy: Arc::new(built_in(arg)?),
                source: "built-in".into(),
            },
        };
        Ok(PolicySlot(RwLock::new(installed)))
    }

    pub fn current(&self) -> Installed {
        self.0.read().unwrap_or_else(|err| err.into_inner()).clone()
    }

    pub fn policy(&self) -> Arc<RoutingPolicy> {
        self.0
            .read()
            .unwrap_or_else(|err| err.into_inner())
            .policy
            .clone()
    }

    pub fn install(&self, installed: Installed) {
        *self.0.write().unwrap_or_else(|err| err.into_inner()) = installed;
    }
}
