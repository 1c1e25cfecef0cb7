//! Routing: which tier runs a workload, and why. A pure function of the workload's features,
//! the tiers' state and the policy (data, see [`crate::policy`]), so every branch is tested
//! directly below.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::backend::{BackendKind, Language};
use crate::policy::RoutingPolicy;

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

/// The facts about one workload that routing looks at.
#[derive(Clone, Debug)]
pub struct RouteRequest {
    pub isolation: Isolation,
    pub language: Language,
    pub code_bytes: u64,
    /// Effective limits: what the workload asked for, or the agent's default.
    pub timeout_ms: u64,
    pub memory_mb: u64,
    /// The fuel budget asked for; none means unmetered.
    pub fuel: Option<u64>,
    pub tag: Option<String>,
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
    /// `auto` found no tier that can run it now: a tier it could use is down.
    NoTier(String),
    /// `auto` found no tier that could ever run it: the policy names none that is
    /// configured, accepts its language and meters the fuel it asks for.
    Unroutable(String),
}

/// Chooses the tier for a workload.
pub fn route(
    request: &RouteRequest,
    tiers: &[TierState],
    policy: &RoutingPolicy,
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
    if request.fuel.is_some() && !tier.is_some_and(|tier| tier.meters_fuel) {
        return Err(RouteError::FuelNotMetered { kind });
    }
    Ok(Route {
        backend: kind,
        reason: "requested".into(),
    })
}

/// The first matching rule with a tier that can run the workload decides; then the fallback.
/// The reason names the policy, the rule, and every tier passed over on the way.
fn auto(
    request: &RouteRequest,
    tiers: &[TierState],
    policy: &RoutingPolicy,
) -> Result<Route, RouteError> {
    let mut passed_over = Vec::new();
    for (index, rule) in policy.rules.iter().enumerate() {
        if !rule.when.matches(request, tiers) {
            continue;
        }
        let context = format!("policy {}: {}", policy.name, rule.label(index));
        if let Some(route) = first_able(&rule.tiers, request, tiers, &context, &mut passed_over) {
            return Ok(route);
        }
    }
    let context = match policy.rules.is_empty() {
        true => format!("policy {}", policy.name),
        false => format!("policy {}: fallback", policy.name),
    };
    first_able(&policy.fallback, request, tiers, &context, &mut passed_over).ok_or_else(|| {
        let reason = passed_over.join("; ");
        let any_down = tiers.iter().any(|tier| !tier.healthy);
        match any_down {
            true => RouteError::NoTier(reason),
            false => RouteError::Unroutable(reason),
        }
    })
}

