//! The wasm tier end to end over HTTP: every limit gives its exact status, and the tier runs
//! a normal workload right after.

mod common;

use common::{TestServer, assert_tier_still_healthy, run_wasm, serve_args, shared};
use serde_json::json;

#[tokio::test]
async fn wasm_trivial_workload_returns_output_and_metadata() {
    let answer = run_wasm(
        shared(),
        "export default (input) => ({ sum: input.a + input.b })",
        json!({"input": {"a": 2, "b": 3}}),
    )
    .await;
    assert_eq!(answer["status"], "succeeded", "{answer}");
    assert_eq!(answer["output"], json!({"sum": 5}));
    assert_eq!(answer["backend"], "wasm");
    assert_eq!(answer["route_reason"], "requested");
    let metadata = &answer["metadata"];
    assert_eq!(metadata["tier"], "wasm");
    // No fuel budget asked: the build without fuel counting ran.
    assert_eq!(metadata["metered"], false, "{metadata}");
    assert_eq!(metadata["fuel_consumed"], 0, "{metadata}");
    assert!(
        metadata["memory_peak_bytes"].as_u64().unwrap() > 0,
        "{metadata}"
    );
    assert!(
        metadata["instantiate_ms"].as_f64().unwrap() >= 0.0,
        "{metadata}"
    );
    assert!(answer["id"].as_str().is_some_and(|id| !id.is_empty()));
}

#[tokio::test]
async fn wasm_workload_with_a_fuel_budget_runs_metered() {
    let code = "export default (input) => input.a + input.b";
    let answer = run_wasm(
        shared(),
        code,
        json!({"input": {"a": 2, "b": 3}, "fuel": 1_000_000_000u64}),
    )
    .await;
    assert_eq!(answer["status"], "succeeded", "{answer}");
    assert_eq!(answer["output"], 5);
    let metadata = &answer["metadata"];
    assert_eq!(metadata["metered"], true, "{metadata}");
    let fuel = metadata["fuel_consumed"].as_u64().unwrap();
    assert!((1..1_000_000_000).contains(&fuel), "{metadata}");
}

#[tokio::test]
async fn wasm_out_of_fuel_is_reported() {
    let code = "export default () => { let i = 0; while (true) i++; }";
    let answer = run_wasm(shared(), code, json!({"fuel": 1_000_000})).await;
    assert_eq!(answer["status"], "fuel_exhausted", "{answer}");
    assert_eq!(answer["error"]["name"], "FuelExhausted");
    assert_eq!(answer["limits"]["fuel"], 1_000_000);
    assert_eq!(answer["metadata"]["fuel_consumed"], 1_000_000);
    assert_tier_still_healthy(shared()).await;
}

#[tokio::test]
async fn wasm_infinite_loop_is_stopped_at_the_deadline() {
    let code = "export default () => { while (true) {} }";
    let answer = run_wasm(shared(), code, json!({"timeout_ms": 200})).await;
    assert_eq!(answer["status"], "timeout", "{answer}");
    let duration = answer["duration_ms"].as_f64().unwrap();
    assert!(
        (200.0..10_000.0).contains(&duration),
        "stopped after {duration} ms"
    );
    assert_tier_still_healthy(shared()).await;
}

#[tokio::test]
async fn wasm_deadline_holds_after_the_idle_epoch_ticker_parked() {
    // An agent of its own, so no other test's workload keeps the ticker awake.
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--isolate-hosts", "1", "--isolate-spares", "0"];
    let server = TestServer::start(serve_args(dir.path(), &flags));
    let answer = run_wasm(&server, "export default () => 1", json!({})).await;
    assert_eq!(answer["status"], "succeeded", "{answer}");
    // The ticker parks after 100 ms without a running guest; a ticker the guest failed to
    // wake would tick again only at its engine check, 1 s after it parked (~850 ms in).
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    let code = "export default () => { while (true) {} }";
    let answer = run_wasm(&server, code, json!({"timeout_ms": 50})).await;
    assert_eq!(answer["status"], "timeout", "{answer}");
    let duration = answer["duration_ms"].as_f64().unwrap();
    assert!(
        (50.0..500.0).contains(&duration),
        "stopped after {duration} ms"
    );
    server.stop();
}

#[tokio::test]
async fn wasm_logs_written_before_a_timeout_are_kept() {
    let code = "export default () => { console.log('started'); console.warn('spinning'); while (true) {} }";
    let answer = run_wasm(shared(), code, json!({"timeout_ms": 100})).await;
    assert_eq!(answer["status"], "timeout", "{answer}");
    assert_eq!(
        answer["logs"],
        json!([
            {"level": "log", "message": "started"},
            {"level": "warn", "message": "spinning"},
        ])
    );
    assert_tier_still_healthy(shared()).await;
}

