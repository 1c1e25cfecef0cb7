//! Reading policies: the built-in ones, files (TOML or JSON) and the API's choice of a named
//! or inline policy. Everything read is validated before it is returned.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::RoutingPolicy;
use crate::json_object::Object;

/// The built-in policies' files, by name.
pub const BUILT_IN: [(&str, &str); 2] = [
    (
        "isolate-first",
        include_str!("../../policies/isolate-first.toml"),
    ),
    ("wasm-first", include_str!("../../policies/wasm-first.toml")),
];

/// A built-in policy by name.
pub fn built_in(name: &str) -> Result<RoutingPolicy, String> {
    let (_, text) = BUILT_IN
        .iter()
        .find(|(known, _)| *known == name)
        .ok_or_else(|| {
            let names: Vec<&str> = BUILT_IN.iter().map(|(name, _)| *name).collect();
            format!(
                "no built-in policy {name:?}; built-in policies are {}",
                names.join(", ")
            )
        })?;
    parse_toml(text)
}

pub fn parse_toml(text: &str) -> Result<RoutingPolicy, String> {
    let policy: RoutingPolicy = toml::from_str(text).map_err(|err| err.to_string())?;
    policy.validate()?;
    Ok(policy)
}

pub fn parse_json(text: &str) -> Result<RoutingPolicy, String> {
    let Object(policy) =
        serde_json::from_str::<Object<RoutingPolicy>>(text).map_err(|err| err.to_string())?;
    policy.validate()?;
    Ok(policy)
}

/// A policy file, TOML or JSON by its extension.
pub fn load_file(path: &Path) -> Result<RoutingPolicy, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("cannot read policy {}: {err}", path.display()))?;
    let parsed = match path.extension().and_then(|ext| ext.to_str()) {
        Some("toml") => parse_toml(&text),
        Some("json") => parse_json(&text),
        _ => Err("a policy file ends in .toml or .json".to_owned()),
    };
    parsed.map_err(|err| format!("policy {}: {err}", path.display()))
}

/// A policy named (a built-in one) or given inline, as the API accepts it.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum PolicyChoice {
    /// The name of a built-in policy.
    Named(String),
    Inline(RoutingPolicy),
}

impl PolicyChoice {
    /// The policy itself, validated.
    pub fn resolve(self) -> Result<Arc<RoutingPolicy>, String> {
        let policy = match self {
            PolicyChoice::Named(name) => built_in(&name)?,
            PolicyChoice::Inline(policy) => {
                policy.validate()?;
                policy
            }
        };
        Ok(Arc::new(policy))
    }
}

/// By hand rather than `untagged`, so an inline policy's own error (an unknown field, a
/// missing `fallback`) reaches the client instead of "did not match any variant".
impl<'de> Deserialize<'de> for PolicyChoice {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ChoiceVisitor;

        impl<'de> Visitor<'de> for ChoiceVisitor {
            type Value = PolicyChoice;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a built-in policy's name or a policy object")
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<PolicyChoice, E> {
                Ok(PolicyChoice::Named(name.to_owned()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PolicyChoice, A::Error> {
                RoutingPolicy::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(PolicyChoice::Inline)
            }
        }

        deserializer.deserialize_any(ChoiceVisitor)
    }
}
