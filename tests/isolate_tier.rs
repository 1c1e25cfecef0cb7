//! The isolate tier end to end over HTTP, with real Deno hosts: results and metadata, every
//! limit with its exact status, permissions denied, no state shared between workloads, and
//! the tier running a normal workload right after each limit.

mod common;

use common::{run_on, shared};
use serde_json::{Value, json};

async fn run_isolate(code: &str, extra: Value) -> Value {
    run_on(shared(), "isolate", code, extra).await
}

/// After a limit was hit, the isolate tier still runs a normal workload.
async fn assert_isolate_still_healthy() {
    let answer = run_isolate("export default (x) => x * 2", json!({"input": 21})).await;
    assert_eq!(answer["status"], "succeeded", "{answer}");
    assert_eq!(answer["output"], 42);
}

#[tokio::test]
async fn isolate_trivial_workload_returns_output_and_metadata() {
    let answer = run_isolate(
        "export default (input) => ({ sum: input.a + input.b })",
        json!({"input": {"a": 2, "b": 3}}),
    )
    .await;
    assert_eq!(answer["status"], "succeeded", "{answer}");
    assert_eq!(answer["output"], json!({"sum": 5}));
    assert_eq!(answer["backend"], "isolate");
    let metadata = &answer["metadata"];
    assert_eq!(metadata["tier"], "isolate");
    assert!(metadata["host_pid"].as_u64().unwrap() > 0, "{metadata}");
    assert!(metadata["host_id"].as_u64().unwrap() > 0, "{metadata}");
    assert!(
        metadata["heap_used_bytes"].as_u64().unwrap() > 0,
        "{metadata}"
    );
    assert!(
        metadata["heap_total_bytes"].as_u64() >= metadata["heap_used_bytes"].as_u64(),
        "{metadata}"
    );
    assert!(
        metadata["worker_create_ms"].as_f64().unwrap() >= 0.0,
        "{metadata}"
    );
    assert!(
        metadata["warm_age_ms"].as_f64().unwrap() >= 0.0,
        "{metadata}"
    );
    assert!(
        metadata["worker_ready_ms"].as_f64().unwrap() > 0.0,
        "{metadata}"
    );
}

#[tokio::test]
async fn isolate_runs_typescript_and_reports_errors_at_the_users_line() {
    let code = "interface In { a: number }\nexport default (i: In): number => i.a * 2;";
    let answer = run_isolate(code, json!({"language": "typescript", "input": {"a": 21}})).await;
    assert_eq!(answer["status"], "succeeded", "{answer}");
    assert_eq!(answer["output"], 42);

    let code =
        "type T = string;\nexport default (): T => {\n  throw new TypeError('bad ' + 1);\n};";
    let answer = run_isolate(code, json!({"language": "typescript"})).await;
    assert_eq!(answer["status"], "error", "{answer}");
    assert_eq!(answer["error"]["name"], "TypeError");
    assert_eq!(answer["error"]["message"], "bad 1");
    assert_eq!(answer["error"]["line"], 3, "{answer}");
}

#[tokio::test]
async fn isolate_syntax_error_is_an_error_with_its_position() {
    let answer = run_isolate("export default () => {\n  let = ;\n}", json!({})).await;
    assert_eq!(answer["status"], "error", "{answer}");
    assert_eq!(answer["error"]["name"], "SyntaxError", "{answer}");
    assert_eq!(answer["error"]["line"], 2, "{answer}");
}

#[tokio::test]
async fn isolate_busy_loop_times_out_and_the_host_is_replaced() {
    let code = "export default () => { console.log('spinning'); while (true) {} }";
    let answer = run_isolate(code, json!({"timeout_ms": 200})).await;
    assert_eq!(answer["status"], "timeout", "{answer}");
    assert_eq!(answer["error"]["name"], "Timeout");
    let duration = answer["duration_ms"].as_f64().unwrap();
    assert!(
        (200.0..10_000.0).contains(&duration),
        "stopped after {duration} ms"
    );
    assert_isolate_still_healthy().await;
}

