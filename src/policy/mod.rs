//! Routing policies as data: ordered rules over a workload's features, each naming the tiers
//! to try in order, then a fallback list. The built-in policies are files in the same format
//! (`policies/*.toml`), so a user's policy can do anything they do.
//!
//! ```toml
//! name = "small-js-on-wasm"
//! [[rules]]
//! name = "small javascript"
//! when = { language = "javascript", code_bytes = { max = 4096 } }
//! tiers = ["wasm", "isolate"]
//! fallback = ["isolate", "wasm"]
//! ```

mod conditions;
mod installed;
mod load;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use conditions::{Conditions, Range};
pub use installed::{Installed, PolicySlot};
pub use load::{BUILT_IN, PolicyChoice, built_in, load_file, parse_json, parse_toml};

use crate::backend::BackendKind;

/// Longest policy, rule or tag name.
pub const MAX_NAME_CHARS: usize = 64;
/// Most rules in one policy.
pub const MAX_RULES: usize = 64;

/// A routing policy for `isolation: "auto"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingPolicy {
    /// Letters, digits, spaces, `.`, `_` and `-`; named in every route reason.
    #[schema(pattern = r"^[A-Za-z0-9._ -]{1,64}$")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Tried in order; the first rule whose conditions hold and one of whose tiers can run
    /// the workload decides.
    #[serde(default, deserialize_with = "crate::json_object::objects")]
    #[schema(max_items = 64)]
    pub rules: Vec<Rule>,
    /// Tiers tried in order when no rule decided.
    #[schema(min_items = 1, max_items = 2)]
    pub fallback: Vec<BackendKind>,
}

/// One rule: when every condition holds, try these tiers in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Shown in route reasons; `rule N` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^[A-Za-z0-9._ -]{1,64}$")]
    pub name: Option<String>,
    /// Conditions that must all hold; an empty set always holds.
    #[serde(default, deserialize_with = "crate::json_object::object")]
    pub when: Conditions,
    #[schema(min_items = 1, max_items = 2)]
    pub tiers: Vec<BackendKind>,
}

impl Rule {
    /// How reasons and errors name the rule (`index` counts from 0).
    pub fn label(&self, index: usize) -> String {
        match &self.name {
            Some(name) => format!("rule \"{name}\""),
            None => format!("rule {}", index + 1),
        }
    }
}

impl RoutingPolicy {
    /// Checks what the format alone cannot: names, non-empty and distinct tier lists, ranges.
    pub fn validate(&self) -> Result<(), String> {
        check_name("name", &self.name)?;
        if self.rules.len() > MAX_RULES {
            return Err(format!(
                "a policy has at most {MAX_RULES} rules, this one has {}",
                self.rules.len()
            ));
        }
        for (index, rule) in self.rules.iter().enumerate() {
            let in_rule = |err: String| format!("{}: {err}", rule.label(index));
            if let Some(name) = &rule.name {
                check_name("name", name).map_err(in_rule)?;
            }
            check_tiers("tiers", &rule.tiers).map_err(in_rule)?;
            rule.when.validate().map_err(in_rule)?;
        }
        check_tiers("fallback", &self.fallback)
    }
}

pub(crate) fn check_name(field: &str, name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ' ');
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || !name.chars().all(allowed) {
        return Err(format!(
            "{field} must be 1 to {MAX_NAME_CHARS} letters, digits, spaces, '.', '_' or '-', got {name:?}"
        ));
    }
    Ok(())
}

fn check_tiers(field: &str, tiers: &[BackendKind]) -> Result<(), String> {
    if tiers.is_empty() {
        return Err(format!("{field} must name at least one tier"));
    }
    for (index, tier) in tiers.iter().enumerate() {
        if tiers[..index].contains(tier) {
            return Err(format!("{field} names {} twice", tier.as_str()));
        }
    }
    Ok(())
}
