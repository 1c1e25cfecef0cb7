//! The routing policy: which tier runs a workload, and why. A pure function of the
//! request, the tiers' state and the policy, so every branch is tested directly below.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::backend::{BackendKind, Language};

/// What the client asked for.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Isolation {
    /// Let the policy decide.
    #[default]
    Auto,
    Isolate,
    Wasm,
}

/// Named routing policies for `auto`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// The isolate tier when healthy, wasm otherwise.
    #[default]
    IsolateFirst,
    /// The wasm tier when healthy, isolate otherwise.
    WasmFirst,
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::IsolateFirst => "isolate-first",
            Policy::WasmFirst => "wasm-first",
        }
    }

    fn preference(self) -> [BackendKind; 2] {
        match self {
            Policy::IsolateFirst => [BackendKind::Isolate, BackendKind::Wasm],
            Policy::WasmFirst => [BackendKind::Wasm, BackendKind::Isolate],
        }
    }
}

/// The facts about one workload that routing looks at.
#[derive(Clone, Copy, Debug)]
pub struct RouteRequest {
    pub isolation: Isolation,
    pub language: Language,
    pub fuel_requested: bool,
}

/// A tier as routing sees it. A tier that is not configured is simply absent.
#[derive(Clone, Debug)]
pub struct TierState {
    pub kind: BackendKind,
    pub healthy: bool,
    /// Why the tier is unhealthy (empty when healthy).
    pub detail: String,
    pub languages: Vec<Language>,
    pub meters_fuel: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Route {
    pub backend: BackendKind,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteError {
    /// The tier asked for cannot run it (down, missing, or wrong language).
    Unavailable { kind: BackendKind, reason: String },
    /// A fuel budget was asked of a tier that does not meter fuel.
    FuelNotMetered { kind: BackendKind },
    /// `auto` found no tier that can run it.
    NoTier(String),
}

/// Chooses the tier for a workload.
pub fn route(
    request: &RouteRequest,
    tiers: &[TierState],
    policy: Policy,
) -> Result<Route, RouteError> {
    match request.isolation {
        Isolation::Isolate => explicit(BackendKind::Isolate, request, tiers),
        Isolation::Wasm => explicit(BackendKind::Wasm, request, tiers),
        Isolation::Auto => auto(request, tiers, policy),
    }
}

fn explicit(
    kind: BackendKind,
    request: &RouteRequest,
    tiers: &[TierState],
) -> Result<Route, RouteError> {
    let tier = find(kind, tiers);
    if let Err(reason) = can_run(tier, request.language) {
        return Err(RouteError::Unavailable { kind, reason });
    }
    if request.fuel_requested && !tier.is_some_and(|tier| tier.meters_fuel) {
        return Err(RouteError::FuelNotMetered { kind });
    }
    Ok(Route {
        backend: kind,
        reason: "requested".into(),
    })
}

fn auto(request: &RouteRequest, tiers: &[TierState], policy: Policy) -> Result<Route, RouteError> {
    let policy_name = policy.as_str();
    let mut skipped = Vec::new();
    for kind in policy.preference() {
        let tier = find(kind, tiers);
        let verdict = can_run(tier, request.language).and_then(|()| {
            match request.fuel_requested && !tier.is_some_and(|tier| tier.meters_fuel) {
                true => Err("does not meter fuel".to_owned()),
                false => Ok(()),
            }
        });
        match verdict {
            Ok(()) => {
                let reason = match (skipped.is_empty(), request.fuel_requested) {
                    (true, _) => format!("policy {policy_name}: {} is preferred", kind.as_str()),
                    (false, true) => format!(
                        "fuel budget requested: {}; {} meters fuel",
                        skipped.join("; "),
                        kind.as_str()
                    ),
                    (false, false) => format!(
                        "policy {policy_name}: {}; fell back to {}",
                        skipped.join("; "),
                        kind.as_str()
                    ),
                };
                return Ok(Route {
                    backend: kind,
                    reason,
                });
            }
            Err(why) => skipped.push(format!("{} {why}", kind.as_str())),
        }
    }
    Err(RouteError::NoTier(skipped.join("; ")))
}

fn find(kind: BackendKind, tiers: &[TierState]) -> Option<&TierState> {
    tiers.iter().find(|tier| tier.kind == kind)
}

fn can_run(tier: Option<&TierState>, language: Language) -> Result<(), String> {
    let Some(tier) = tier else {
        return Err("is not configured on this agent".to_owned());
    };
    if !tier.healthy {
        return Err(format!("is unavailable: {}", tier.detail));
    }
    if !tier.languages.contains(&language) {
        return Err(format!("does not accept {}", language.as_str()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(kind: BackendKind, healthy: bool) -> TierState {
        TierState {
            kind,
            healthy,
            detail: if healthy {
                String::new()
            } else {
                "host restarting".into()
            },
            languages: vec![Language::Javascript, Language::Typescript],
            meters_fuel: kind == BackendKind::Wasm,
        }
    }

    fn both(isolate_up: bool, wasm_up: bool) -> Vec<TierState> {
        vec![
            tier(BackendKind::Isolate, isolate_up),
            tier(BackendKind::Wasm, wasm_up),
        ]
    }

    fn request(isolation: Isolation, fuel_requested: bool) -> RouteRequest {
        RouteRequest {
            isolation,
            language: Language::Javascript,
            fuel_requested,
        }
    }

    #[test]
    fn explicit_tier_is_used_when_healthy() {
        let route = route(
            &request(Isolation::Wasm, false),
            &both(true, true),
            Policy::IsolateFirst,
        )
        .unwrap();
        assert_eq!(
            route,
            Route {
                backend: BackendKind::Wasm,
                reason: "requested".into()
            }
        );
    }

    #[test]
    fn explicit_tier_that_is_down_is_unavailable_not_rerouted() {
        let err = route(
            &request(Isolation::Isolate, false),
            &both(false, true),
            Policy::IsolateFirst,
        )
        .unwrap_err();
        assert_eq!(
            err,
            RouteError::Unavailable {
                kind: BackendKind::Isolate,
                reason: "is unavailable: host restarting".into()
            }
        );
    }

    #[test]
    fn explicit_tier_that_is_not_configured_is_unavailable() {
        let tiers = vec![tier(BackendKind::Wasm, true)];
        let err = route(
            &request(Isolation::Isolate, false),
            &tiers,
            Policy::IsolateFirst,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                RouteError::Unavailable {
                    kind: BackendKind::Isolate,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn explicit_tier_without_the_language_is_unavailable() {
        let mut tiers = both(true, true);
        tiers[1].languages = vec![Language::Javascript];
        let mut req = request(Isolation::Wasm, false);
        req.language = Language::Typescript;
        let err = route(&req, &tiers, Policy::IsolateFirst).unwrap_err();
        assert!(
            matches!(
                err,
                RouteError::Unavailable {
                    kind: BackendKind::Wasm,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn fuel_asked_of_a_tier_that_cannot_meter_it_is_refused() {
        let err = route(
            &request(Isolation::Isolate, true),
            &both(true, true),
            Policy::IsolateFirst,
        )
        .unwrap_err();
        assert_eq!(
            err,
            RouteError::FuelNotMetered {
                kind: BackendKind::Isolate
            }
        );
    }

    #[test]
    fn auto_takes_the_policy_preference_when_healthy() {
        let tiers = both(true, true);
        let isolate = route(
            &request(Isolation::Auto, false),
            &tiers,
            Policy::IsolateFirst,
        )
        .unwrap();
        assert_eq!(isolate.backend, BackendKind::Isolate);
        assert_eq!(isolate.reason, "policy isolate-first: isolate is preferred");
        let wasm = route(&request(Isolation::Auto, false), &tiers, Policy::WasmFirst).unwrap();
        assert_eq!(wasm.backend, BackendKind::Wasm);
        assert_eq!(wasm.reason, "policy wasm-first: wasm is preferred");
    }

    #[test]
    fn auto_falls_back_when_the_preferred_tier_is_down_and_says_why() {
        let route = route(
            &request(Isolation::Auto, false),
            &both(false, true),
            Policy::IsolateFirst,
        )
        .unwrap();
        assert_eq!(route.backend, BackendKind::Wasm);
        assert_eq!(
            route.reason,
            "policy isolate-first: isolate is unavailable: host restarting; fell back to wasm"
        );
    }

    #[test]
    fn auto_falls_back_when_the_preferred_tier_is_missing() {
        let tiers = vec![tier(BackendKind::Wasm, true)];
        let route = route(
            &request(Isolation::Auto, false),
            &tiers,
            Policy::IsolateFirst,
        )
        .unwrap();
        assert_eq!(route.backend, BackendKind::Wasm);
        assert!(
            route.reason.contains("isolate is not configured"),
            "{}",
            route.reason
        );
    }

    #[test]
    fn auto_with_fuel_goes_to_the_tier_that_meters_it() {
        let route = route(
            &request(Isolation::Auto, true),
            &both(true, true),
            Policy::IsolateFirst,
        )
        .unwrap();
        assert_eq!(route.backend, BackendKind::Wasm);
        assert_eq!(
            route.reason,
            "fuel budget requested: isolate does not meter fuel; wasm meters fuel"
        );
    }

    #[test]
    fn auto_with_fuel_and_no_metering_tier_has_no_tier() {
        let err = route(
            &request(Isolation::Auto, true),
            &both(true, false),
            Policy::IsolateFirst,
        )
        .unwrap_err();
        assert!(matches!(err, RouteError::NoTier(_)), "{err:?}");
    }

    #[test]
    fn auto_with_every_tier_down_has_no_tier() {
        let err = route(
            &request(Isolation::Auto, false),
            &both(false, false),
            Policy::WasmFirst,
        )
        .unwrap_err();
        assert_eq!(
            err,
            RouteError::NoTier(
                "wasm is unavailable: host restarting; isolate is unavailable: host restarting"
                    .into()
            )
        );
    }
}