#[tokio::test]
async fn isolate_promise_that_never_settles_times_out() {
    let code = "export default () => new Promise(() => {})";
    let answer = run_isolate(code, json!({"timeout_ms": 150})).await;
    assert_eq!(answer["status"], "timeout", "{answer}");
    assert_isolate_still_healthy().await;
}

/// A workload that takes too much of each kind of memory it can take: V8's heap, `ArrayBuffer`s
/// written to and never written to (committed, not resident), WebAssembly memories, and a
/// string too big for the heap.
const BOMBS: [(&str, &str); 5] = [
    (
        "heap",
        "export default () => { const a = []; for (;;) a.push(new Array(1e5).fill(1)); }",
    ),
    (
        "filled ArrayBuffers",
        "export default () => { const a = []; for (;;) a.push(new Uint8Array(1 << 22).fill(1)); }",
    ),
    (
        "untouched ArrayBuffers",
        "export default () => { const a = []; for (;;) a.push(new ArrayBuffer(1 << 24)); }",
    ),
    (
        "WebAssembly.Memory growth",
        "export default () => {
            const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
            for (;;) {
                const end = memory.buffer.byteLength;
                memory.grow(64);
                new Uint8Array(memory.buffer, end).fill(1);
            }
        }",
    ),
    // Flattened by `indexOf`: `repeat` alone makes a rope of a few nodes.
    (
        "a big string",
        "export default () => 'x'.repeat(1 << 28).indexOf('y')",
    ),
];