#[tokio::test]
async fn wasm_array_bomb_hits_the_memory_limit() {
    let code =
        "export default () => { const a = []; while (true) a.push(new Array(100000).fill(1)); }";
    let answer = run_wasm(shared(), code, json!({"memory_mb": 32})).await;
    assert_eq!(answer["status"], "memory_limit", "{answer}");
    assert!(answer["metadata"]["memory_peak_bytes"].as_u64().unwrap() <= 32 << 20);
    assert_tier_still_healthy(shared()).await;
}

#[tokio::test]
async fn wasm_string_doubling_hits_the_memory_limit() {
    let code = "export default () => { let s = 'x'; while (true) s = s.repeat(2); }";
    let answer = run_wasm(shared(), code, json!({"memory_mb": 32})).await;
    assert_eq!(answer["status"], "memory_limit", "{answer}");
    assert_tier_still_healthy(shared()).await;
}

#[tokio::test]
async fn wasm_rope_doubling_ends_at_the_string_length_limit() {
    // `s + s` builds a rope that takes almost no memory; QuickJS stops it at 2^30 chars.
    let code = "export default () => { let s = 'x'; while (true) s = s + s; }";
    let answer = run_wasm(shared(), code, json!({"memory_mb": 32})).await;
    assert_eq!(answer["status"], "error", "{answer}");
    assert_eq!(answer["error"]["message"], "string too long");
    assert_tier_still_healthy(shared()).await;
}

#[tokio::test]
async fn wasm_arraybuffer_bomb_hits_the_memory_limit() {
    let code = "export default () => { const keep = []; while (true) keep.push(new ArrayBuffer(1 << 20)); }";
    let answer = run_wasm(shared(), code, json!({"memory_mb": 32})).await;
    assert_eq!(answer["status"], "memory_limit", "{answer}");
    assert_tier_still_healthy(shared()).await;
}

#[tokio::test]
async fn wasm_stack_overflow_is_an_error() {
    let code = "const f = (n) => f(n + 1) + 1;\nexport default () => f(0);";
    let answer = run_wasm(shared(), code, json!({})).await;
    assert_eq!(answer["status"], "error", "{answer}");
    assert_eq!(answer["error"]["name"], "RangeError", "{answer}");
    assert_eq!(
        answer["error"]["message"],
        "Maximum call stack size exceeded"
    );
    assert_tier_still_healthy(shared()).await;
}

#[tokio::test]
async fn wasm_syntax_error_has_line_and_column() {
    let code = "export default () => {\n  let x = ;\n};";
    let answer = run_wasm(shared(), code, json!({})).await;
    assert_eq!(answer["status"], "error", "{answer}");
    assert_eq!(answer["error"]["name"], "SyntaxError");
    assert_eq!(answer["error"]["line"], 2, "{answer}");
    assert!(answer["error"]["column"].as_u64().is_some(), "{answer}");
    assert_tier_still_healthy(shared()).await;
}

#[tokio::test]
async fn wasm_thrown_error_has_name_message_and_position() {
    let code = "export default () => {\n  throw new TypeError('bad input');\n};";
    let answer = run_wasm(shared(), code, json!({})).await;
    assert_eq!(answer["status"], "error", "{answer}");
    assert_eq!(answer["error"]["name"], "TypeError");
    assert_eq!(answer["error"]["message"], "bad input");
    assert_eq!(answer["error"]["line"], 2, "{answer}");
    assert_tier_still_healthy(shared()).await;
}

#[tokio::test]
async fn wasm_async_default_export_is_awaited_with_timers() {
    let code = "export default async (input) => {\n  await new Promise((resolve) => setTimeout(resolve, 50));\n  return (await Promise.resolve(input)) + 1;\n};";
    let answer = run_wasm(shared(), code, json!({"input": 41})).await;
    assert_eq!(answer["status"], "succeeded", "{answer}");
    assert_eq!(answer["output"], 42);
}

#[tokio::test]
async fn wasm_missing_default_export_is_a_contract_error() {
    let answer = run_wasm(shared(), "export const x = 1;", json!({})).await;
    assert_eq!(answer["status"], "error", "{answer}");
    assert_eq!(answer["error"]["name"], "ContractError");
    assert_eq!(answer["error"]["message"], "module has no default export");
}

#[tokio::test]
async fn wasm_never_settling_promise_is_a_contract_error() {
    let code = "export default () => new Promise(() => {});";
    let answer = run_wasm(shared(), code, json!({})).await;
    assert_eq!(answer["status"], "error", "{answer}");
    assert_eq!(answer["error"]["name"], "ContractError");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("never settled")
    );
}

#[tokio::test]
async fn wasm_non_serialisable_output_is_an_output_error() {
    let answer = run_wasm(shared(), "export default () => 10n;", json!({})).await;
    assert_eq!(answer["status"], "error", "{answer}");
    assert_eq!(answer["error"]["name"], "OutputError");
}

