//! The escape and abuse corpus (`tests/security/`): every case runs through the HTTP API on
//! every tier, must end exactly as its header says, and must leave the tier healthy and
//! clean — a sentinel workload after each case must succeed and see nothing the case left.
//!
//! A case is a `.js` or `.ts` file whose leading comment lines hold
//! `// expect: {…}` (fields every tier must answer), optionally `// expect.<tier>: {…}`
//! (that tier instead), and `// limits: {…}` (extra request fields). `AGENT_ADDR` and
//! `AGENT_PORT` in the code are replaced by the test server's address.

mod common;

use std::path::{Path, PathBuf};

use common::{differences, run_on, shared};
use serde_json::{Value, json};

const TIERS: [&str; 2] = ["isolate", "wasm"];

/// Checks what a workload can see of earlier ones: globals, prototypes, built-ins.
const SENTINEL: &str = "export default () => [typeof globalThis.__vulcan_leak, \
     ({}).__vulcan_polluted === undefined, [1].map((x) => x + 1), JSON.stringify({a: 1})]";

struct Case {
    name: String,
    code: String,
    language: &'static str,
    expect: Value,
    per_tier: Vec<(String, Value)>,
    limits: Value,
}

impl Case {
    fn expectation(&self, tier: &str) -> &Value {
        self.per_tier
            .iter()
            .find(|(name, _)| name == tier)
            .map_or(&self.expect, |(_, expect)| expect)
    }
}

fn cases() -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/security");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    assert!(files.len() >= 25, "corpus shrank to {} cases", files.len());
    files.iter().map(|file| parse(&root, file)).collect()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("corpus dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            collect(&path, files);
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("js" | "ts")) {
            files.push(path);
        }
    }
}

fn parse(root: &Path, file: &Path) -> Case {
    let name = file.strip_prefix(root).unwrap().display().to_string();
    let code = std::fs::read_to_string(file).expect("case file");
    let mut case = Case {
        language: if name.ends_with(".ts") {
            "typescript"
        } else {
            "javascript"
        },
        name,
        code: code.clone(),
        expect: Value::Null,
        per_tier: Vec::new(),
        limits: json!({}),
    };
    let header = code.lines().take_while(|line| line.starts_with("//"));
    for line in header {
        let Some((key, value)) = line.trim_start_matches("//").trim().split_once(": ") else {
            continue;
        };
        let parsed = || -> Value {
            serde_json::from_str(value).unwrap_or_else(|err| panic!("{}: {key}: {err}", case.name))
        };
        match key {
            "expect" => case.expect = parsed(),
            "limits" => case.limits = parsed(),
            _ => {
                if let Some(tier) = key.strip_prefix("expect.") {
                    case.per_tier.push((tier.to_owned(), parsed()));
                }
            }
        }
    }
    for tier in TIERS {
        assert!(
            case.expectation(tier).is_object(),
            "{}: no expectation for {tier}",
            case.name
        );
    }
    case
}

#[tokio::test]
async fn every_attack_is_contained_on_every_tier() {
    let server = shared();
    let port = server.addr.port().to_string();
    let mut failures = Vec::new();
    for case in cases() {
        let code = case
            .code
            .replace("AGENT_ADDR", &server.addr.to_string())
            .replace("AGENT_PORT", &port);
        for tier in TIERS {
            let mut extra = case.limits.clone();
            extra["language"] = json!(case.language);
            let answer = run_on(server, tier, &code, extra).await;
            let mut found = Vec::new();
            differences(&answer, case.expectation(tier), "", &mut found);
            let after = run_on(server, tier, SENTINEL, json!({})).await;
            let clean =
                json!({"status": "succeeded", "output": ["undefined", true, [2], "{\"a\":1}"]});
            differences(&after, &clean, " next workload", &mut found);
            let context = format!("{} on {tier}", case.name);
            failures.extend(found.into_iter().map(|diff| format!("{context}: {diff}")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Publishes a SharedArrayBuffer by every channel a workload has (a global, its port to the
/// host, `postMessage`, a BroadcastChannel), then holds it for a while.
const SHARER: &str = r#"
import { parentPort } from "node:worker_threads";
export default async () => {
  const shared = new SharedArrayBuffer(16);
  const view = new Int32Array(shared);
  view[0] = 4242;
  globalThis.__vulcan_shared = shared;
  const tries = [
    () => parentPort.postMessage({ shared }),
    () => self.postMessage({ shared }),
    () => new BroadcastChannel("vulcan").postMessage({ shared }),
  ];
  for (const attempt of tries) try { attempt(); } catch { /* contained */ }
  await new Promise((done) => setTimeout(done, 400));
  return Atomics.load(view, 0);
};
"#;

/// Listens on the same channels while the sharer runs; reports anything it got.
const LISTENER: &str = r#"
import { parentPort } from "node:worker_threads";
export default async () => {
  const got = [];
  try { parentPort.on("message", (m) => got.push(Object.keys(m ?? {}))); } catch { /* none */ }
  try { self.addEventListener("message", (e) => got.push(Object.keys(e.data ?? {}))); } catch { /* none */ }
  try { new BroadcastChannel("vulcan").onmessage = (e) => got.push(e.data); } catch { /* none */ }
  await new Promise((done) => setTimeout(done, 300));
  return { global: typeof globalThis.__vulcan_shared, got };
};
"#;

/// The wasm tier has no timers, no ports and no channels: the sharer spins instead.
const WASM_SHARER: &str = "export default () => { const shared = new SharedArrayBuffer(16); \
     new Int32Array(shared)[0] = 4242; globalThis.__vulcan_shared = shared; \
     const end = Date.now() + 400; while (Date.now() < end) {} \
     return new Int32Array(shared)[0]; }";
const WASM_LISTENER: &str = "export default () => { const end = Date.now() + 200; \
     while (Date.now() < end) {} return { global: typeof globalThis.__vulcan_shared, got: [] }; }";

#[tokio::test]
async fn a_shared_array_buffer_never_reaches_a_concurrent_workload() {
    // Two workloads at once: on the isolate tier each runs in a host process of its own, so
    // nothing but the kernel could carry memory across; on wasm two instances share a process.
    let dir = tempfile::tempdir().unwrap();
    let args = common::serve_args(
        dir.path(),
        &["--isolate-hosts", "2", "--isolate-spares", "0"],
    );
    let server = common::TestServer::start(args);
    for (tier, sharer, listener) in [
        ("isolate", SHARER, LISTENER),
        ("wasm", WASM_SHARER, WASM_LISTENER),
    ] {
        // Generous timeouts: the corpus test may be loading both cores meanwhile.
        let patient = json!({"timeout_ms": 20000});
        let (shared, listened) = tokio::join!(
            run_on(&server, tier, sharer, patient.clone()),
            run_on(&server, tier, listener, patient.clone()),
        );
        let nothing = json!({"status": "succeeded", "output": {"global": "undefined", "got": []}});
        let mut found = Vec::new();
        differences(
            &shared,
            &json!({"status": "succeeded", "output": 4242}),
            "",
            &mut found,
        );
        differences(&listened, &nothing, "", &mut found);
        assert!(found.is_empty(), "{tier}: {}", found.join("\n"));
        if tier == "isolate" {
            assert_ne!(
                shared["metadata"]["host_pid"], listened["metadata"]["host_pid"],
                "two workloads at once run in two hosts"
            );
        }
    }
    server.stop();
}
