//! Parsing and validating policies: the built-in files, the example, and each error a user
//! can make, with its exact message.

use super::*;
use crate::backend::Language;

#[test]
fn built_in_policies_parse_and_prefer_their_tier() {
    let isolate_first = built_in("isolate-first").unwrap();
    assert_eq!(isolate_first.name, "isolate-first");
    assert!(isolate_first.rules.is_empty());
    assert_eq!(
        isolate_first.fallback,
        [BackendKind::Isolate, BackendKind::Wasm]
    );
    let wasm_first = built_in("wasm-first").unwrap();
    assert_eq!(
        wasm_first.fallback,
        [BackendKind::Wasm, BackendKind::Isolate]
    );
    for (name, _) in BUILT_IN {
        assert_eq!(built_in(name).unwrap().name, name);
    }
}

#[test]
fn unknown_built_in_lists_the_known_ones() {
    assert_eq!(
        built_in("fastest").unwrap_err(),
        "no built-in policy \"fastest\"; built-in policies are isolate-first, wasm-first"
    );
}

#[test]
fn the_example_policy_file_loads() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/small-on-wasm.toml");
    let policy = load_file(&path).unwrap();
    assert_eq!(policy.name, "small-on-wasm");
    assert_eq!(policy.rules.len(), 3);
    let small = &policy.rules[2].when;
    assert_eq!(small.language, Some(Language::Javascript));
    assert_eq!(
        small.code_bytes,
        Some(Range {
            min: None,
            max: Some(4096)
        })
    );
}

#[test]
fn json_and_toml_are_the_same_format() {
    let toml = parse_toml(
        "name = \"p\"\nfallback = [\"wasm\"]\n[[rules]]\nwhen = { tag = \"t\", tier_healthy = { isolate = true } }\ntiers = [\"isolate\"]\n",
    )
    .unwrap();
    let json = parse_json(
        r#"{"name":"p","fallback":["wasm"],"rules":[{"when":{"tag":"t","tier_healthy":{"isolate":true}},"tiers":["isolate"]}]}"#,
    )
    .unwrap();
    assert_eq!(toml, json);
}

#[test]
fn format_errors_say_where() {
    let unknown = parse_toml(
        "name = \"p\"\nfallback = [\"wasm\"]\n[[rules]]\nwhen = { size = 1 }\ntiers = [\"wasm\"]\n",
    )
    .unwrap_err();
    assert!(unknown.contains("line 4"), "{unknown}");
    assert!(unknown.contains("unknown field `size`"), "{unknown}");
    let tier = parse_json(r#"{"name":"p","fallback":["gpu"]}"#).unwrap_err();
    assert!(
        tier.starts_with("unknown variant `gpu`, expected `isolate` or `wasm` at line 1"),
        "{tier}"
    );
    let positional = parse_json(
        r#"{"name":"p","fallback":["wasm"],"rules":[{"when":[null,null],"tiers":["wasm"]}]}"#,
    )
    .unwrap_err();
    assert!(
        positional.starts_with("invalid type: sequence, expected an object"),
        "{positional}"
    );
    let top = parse_json(r#"["p", "", [], ["wasm"]]"#).unwrap_err();
    assert!(
        top.starts_with("invalid type: sequence, expected an object"),
        "{top}"
    );
    let missing = parse_json(r#"{"name":"p"}"#).unwrap_err();
    assert!(missing.starts_with("missing field `fallback`"), "{missing}");
    let extension = load_file(std::path::Path::new("policy.yaml")).unwrap_err();
    assert!(
        extension.starts_with("cannot read policy policy.yaml"),
        "{extension}"
    );
}

#[test]
fn validation_errors_are_exact() {
    let cases = [
        (
            r#"{"name":"","fallback":["wasm"]}"#,
            "name must be 1 to 64 letters, digits, spaces, '.', '_' or '-', got \"\"",
        ),
        (
            r#"{"name":"p","fallback":[]}"#,
            "fallback must name at least one tier",
        ),
        (
            r#"{"name":"p","fallback":["wasm","wasm"]}"#,
            "fallback names wasm twice",
        ),
        (
            r#"{"name":"p","fallback":["wasm"],"rules":[{"tiers":[]}]}"#,
            "rule 1: tiers must name at least one tier",
        ),
        (
            r#"{"name":"p","fallback":["wasm"],"rules":[{"when":{},"tiers":["wasm"]},{"name":"big","when":{"code_bytes":{"min":10,"max":5}},"tiers":["wasm"]}]}"#,
            "rule \"big\": code_bytes: min 10 is above max 5",
        ),
        (
            r#"{"name":"p","fallback":["wasm"],"rules":[{"when":{"fuel":{}},"tiers":["wasm"]}]}"#,
            "rule 1: fuel needs a min, a max or both",
        ),
        (
            r#"{"name":"p","fallback":["wasm"],"rules":[{"when":{"tag":"a/b"},"tiers":["wasm"]}]}"#,
            "rule 1: tag must be 1 to 64 letters, digits, spaces, '.', '_' or '-', got \"a/b\"",
        ),
        (
            r#"{"name":"p","fallback":["wasm"],"rules":[{"when":{"tier_healthy":{}},"tiers":["wasm"]}]}"#,
            "rule 1: tier_healthy must name at least one tier",
        ),
    ];
    for (json, expected) in cases {
        assert_eq!(parse_json(json).unwrap_err(), expected, "{json}");
    }
    let many = format!(
        r#"{{"name":"p","fallback":["wasm"],"rules":[{}]}}"#,
        vec![r#"{"tiers":["wasm"]}"#; MAX_RULES + 1].join(",")
    );
    assert_eq!(
        parse_json(&many).unwrap_err(),
        "a policy has at most 64 rules, this one has 65"
    );
}

#[test]
fn an_api_choice_is_a_name_or_a_policy_with_its_own_errors() {
    let named: PolicyChoice = serde_json::from_str(r#""wasm-first""#).unwrap();
    assert_eq!(named.resolve().unwrap().name, "wasm-first");
    let inline: PolicyChoice =
        serde_json::from_str(r#"{"name":"mine","fallback":["wasm"]}"#).unwrap();
    assert_eq!(inline.resolve().unwrap().name, "mine");
    let err = serde_json::from_str::<PolicyChoice>(r#"{"name":"mine","fallbak":["wasm"]}"#)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("unknown field `fallbak`"), "{err}");
    let invalid: PolicyChoice = serde_json::from_str(r#"{"name":"mine","fallback":[]}"#).unwrap();
    assert_eq!(
        invalid.resolve().unwrap_err(),
        "fallback must name at least one tier"
    );
    let number = serde_json::from_str::<PolicyChoice>("3")
        .unwrap_err()
        .to_string();
    assert!(
        number.contains("a built-in policy's name or a policy object"),
        "{number}"
    );
}
