//! The isolate tier's supervisor with real Deno host processes: a host killed or frozen
//! (SIGSTOP) mid-workload, a runaway workload's host killed right after its deadline, hosts
//! recycled after K workloads, hosts for other heap sizes, a leftover thread retiring its host,
//! no host left behind by a shutdown, a host that cannot start, and hosts jailed.
//!
//! Each test runs its own agent and counts the `deno` processes descended from this test process, so the
//! tests of this file take turns (`SERIAL`).

mod common;

use std::time::{Duration, Instant};

use common::processes::{self, alive, name_and_parent};
use common::{TestServer, run_on, serve_args};
use serde_json::{Value, json};
use tokio::sync::Mutex;

static SERIAL: Mutex<()> = Mutex::const_new(());

/// An agent with `hosts` isolate hosts, `spares` spares, and `extra` flags.
fn agent(dir: &std::path::Path, hosts: u32, spares: u32, extra: &[&str]) -> TestServer {
    let (hosts, spares) = (hosts.to_string(), spares.to_string());
    let mut flags = vec!["--isolate-hosts", &hosts, "--isolate-spares", &spares];
    flags.extend_from_slice(extra);
    TestServer::start(serve_args(dir, &flags))
}

/// Pids of the `deno` processes descended from this test process.
fn deno_descendants() -> Vec<u32> {
    processes::deno_descendants(std::process::id())
}

/// Polls `condition` every 10 ms until it holds; panics after `limit`.
async fn eventually(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

async fn metric(server: &TestServer, name: &str) -> f64 {
    common::metric(&server.url(""), name).await
}

async fn trivial(server: &TestServer) -> Value {
    let answer = run_on(server, "isolate", "export default () => 'ok'", json!({})).await;
    assert_eq!(answer["status"], "succeeded", "{answer}");
    answer
}

fn host_pid(answer: &Value) -> u32 {
    let pid = answer["metadata"]["host_pid"].as_u64().expect("host_pid");
    u32::try_from(pid).expect("a pid")
}

/// Sends `signal` to the host of a workload that waits 20 s (timeout 30 s), and checks that
/// the workload ends within 5 s as `backend_crashed`, that the host is retired for
/// `reason`, and that the next workload runs on a new host.
async fn signal_mid_workload(signal: libc::c_int, reason: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = agent(dir.path(), 1, 0, &[]);
    let pid = host_pid(&trivial(&server).await);

    let url = server.url("/v1/workloads");
    let body = json!({
        "code": "export default () => new Promise((done) => setTimeout(done, 20000))",
        "isolation": "isolate",
        "timeout_ms": 30000,
    });
    let running = tokio::spawn(async move {
        let response = reqwest::Client::new()
            .post(url)
            .json(&body)
            .send()
            .await
            .unwrap();
        response.json::<Value>().await.unwrap()
    });
    let active = "vulcan_isolate_active_workers";
    while metric(&server, active).await < 1.0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let signalled = Instant::now();
    // SAFETY: plain kill(2) on a pid that is our own child.
    assert_eq!(unsafe { libc::kill(pid.cast_signed(), signal) }, 0);
    let answer = running.await.unwrap();
    let ended_after = signalled.elapsed();
    assert_eq!(answer["status"], "backend_crashed", "{answer}");
    assert!(
        ended_after < Duration::from_secs(5),
        "ended {ended_after:?} after the signal"
    );
    let next = trivial(&server).await;
    assert_ne!(host_pid(&next), pid);
    let retired = format!("vulcan_isolate_host_retirements_total{{reason=\"{reason}\"}}");
    assert_eq!(metric(&server, &retired).await, 1.0);
    eventually(Duration::from_secs(5), "the old host gone", || !alive(pid)).await;
    server.stop();
}

#[tokio::test]
async fn a_host_killed_mid_workload_ends_it_as_backend_crashed_and_is_replaced() {
    let _serial = SERIAL.lock().await;
    signal_mid_workload(libc::SIGKILL, "crashed").await;
}

#[tokio::test]
async fn a_host_frozen_mid_workload_ends_it_as_backend_crashed_and_is_replaced() {
    let _serial = SERIAL.lock().await;
    signal_mid_workload(libc::SIGSTOP, "stopped").await;
}

#[tokio::test]
async fn a_runaway_workloads_host_is_gone_right_after_the_deadline() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let server = agent(dir.path(), 1, 0, &[]);
    let pid = host_pid(&trivial(&server).await);
    let started = Instant::now();
    let answer = run_on(
        &server,
        "isolate",
        "export default () => { while (true) {} }",
        json!({"timeout_ms": 300}),
    )
    .await;
    assert_eq!(answer["status"], "timeout", "{answer}");
    // The spinning thread cannot be stopped inside Deno: its whole host must go.
    let gone = eventually(Duration::from_secs(5), "host still running", || !alive(pid)).await;
    let after_deadline = started.elapsed().saturating_sub(Duration::from_millis(300));
    eprintln!(
        "host gone {after_deadline:?} after the deadline ({gone:?} after the answer, \
         answered by the {})",
        if answer["metadata"].is_null() {
            "agent"
        } else {
            "host"
        }
    );
    assert!(after_deadline < Duration::from_secs(5));
    assert_ne!(host_pid(&trivial(&server).await), pid);
    server.stop();
}

#[tokio::test]
async fn hosts_are_recycled_after_k_workloads() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let server = agent(dir.path(), 1, 0, &["--isolate-recycle-after", "2"]);
    let first = host_pid(&trivial(&server).await);
    let second = host_pid(&trivial(&server).await);
    let third = host_pid(&trivial(&server).await);
    assert_eq!(first, second);
    assert_ne!(second, third);
    let recycled = "vulcan_isolate_host_retirements_total{reason=\"recycled\"}";
    assert!(metric(&server, recycled).await >= 1.0);
    server.stop();
}