#[tokio::test]
async fn wasm_huge_output_is_an_output_limit() {
    let code = "export default () => 'x'.repeat(2 * 1024 * 1024);";
    let answer = run_wasm(shared(), code, json!({})).await;
    assert_eq!(answer["status"], "output_limit", "{answer}");
    assert!(answer["output"].is_null());
    assert_tier_still_healthy(shared()).await;
}

#[tokio::test]
async fn wasm_log_flood_is_capped_and_flagged() {
    let code = "export default () => { for (let i = 0; i < 100000; i++) console.log('line', i); return 'done'; }";
    let answer = run_wasm(shared(), code, json!({})).await;
    assert_eq!(answer["status"], "succeeded", "{answer}");
    assert_eq!(answer["logs_truncated"], true);
    let logs = answer["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 1000);
    assert_eq!(logs[0], json!({"level": "log", "message": "line 0"}));
    assert_tier_still_healthy(shared()).await;
}

#[tokio::test]
async fn wasm_console_levels_are_captured() {
    let code = "export default () => { console.info('i'); console.warn('w', {a: 1}); console.error(new Error('e')); }";
    let answer = run_wasm(shared(), code, json!({})).await;
    assert_eq!(answer["status"], "succeeded", "{answer}");
    assert_eq!(answer["output"], json!(null));
    assert_eq!(
        answer["logs"],
        json!([
            {"level": "info", "message": "i"},
            {"level": "warn", "message": "w {\"a\":1}"},
            {"level": "error", "message": "Error: e"},
        ])
    );
}

#[tokio::test]
async fn wasm_typescript_runs_and_errors_point_at_the_typescript_source() {
    let code = "interface In { n: number }\nexport default (input: In): number => input.n * 2;";
    let answer = run_wasm(
        shared(),
        code,
        json!({"language": "typescript", "input": {"n": 4}}),
    )
    .await;
    assert_eq!(answer["status"], "succeeded", "{answer}");
    assert_eq!(answer["output"], 8);

    let code = "type T = string;\nexport default (): T => {\n  const s: T = 'a';\n  throw new Error(s);\n};";
    let answer = run_wasm(shared(), code, json!({"language": "typescript"})).await;
    assert_eq!(answer["status"], "error", "{answer}");
    assert_eq!(answer["error"]["line"], 4, "{answer}");

    let answer = run_wasm(shared(), "let x: = 1;", json!({"language": "typescript"})).await;
    assert_eq!(answer["status"], "error", "{answer}");
    assert_eq!(answer["error"]["name"], "SyntaxError");
    assert_eq!(answer["error"]["line"], 1, "{answer}");
}

#[tokio::test]
async fn wasm_math_random_is_reseeded_for_every_workload() {
    let code = "export default () => [Math.random(), Math.random()];";
    let first = run_wasm(shared(), code, json!({})).await;
    let second = run_wasm(shared(), code, json!({})).await;
    assert_eq!(first["status"], "succeeded", "{first}");
    assert_ne!(
        first["output"], second["output"],
        "the snapshot froze the seed"
    );
}

#[tokio::test]
async fn wasm_globals_and_prototypes_do_not_leak_between_workloads() {
    let writer = "export default () => { globalThis.leak = 'secret'; Object.prototype.polluted = 1; return 1; };";
    assert_eq!(
        run_wasm(shared(), writer, json!({})).await["status"],
        "succeeded"
    );
    let reader = "export default () => [typeof globalThis.leak, ({}).polluted === undefined];";
    let answer = run_wasm(shared(), reader, json!({})).await;
    assert_eq!(answer["output"], json!(["undefined", true]), "{answer}");
}

#[tokio::test]
async fn wasm_imports_are_refused() {
    let code = "import fs from 'node:fs';\nexport default () => 1;";
    let answer = run_wasm(shared(), code, json!({})).await;
    assert_eq!(answer["status"], "error", "{answer}");
    assert_tier_still_healthy(shared()).await;
}

#[tokio::test]
async fn wasm_one_place_serves_workload_after_workload() {
    // A spent store keeps its pool slot, and the workload's place, until it is dropped after
    // the answer: with one place, each workload must wait for that, not find the pool full.
    let dir = tempfile::tempdir().unwrap();
    let flags = [
        "--wasm-threads",
        "1",
        "--isolate-hosts",
        "1",
        "--isolate-spares",
        "0",
    ];
    let server = TestServer::start(serve_args(dir.path(), &flags));
    for n in 0..10 {
        let answer = run_wasm(&server, "export default (n) => n * 2", json!({"input": n})).await;
        assert_eq!(answer["output"], json!(n * 2), "{answer}");
    }
    let at_once =
        (0..8).map(|n| run_wasm(&server, "export default (n) => n + 1", json!({"input": n})));
    for (n, answer) in futures_util::future::join_all(at_once)
        .await
        .into_iter()
        .enumerate()
    {
        assert_eq!(answer["output"], json!(n + 1), "{answer}");
    }
    server.stop();
}