/// The first of `kinds` that can run the workload; the others are added to `passed_over`.
fn first_able(
    kinds: &[BackendKind],
    request: &RouteRequest,
    tiers: &[TierState],
    context: &str,
    passed_over: &mut Vec<String>,
) -> Option<Route> {
    for &kind in kinds {
        let tier = find(kind, tiers);
        let verdict = can_run(tier, request.language).and_then(|()| {
            match request.fuel.is_some() && !tier.is_some_and(|tier| tier.meters_fuel) {
                true => Err("does not meter the fuel budget asked for".to_owned()),
                false => Ok(()),
            }
        });
        match verdict {
            Ok(()) => {
                let reason = match passed_over.is_empty() {
                    true => format!("{context}: {} is preferred", kind.as_str()),
                    false => format!(
                        "{context}: {}; fell back to {}",
                        passed_over.join("; "),
                        kind.as_str()
                    ),
                };
                return Some(Route {
                    backend: kind,
                    reason,
                });
            }
            Err(why) => passed_over.push(format!("{} {why}", kind.as_str())),
        }
    }
    None
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
    use crate::policy::{self, built_in};

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

    fn request(isolation: Isolation, fuel: Option<u64>) -> RouteRequest {
        RouteRequest {
            isolation,
            language: Language::Javascript,
            code_bytes: 100,
            timeout_ms: 2_000,
            memory_mb: 64,
            fuel,
            tag: None,
        }
    }

    fn isolate_first() -> RoutingPolicy {
        built_in("isolate-first").unwrap()
    }

    /// A policy with one rule (`when`, a TOML inline table) sending matches to wasm, and
    /// isolate as the fallback.
    fn one_rule(when: &str) -> RoutingPolicy {
        policy::parse_toml(&format!(
            "name = \"p\"\nfallback = [\"isolate\"]\n[[rules]]\nname = \"r\"\nwhen = {when}\ntiers = [\"wasm\"]\n"
        ))
        .unwrap()
    }

    fn auto_backend(policy: &RoutingPolicy, request: &RouteRequest) -> BackendKind {
        route(request, &both(true, true), policy).unwrap().backend
    }

    #[test]
    fn explicit_tier_is_used_when_healthy() {
        let route = route(
            &request(Isolation::Wasm, None),
            &both(true, true),
            &isolate_first(),
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
            &request(Isolation::Isolate, None),
            &both(false, true),
            &isolate_first(),
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
        let err = route(&request(Isolation::Isolate, None), &tiers, &isolate_first()).unwrap_err();
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
        let mut req = request(Isolation::Wasm, None);
        req.language = Language::Typescript;
        let err = route(&req, &tiers, &isolate_first()).unwrap_err();
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
            &request(Isolation::Isolate, Some(1_000)),
            &both(true, true),
            &isolate_first(),
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
        let isolate = route(&request(Isolation::Auto, None), &tiers, &isolate_first()).unwrap();
        assert_eq!(isolate.backend, BackendKind::Isolate);
        assert_eq!(isolate.reason, "policy isolate-first: isolate is preferred");
        let wasm_first = built_in("wasm-first").unwrap();
        let wasm = route(&request(Isolation::Auto, None), &tiers, &wasm_first).unwrap();
        assert_eq!(wasm.backend, BackendKind::Wasm);
        assert_eq!(wasm.reason, "policy wasm-first: wasm is preferred");
    }

    #[test]
    fn auto_falls_back_when_the_preferred_tier_is_down_and_says_why() {
        let route = route(
            &request(Isolation::Auto, None),
            &both(false, true),
            &isolate_first(),
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
        let route = route(&request(Isolation::Auto, None), &tiers, &isolate_first()).unwrap();
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
            &request(Isolation::Auto, Some(1_000)),
            &both(true, true),
            &isolate_first(),
        )
        .unwrap();
        assert_eq!(route.backend, BackendKind::Wasm);
        assert_eq!(
            route.reason,
            "policy isolate-first: isolate does not meter the fuel budget asked for; fell back to wasm"
        );
    }

    #[test]
    fn auto_with_fuel_and_no_metering_tier_has_no_tier() {
        let err = route(
            &request(Isolation::Auto, Some(1_000)),
            &both(true, false),
            &isolate_first(),
        )
        .unwrap_err();
        assert!(matches!(err, RouteError::NoTier(_)), "{err:?}");
    }

    #[test]
    fn auto_with_no_tier_that_could_ever_run_it_is_unroutable() {
        let policy = one_rule("{ tag = \"x\" }");
        let err = route(
            &request(Isolation::Auto, Some(1_000)),
            &both(true, true),
            &policy,
        )
        .unwrap_err();
        assert_eq!(
            err,
            RouteError::Unroutable("isolate does not meter the fuel budget asked for".into())
        );
    }

    #[test]
    fn auto_with_every_tier_down_has_no_tier() {
        let err = route(
            &request(Isolation::Auto, None),
            &both(false, false),
            &built_in("wasm-first").unwrap(),
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

    #[test]
    fn a_matching_rule_decides_and_is_named_in_the_reason() {
        let policy = one_rule("{ language = \"javascript\" }");
        let route = route(&request(Isolation::Auto, None), &both(true, true), &policy).unwrap();
        assert_eq!(route.backend, BackendKind::Wasm);
        assert_eq!(route.reason, "policy p: rule \"r\": wasm is preferred");
    }

    #[test]
    fn no_matching_rule_leaves_it_to_the_fallback() {
        let policy = one_rule("{ language = \"typescript\" }");
        let route = route(&request(Isolation::Auto, None), &both(true, true), &policy).unwrap();
        assert_eq!(route.backend, BackendKind::Isolate);
        assert_eq!(route.reason, "policy p: fallback: isolate is preferred");
    }

    #[test]
    fn a_matching_rule_whose_tiers_cannot_run_it_passes_to_the_next() {
        let policy = one_rule("{ language = \"javascript\" }");
        let route = route(&request(Isolation::Auto, None), &both(true, false), &policy).unwrap();
        assert_eq!(route.backend, BackendKind::Isolate);
        assert_eq!(
            route.reason,
            "policy p: fallback: wasm is unavailable: host restarting; fell back to isolate"
        );
    }

    #[test]
    fn the_first_matching_rule_wins() {
        let policy = policy::parse_toml(
            "name = \"p\"\nfallback = [\"wasm\"]\n\
             [[rules]]\nwhen = { tag = \"a\" }\ntiers = [\"isolate\"]\n\
             [[rules]]\nwhen = {}\ntiers = [\"wasm\"]\n",
        )
        .unwrap();
        let mut tagged = request(Isolation::Auto, None);
        tagged.tag = Some("a".into());
        let route = route(&tagged, &both(true, true), &policy).unwrap();
        assert_eq!(route.reason, "policy p: rule 1: isolate is preferred");
        assert_eq!(
            auto_backend(&policy, &request(Isolation::Auto, None)),
            BackendKind::Wasm
        );
    }

    #[test]
    fn language_rule() {
        let policy = one_rule("{ language = \"typescript\" }");
        let mut ts = request(Isolation::Auto, None);
        ts.language = Language::Typescript;
        assert_eq!(auto_backend(&policy, &ts), BackendKind::Wasm);
        let js = request(Isolation::Auto, None);
        assert_eq!(auto_backend(&policy, &js), BackendKind::Isolate);
    }

    #[test]
    fn code_size_rule_bounds_are_inclusive() {
        let policy = one_rule("{ code_bytes = { min = 10, max = 100 } }");
        for (bytes, expected) in [
            (9, BackendKind::Isolate),
            (10, BackendKind::Wasm),
            (100, BackendKind::Wasm),
            (101, BackendKind::Isolate),
        ] {
            let mut req = request(Isolation::Auto, None);
            req.code_bytes = bytes;
            assert_eq!(auto_backend(&policy, &req), expected, "{bytes} bytes");
        }
    }

    #[test]
    fn limit_rules_see_the_effective_limits() {
        let policy = one_rule("{ timeout_ms = { max = 500 }, memory_mb = { min = 32 } }");
        let mut short = request(Isolation::Auto, None);
        short.timeout_ms = 500;
        assert_eq!(auto_backend(&policy, &short), BackendKind::Wasm);
        short.memory_mb = 16;
        assert_eq!(auto_backend(&policy, &short), BackendKind::Isolate);
        let default_timeout = request(Isolation::Auto, None);
        assert_eq!(
            auto_backend(&policy, &default_timeout),
            BackendKind::Isolate
        );
    }

    #[test]
    fn fuel_rules_hold_only_for_a_budget_asked_for() {
        let range = one_rule("{ fuel = { max = 1000 } }");
        let unmetered = request(Isolation::Auto, None);
        let mut metered = request(Isolation::Auto, Some(1_000));
        assert_eq!(auto_backend(&range, &metered), BackendKind::Wasm);
        metered.fuel = Some(1_001);
        assert_eq!(
            route(&metered, &both(true, true), &range),
            Err(RouteError::Unroutable(
                "isolate does not meter the fuel budget asked for".into()
            )),
            "the rule does not hold, and the fallback cannot meter fuel"
        );
        assert_eq!(auto_backend(&range, &unmetered), BackendKind::Isolate);
        let wanted = one_rule("{ fuel_requested = false }");
        assert_eq!(auto_backend(&wanted, &unmetered), BackendKind::Wasm);
    }

    #[test]
    fn tag_rule_matches_exactly() {
        let policy = one_rule("{ tag = \"batch\" }");
        let mut req = request(Isolation::Auto, None);
        assert_eq!(auto_backend(&policy, &req), BackendKind::Isolate);
        req.tag = Some("batch".into());
        assert_eq!(auto_backend(&policy, &req), BackendKind::Wasm);
        req.tag = Some("batch2".into());
        assert_eq!(auto_backend(&policy, &req), BackendKind::Isolate);
    }

    #[test]
    fn tier_health_rule_sees_the_tiers_now() {
        let policy = policy::parse_toml(
            "name = \"p\"\nfallback = [\"wasm\", \"isolate\"]\n\
             [[rules]]\nname = \"wasm degraded\"\nwhen = { tier_healthy = { wasm = false } }\ntiers = [\"isolate\"]\n",
        )
        .unwrap();
        let req = request(Isolation::Auto, None);
        let down = route(&req, &both(true, false), &policy).unwrap();
        assert_eq!(down.backend, BackendKind::Isolate);
        assert_eq!(
            down.reason,
            "policy p: rule \"wasm degraded\": isolate is preferred"
        );
        let up = route(&req, &both(true, true), &policy).unwrap();
        assert_eq!(up.reason, "policy p: fallback: wasm is preferred");
        let missing = route(&req, &[tier(BackendKind::Isolate, true)], &policy).unwrap();
        assert_eq!(missing.backend, BackendKind::Isolate);
        assert!(
            missing.reason.contains("wasm degraded"),
            "{}",
            missing.reason
        );
    }
}