#[tokio::test]
async fn shutdown_leaves_no_deno_process_and_start_sweeps_what_dead_agents_left() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    // What an agent killed before it could clean up leaves behind (its pid cannot exist).
    let stale = std::env::temp_dir().join("vulcan-4000000000-0");
    std::fs::create_dir_all(stale.join("host-1")).unwrap();
    std::fs::write(stale.join("host-1/left-over"), "x").unwrap();
    let server = agent(dir.path(), 2, 1, &[]);
    trivial(&server).await;
    assert!(!stale.exists(), "{} was not swept", stale.display());
    let hosts = deno_descendants();
    assert_eq!(hosts.len(), 3, "{hosts:?}");
    server.stop();
    for pid in hosts {
        assert!(!alive(pid), "host {pid} outlived the agent");
    }
    assert!(deno_descendants().is_empty());
}

#[tokio::test]
async fn a_host_that_cannot_start_makes_the_tier_unhealthy_with_its_stderr() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    // A host program whose "Deno" complains and exits, as a broken install would.
    let host_dir = dir.path().join("isolate-host");
    let deno = host_dir.join("node_modules/@deno/linux-x64-glibc/deno");
    std::fs::create_dir_all(deno.parent().unwrap()).unwrap();
    std::fs::write(&deno, "#!/bin/sh\necho 'error: broken deno' >&2\nexit 3\n").unwrap();
    std::fs::set_permissions(&deno, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(host_dir.join("dist")).unwrap();
    std::fs::write(host_dir.join("dist/host.js"), "").unwrap();
    let host_dir = host_dir.display().to_string();
    let server = agent(dir.path(), 1, 0, &["--isolate-host-dir", &host_dir]);

    let backends: Value = reqwest::get(server.url("/v1/backends"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let isolate = &backends["backends"][0];
    assert_eq!(isolate["kind"], "isolate");
    assert_eq!(isolate["available"], false, "{isolate}");
    let detail = isolate["health"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("error: broken deno") && detail.contains("exit status: 3"),
        "{detail}"
    );
    let failed = "vulcan_isolate_host_starts_total{result=\"failed\"}";
    assert!(metric(&server, failed).await >= 1.0);
    // `auto` still serves, on wasm.
    let (status, answer) = common::submit(&server, json!({"code": "export default () => 1"})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["backend"], "wasm");
    server.stop();
}

#[tokio::test]
async fn a_workload_of_another_heap_size_gets_a_host_of_its_own_kept_for_the_next() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let server = agent(dir.path(), 1, 0, &[]);
    let default = trivial(&server).await;
    let small = run_on(
        &server,
        "isolate",
        "export default () => 1",
        json!({"memory_mb": 16}),
    )
    .await;
    assert_eq!(small["status"], "succeeded", "{small}");
    assert!(
        small["metadata"]["worker_create_ms"].as_f64().unwrap() > 0.0,
        "it waited for its host to start: {small}"
    );
    assert_ne!(host_pid(&small), host_pid(&default));
    let again = run_on(
        &server,
        "isolate",
        "export default () => 2",
        json!({"memory_mb": 16}),
    )
    .await;
    assert_eq!(again["output"], 2, "{again}");
    assert_eq!(
        host_pid(&again),
        host_pid(&small),
        "the 16 MiB host is kept"
    );
    assert_eq!(host_pid(&trivial(&server).await), host_pid(&default));
    server.stop();
}

#[tokio::test]
async fn a_nested_worker_left_running_gets_its_host_retired() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let server = agent(dir.path(), 1, 0, &["--max-memory-mb", "1024"]);
    // A node:worker_threads worker outlives the worker that started it, spinning on, and Deno
    // cannot stop it: only its host's end does. (Each such worker commits ~512 MiB of code
    // space, so it takes a workload with that much memory to start one at all.)
    let code = "import { Worker } from 'node:worker_threads';\n\
                export default () => { new Worker(new URL('data:text/javascript,for(;;){}')); \
                return 'left'; }";
    let answer = run_on(&server, "isolate", code, json!({"memory_mb": 1024})).await;
    assert_eq!(answer["output"], "left", "{answer}");
    let pid = host_pid(&answer);
    let poisoned = "vulcan_isolate_host_retirements_total{reason=\"poisoned\"}";
    eventually(Duration::from_secs(10), "the host's retirement", || {
        !alive(pid)
    })
    .await;
    assert_eq!(metric(&server, poisoned).await, 1.0);
    assert_ne!(host_pid(&trivial(&server).await), pid);
    server.stop();
}

#[tokio::test]
async fn hosts_run_jailed_as_pid_one_of_their_own_namespace() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let server = agent(dir.path(), 1, 0, &["--isolate-jail", "required"]);
    let pid = host_pid(&trivial(&server).await);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let nspid = status.lines().find(|line| line.starts_with("NSpid:"));
    assert_eq!(
        nspid,
        Some(format!("NSpid:\t{pid}\t1").as_str()),
        "{status}"
    );
    let (_, parent) = name_and_parent(pid).unwrap();
    assert_eq!(name_and_parent(parent).unwrap().0, "bwrap");
    let backends: Value = reqwest::get(server.url("/v1/backends"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let isolate = backends["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tier| tier["kind"] == "isolate")
        .expect("the isolate tier");
    let detail = isolate["health"]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("1 hosts ready") && !detail.contains("NOT"),
        "{detail}"
    );
    server.stop();
}
