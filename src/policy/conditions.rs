//! A rule's conditions over a workload's features and the tiers' health.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::check_name;
use crate::backend::{BackendKind, Language};
use crate::router::{RouteRequest, TierState};

/// Conditions that must all hold. `timeout_ms` and `memory_mb` see the workload's effective
/// limits (what it asked for, or the agent's default); `fuel` holds only when a budget was
/// asked for, since a workload without one is unmetered.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    /// Size of the code in bytes.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json_object::optional_object"
    )]
    pub code_bytes: Option<Range>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json_object::optional_object"
    )]
    pub timeout_ms: Option<Range>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json_object::optional_object"
    )]
    pub memory_mb: Option<Range>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json_object::optional_object"
    )]
    pub fuel: Option<Range>,
    /// Whether the workload asked for a fuel budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel_requested: Option<bool>,
    /// The workload's `tag`, exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^[A-Za-z0-9._ -]{1,64}$")]
    pub tag: Option<String>,
    /// Health each named tier must be in; a tier not configured is unhealthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier_healthy: Option<BTreeMap<BackendKind, bool>>,
}

/// An inclusive range; at least one bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Range {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
}

impl Range {
    fn contains(&self, value: u64) -> bool {
        self.min.is_none_or(|min| value >= min) && self.max.is_none_or(|max| value <= max)
    }

    fn validate(&self, field: &str) -> Result<(), String> {
        match (self.min, self.max) {
            (None, None) => Err(format!("{field} needs a min, a max or both")),
            (Some(min), Some(max)) if min > max => {
                Err(format!("{field}: min {min} is above max {max}"))
            }
            _ => Ok(()),
        }
    }
}

impl Conditions {
    pub fn matches(&self, request: &RouteRequest, tiers: &[TierState]) -> bool {
        let in_range = |range: &Option<Range>, value: Option<u64>| match range {
            None => true,
            Some(range) => value.is_some_and(|value| range.contains(value)),
        };
        self.language
            .is_none_or(|language| language == request.language)
            && in_range(&self.code_bytes, Some(request.code_bytes))
            && in_range(&self.timeout_ms, Some(request.timeout_ms))
            && in_range(&self.memory_mb, Some(request.memory_mb))
            && in_range(&self.fuel, request.fuel)
            && self
                .fuel_requested
                .is_none_or(|wanted| wanted == request.fuel.is_some())
            && self
                .tag
                .as_ref()
                .is_none_or(|tag| request.tag.as_ref() == Some(tag))
            && self.tier_healthy.as_ref().is_none_or(|wanted| {
                wanted.iter().all(|(kind, healthy)| {
                    let is_healthy = tiers.iter().any(|tier| tier.kind == *kind && tier.healthy);
                    is_healthy == *healthy
                })
            })
    }

    pub fn validate(&self) -> Result<(), String> {
        for (field, range) in [
            ("code_bytes", &self.code_bytes),
            ("timeout_ms", &self.timeout_ms),
            ("memory_mb", &self.memory_mb),
            ("fuel", &self.fuel),
        ] {
            if let Some(range) = range {
                range.validate(field)?;
            }
        }
        if let Some(tag) = &self.tag {
            check_name("tag", tag)?;
        }
        if self.tier_healthy.as_ref().is_some_and(BTreeMap::is_empty) {
            return Err("tier_healthy must name at least one tier".into());
        }
        Ok(())
    }
}