#[tokio::test]
async fn every_kind_of_memory_counts_against_memory_mb_and_the_peak_is_reported() {
    let mut failures = Vec::new();
    for memory_mb in [16u64, 64] {
        for (kind, code) in BOMBS {
            let limits = json!({"memory_mb": memory_mb, "timeout_ms": 20_000});
            let answer = run_isolate(code, limits).await;
            let peak = answer["metadata"]["memory_peak_bytes"]
                .as_u64()
                .unwrap_or(u64::MAX);
            let case = format!("{kind} at {memory_mb} MiB");
            if answer["status"] != "memory_limit" || answer["error"]["name"] != "MemoryLimit" {
                failures.push(format!("{case}: {answer}"));
            } else if peak >= 2 * (memory_mb << 20) {
                failures.push(format!("{case}: peak of {} MiB", peak >> 20));
            }
            let next = run_isolate(
                "export default () => 'next'",
                json!({"memory_mb": memory_mb}),
            );
            let next = next.await;
            if next["output"] != "next" {
                failures.push(format!("after {case}: {next}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn a_workload_within_its_memory_reports_its_peak() {
    // 24 MiB written, within 64: the peak above the host's baseline is about that (what the
    // host held before may shrink meanwhile: a collected heap, memory given back).
    let code = "export default () => new Uint8Array(24 << 20).fill(7).length";
    let answer = run_isolate(code, json!({"memory_mb": 64})).await;
    assert_eq!(answer["output"], 24 << 20, "{answer}");
    let peak = answer["metadata"]["memory_peak_bytes"].as_u64().unwrap();
    assert!((20 << 20..64 << 20).contains(&peak), "peak {peak}");
}

#[tokio::test]
async fn isolate_workload_cannot_kill_its_host() {
    for code in [
        "export default () => { Deno.kill(Deno.pid, 'SIGKILL'); return 'alive'; }",
        "import process from 'node:process';\nexport default () => { process.kill(process.pid, 'SIGKILL'); return 'alive'; }",
    ] {
        let answer = run_isolate(code, json!({})).await;
        assert_eq!(answer["status"], "error", "{answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("EPERM")
                || answer["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("not permitted"),
            "{answer}"
        );
    }
    assert_isolate_still_healthy().await;
}

#[tokio::test]
async fn isolate_exit_ends_only_the_workload() {
    let answer = run_isolate("export default () => { Deno.exit(3); }", json!({})).await;
    assert_eq!(answer["status"], "error", "{answer}");
    assert_eq!(answer["error"]["name"], "ContractError", "{answer}");
    assert_isolate_still_healthy().await;
}

#[tokio::test]
async fn isolate_denies_every_capability() {
    let cases = [
        (
            "read a file",
            "export default () => Deno.readTextFileSync('/etc/hostname')",
        ),
        (
            "write a file",
            "export default () => Deno.writeTextFileSync('/tmp/vulcan-escape', 'x')",
        ),
        ("environment", "export default () => Deno.env.get('PATH')"),
        (
            "subprocess",
            "export default () => new Deno.Command('true').outputSync()",
        ),
        (
            "network",
            "export default () => fetch('http://127.0.0.1:9/')",
        ),
        (
            "unix socket",
            "export default () => Deno.connect({ transport: 'unix', path: '/tmp/x.sock' })",
        ),
        ("ffi", "export default () => Deno.dlopen('libc.so.6', {})"),
        ("kv", "export default () => Deno.openKv()"),
        (
            "file import",
            "export default () => import('file:///etc/hostname')",
        ),
        (
            "remote import",
            "export default () => import('https://deno.land/std/version.ts')",
        ),
        ("npm import", "export default () => import('npm:left-pad')"),
        ("jsr import", "export default () => import('jsr:@std/path')"),
        (
            "node fs",
            "import fs from 'node:fs';\nexport default () => fs.readFileSync('/etc/hostname', 'utf8')",
        ),
    ];
    for (what, code) in cases {
        let answer = run_isolate(code, json!({})).await;
        assert_eq!(answer["status"], "error", "{what}: {answer}");
        assert!(answer["output"].is_null(), "{what}: {answer}");
    }
    assert!(!std::path::Path::new("/tmp/vulcan-escape").exists());
    assert_isolate_still_healthy().await;
}

#[tokio::test]
async fn isolate_workloads_share_no_state() {
    let write = "export default () => { globalThis.leak = 'secret'; Object.prototype.polluted = 1; \
                 Array.prototype.push = () => 0; return 'written'; }";
    let read = "export default () => [typeof globalThis.leak, ({}).polluted ?? null, [1].push(2)]";
    // Every host: a workload per host slot and then some, so each read follows a write.
    for _ in 0..6 {
        let answer = run_isolate(write, json!({})).await;
        assert_eq!(answer["output"], "written", "{answer}");
        let answer = run_isolate(read, json!({})).await;
        assert_eq!(answer["output"], json!(["undefined", null, 2]), "{answer}");
    }
}

#[tokio::test]
async fn auto_sends_javascript_to_the_isolate_tier_and_fuel_to_wasm() {
    let (status, answer) =
        common::submit(shared(), json!({"code": "export default () => 'hi'"})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["backend"], "isolate", "{answer}");
    assert_eq!(answer["output"], "hi");
    assert_eq!(
        answer["route_reason"],
        "policy isolate-first: isolate is preferred"
    );

    let body = json!({"code": "export default () => 'hi'", "fuel": 1_000_000});
    let (status, answer) = common::submit(shared(), body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["backend"], "wasm", "{answer}");
}

#[tokio::test]
async fn isolate_smallest_heap_is_eight_mib() {
    // Below 8 MiB V8 cannot start a worker at all (it aborts its host), so it is refused.
    let (status, answer) = common::submit(
        shared(),
        json!({"code": "export default () => 1", "isolation": "isolate", "memory_mb": 4}),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_request");
    let answer = run_isolate("export default () => 'small'", json!({"memory_mb": 8})).await;
    assert_eq!(answer["status"], "succeeded", "{answer}");
    let bomb = "export default () => { const a = []; for (;;) a.push(new Array(1e4).fill(1)); }";
    let answer = run_isolate(bomb, json!({"memory_mb": 8})).await;
    assert_eq!(answer["status"], "memory_limit", "{answer}");
    assert_isolate_still_healthy().await;
}
