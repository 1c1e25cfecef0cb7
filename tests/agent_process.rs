//! The agent as its own process (the `vulcan` binary): a SIGTERM while workloads run lets
//! them finish and records every one, also those whose clients hung up; far more concurrent
//! requests than its capacity get 429s and lose nothing; thousands of workloads in a row do
//! not grow its memory; a full disk costs history records, not answers; a data directory that
//! cannot be created stops the start with a clear error; an agent killed while a host's jail
//! is being set up leaves no process behind.

mod common;

use common::agent::Agent;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

async fn get(url: &str) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

async fn post(client: &reqwest::Client, url: &str, body: &Value) -> (u16, Option<String>, Value) {
    let response = client.post(url).json(body).send().await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().to_owned());
    (status, retry_after, response.json().await.unwrap())
}

/// A workload that keeps its tier busy for `ms` milliseconds, then returns `tag`.
fn busy(tier: &str, ms: u64, tag: usize) -> Value {
    let code = match tier {
        // The wasm tier has no timers: spin.
        "wasm" => format!(
            "export default (i) => {{ const end = Date.now() + {ms}; while (Date.now() < end) {{}} return i.tag }}"
        ),
        _ => format!(
            "export default (i) => new Promise((done) => setTimeout(() => done(i.tag), {ms}))"
        ),
    };
    json!({"code": code, "isolation": tier, "input": {"tag": tag}, "timeout_ms": 10000})
}

#[tokio::test]
async fn sigterm_lets_running_workloads_finish_and_records_every_one() {
    let dir = tempfile::tempdir().unwrap();
    let one_host = [
        "--isolate-hosts",
        "1",
        "--isolate-spares",
        "0",
        "--wasm-threads",
        "2",
    ];
    let agent = Agent::start(dir.path(), &one_host);
    agent.wait_until_every_tier_is_available().await;

    let url = agent.url("/v1/workloads");
    // One isolate host and two wasm threads: the workloads queue. Those whose clients wait
    // for their answers are sent first; the last two, sent once those are in flight, hang up
    // once they are in flight too, and so are still queued or running when the agent is told
    // to stop.
    let tier = |tag: usize| ["wasm", "isolate"][tag % 2];
    let waiting: Vec<_> = (0..4)
        .map(|tag| {
            let (url, body) = (url.clone(), busy(tier(tag), 800, tag));
            tokio::spawn(async move { post(&reqwest::Client::new(), &url, &body).await })
        })
        .collect();
    agent.wait_for_in_flight(4).await;
    let hanging_up: Vec<_> = (4..6)
        .map(|tag| {
            let (url, body) = (url.clone(), busy(tier(tag), 800, tag));
            tokio::spawn(async move { post(&reqwest::Client::new(), &url, &body).await })
        })
        .collect();
    agent.wait_for_in_flight(6).await;
    for client in hanging_up {
        // Dropping the request mid-flight closes its connection: the client hangs up.
        client.abort();
        assert!(
            client.await.unwrap_err().is_cancelled(),
            "it had no answer yet"
        );
    }

    let exit = tokio::task::spawn_blocking(move || agent.terminate())
        .await
        .unwrap();
    for answer in waiting {
        let (status, _, body) = answer.await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "succeeded", "{body}");
        assert_eq!(body["recorded"], true, "{body}");
    }
    assert!(exit.success(), "the agent exited with {exit}");

    let agent = Agent::start(dir.path(), &[]);
    let history = get(&agent.url("/v1/workloads?limit=50")).await;
    let history = history.as_array().expect("a list");
    assert_eq!(history.len(), 6, "{history:#?}");
    for entry in history {
        assert_eq!(entry["status"], "succeeded", "{entry}");
        let record =
            get(&agent.url(&format!("/v1/workloads/{}", entry["id"].as_str().unwrap()))).await;
        let tag = record["input"]["tag"].as_u64().unwrap();
        assert_eq!(record["output"], tag, "{record}");
    }
}

#[tokio::test]
async fn sigterm_ends_every_isolate_host_before_the_agent_exits() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(
        dir.path(),
        &["--isolate-hosts", "2", "--isolate-spares", "1"],
    );
    agent.wait_until_every_tier_is_available().await;
    let (status, _, body) = post(
        &reqwest::Client::new(),
        &agent.url("/v1/workloads"),
        &busy("isolate", 10, 0),
    )
    .await;
    assert_eq!(
        (status, &body["status"]),
        (200, &json!("succeeded")),
        "{body}"
    );
    let hosts = common::processes::deno_descendants(agent.child.id());
    assert_eq!(hosts.len(), 3, "{hosts:?}");
    let exit = tokio::task::spawn_blocking(move || agent.terminate())
        .await
        .unwrap();
    assert!(exit.success(), "the agent exited with {exit}");
    let left: Vec<u32> = hosts
        .into_iter()
        .filter(|&pid| common::processes::alive(pid))
        .collect();
    assert!(
        left.is_empty(),
        "hosts still running as the agent exited: {left:?}"
    );
}

#[tokio::test]
async fn far_more_requests_than_places_get_429_and_the_accepted_ones_finish() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(dir.path(), &["--max-in-flight", "4"]);
    agent.wait_until_every_tier_is_available().await;

    let url = agent.url("/v1/workloads");
    let client = reqwest::Client::new();
    let requests = (0..64).map(|tag| {
        let (client, url) = (client.clone(), url.clone());
        let body = busy(["wasm", "isolate"][tag % 2], 300, tag);
        tokio::spawn(async move { post(&client, &url, &body).await })
    });
    let requests: Vec<_> = requests.collect();
    let answers: Vec<_> = join_all(requests).await;
    let (mut accepted, mut refused) = (0, 0);
    for (status, retry_after, body) in answers {
        match status {
            200 => {
                assert_eq!(body["status"], "succeeded", "{body}");
                accepted += 1;
            }
            429 => {
                assert_eq!(body["error"]["code"], "overloaded", "{body}");
                assert_eq!(retry_after.as_deref(), Some("1"));
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(accepted >= 4, "only {accepted} accepted");
    assert!(refused > 0, "64 requests for 4 places and none refused");
    let history = get(&agent.url("/v1/workloads?limit=100")).await;
    assert_eq!(history.as_array().unwrap().len(), accepted);
    // Healthy afterwards.
    let (status, _, body) = post(&client, &url, &busy("isolate", 1, 99)).await;
    assert_eq!(
        (status, &body["status"]),
        (200, &json!("succeeded")),
        "{body}"
    );
}

#[tokio::test]
async fn thousands_of_workloads_in_a_row_do_not_grow_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(dir.path(), &["--isolate-hosts", "1"]);
    agent.wait_until_every_tier_is_available().await;
    let url = agent.url("/v1/workloads");
    let client = reqwest::Client::new();
    let run = |count: usize| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let clients = (0..4).map(|lane| {
                let (client, url) = (client.clone(), url.clone());
                tokio::spawn(async move {
                    for tag in (lane..count).step_by(4) {
                        let body = json!({
                            "code": "export default (i) => ({ tag: i.tag, text: 'x'.repeat(1000) })",
                            "isolation": "wasm",
                            "input": {"tag": tag},
                        });
                        let (status, _, answer) = post(&client, &url, &body).await;
                        assert_eq!((status, &answer["output"]["tag"]), (200, &json!(tag)));
                    }
                })
            });
            let clients: Vec<_> = clients.collect();
            join_all(clients).await;
        }
    };
    run(500).await;
    let warm = agent.rss_bytes();
    run(3000).await;
    let after = agent.rss_bytes();
    let growth_mib = (after.saturating_sub(warm)) >> 20;
    assert!(
        growth_mib < 32,
        "the agent grew by {growth_mib} MiB over 3000 workloads ({} → {} MiB)",
        warm >> 20,
        after >> 20
    );
}

/// `(pid, program)` of every process whose command line mentions `marker`.
fn processes_mentioning(marker: &str) -> Vec<(u32, String)> {
    common::processes::pids()
        .filter_map(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline);
            let program = cmdline.split('\0').next().unwrap_or_default().to_owned();
            cmdline.contains(marker).then_some((pid, program))
        })
        .collect()
}

/// The program of process `pid`'s child: `Ok(None)` while it has none, `Err` once it is gone.
fn child_program(pid: u32) -> std::io::Result<Option<String>> {
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))?;
    Ok(children
        .split_whitespace()
        .next()
        .and_then(|child| std::fs::read_to_string(format!("/proc/{child}/comm")).ok())
        .map(|name| name.trim_end().to_owned()))
}

/// Waits for the bubblewrap of the host whose directory is `host_dir`, then for its child:
/// `true` if that was seen still bubblewrap (a jail being set up, whose process has not yet
/// armed its parent-death signal nor started Deno), `false` if it was seen Deno already.
fn catch_jail_set_up(host_dir: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    let bwrap = loop {
        let processes = processes_mentioning(host_dir);
        if let Some(&(pid, _)) = processes
            .iter()
            .find(|(_, program)| program.ends_with("bwrap"))
        {
            break pid;
        }
        assert!(Instant::now() < deadline, "no bubblewrap for {host_dir}");
    };
    loop {
        match child_program(bwrap) {
            Ok(Some(program)) => return program == "bwrap",
            Ok(None) => assert!(Instant::now() < deadline, "bubblewrap started no jail"),
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn an_agent_killed_while_a_jail_is_set_up_leaves_no_process_behind() {
    let dir = tempfile::tempdir().unwrap();
    let flags = [
        "--isolate-hosts",
        "1",
        "--isolate-spares",
        "0",
        "--isolate-recycle-after",
        "1",
        "--isolate-jail",
        "required",
    ];
    let agent = Agent::start(dir.path(), &flags);
    agent.wait_until_every_tier_is_available().await;
    // Every process of a host's jail names the host's private directory.
    let marker = format!("/vulcan-{}-0/", agent.pid());
    let client = reqwest::Client::new();
    let url = agent.url("/v1/workloads");
    // Each workload retires its host, so a replacement starts as its answer comes: catch one
    // whose jail is being set up (host 1 is the first; the replacements are 2, 3, …).
    let mut caught = None;
    for host in 2..20 {
        let (status, _, answer) = post(&client, &url, &busy("isolate", 0, host)).await;
        assert_eq!(
            (status, &answer["status"]),
            (200, &json!("succeeded")),
            "{answer}"
        );
        if catch_jail_set_up(&format!("{marker}host-{host}/")) {
            caught = Some(host);
            break;
        }
    }
    let caught = caught.expect("never caught a jail being set up");
    drop(agent); // SIGKILL, then reaped
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = processes_mentioning(&marker);
        if left.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            for &(pid, _) in &left {
                // SAFETY: plain kill(2) of what this test's agent left behind.
                unsafe { libc::kill(pid.cast_signed(), libc::SIGKILL) };
            }
            panic!("killed while host {caught}'s jail was set up, the agent left {left:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Awaits every task, in order.
async fn join_all<T: Send + 'static>(
    tasks: impl IntoIterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task"));
    }
    results
}

/// A tmpfs of `size` mounted on `dir` for the life of the value (the test runs as root, as
/// CI does; without the right to mount it fails rather than skips).
struct SmallDisk<'a>(&'a Path);

impl<'a> SmallDisk<'a> {
    fn mount(dir: &'a Path, size: &str) -> SmallDisk<'a> {
        std::fs::create_dir_all(dir).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("running mount");
        assert!(
            mounted.status.success(),
            "this test mounts a small tmpfs to fill it (needs root): {}",
            String::from_utf8_lossy(&mounted.stderr)
        );
        SmallDisk(dir)
    }

    /// Writes a file until the disk is full.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.0.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 64 << 10];
        loop {
            match file.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(err) if err.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(err) => panic!("filling the disk: {err}"),
            }
        }
        path
    }
}

impl Drop for SmallDisk<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0).status();
    }
}

#[tokio::test]
async fn a_full_disk_answers_unrecorded_and_the_service_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let disk = SmallDisk::mount(&data, "4m");
    let agent = Agent::start(&data, &[]);
    let url = agent.url("/v1/workloads");
    let client = reqwest::Client::new();
    // 200 KB of output: the record needs new pages whatever the database holds already.
    let big = json!({"code": "export default () => 'x'.repeat(200000)", "isolation": "wasm"});

    let (status, _, before) = post(&client, &url, &big).await;
    assert_eq!(
        (status, &before["recorded"]),
        (200, &json!(true)),
        "{before}"
    );
    // Records are written just after their answers: a read waits for this one to be on disk
    // before the disk fills up.
    let id = before["id"].as_str().expect("an id");
    let stored = get(&agent.url(&format!("/v1/workloads/{id}"))).await;
    assert_eq!(stored["id"], before["id"], "{stored}");

    let filler = disk.fill();
    // So the first answer after the disk filled up cannot know its write will fail.
    let (status, _, lost) = post(&client, &url, &big).await;
    assert_eq!(
        (status, &lost["status"]),
        (200, &json!("succeeded")),
        "{lost}"
    );
    assert_eq!(lost["output"].as_str().map(str::len), Some(200_000));
    // Reads wait for every earlier write; they still work, without the lost record.
    let history = get(&agent.url("/v1/workloads")).await;
    assert_eq!(history[0]["id"], before["id"], "{history}");
    assert!(common::metric(&agent.url(""), "vulcan_history_write_errors_total").await >= 1.0);
    // Now the history is known to be failing, and each answer waits for its own write.
    let (status, _, answer) = post(&client, &url, &big).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "succeeded", "{answer}");
    assert_eq!(answer["recorded"], false, "{answer}");
    let healthz = reqwest::get(agent.url("/healthz")).await.unwrap();
    assert_eq!(healthz.status().as_u16(), 200);

    std::fs::remove_file(filler).unwrap();
    let (status, _, after) = post(&client, &url, &big).await;
    assert_eq!((status, &after["recorded"]), (200, &json!(true)), "{after}");
    let history = get(&agent.url("/v1/workloads")).await;
    assert_eq!(history[0]["id"], after["id"], "{history}");
}

/// Starts `vulcan serve` with `args`, which must fail with `message` in its stderr.
fn start_fails_with(args: &[&str], message: &str) {
    let output = Command::new(env!("CARGO_BIN_EXE_vulcan"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("running vulcan");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(message), "{stderr}");
}

#[test]
fn a_data_dir_that_cannot_be_created_stops_the_start_with_a_clear_error() {
    start_fails_with(
        &["--data-dir", "/proc/vulcan-data"],
        "cannot create directory /proc/vulcan-data",
    );
}

#[test]
fn a_default_limit_over_its_maximum_stops_the_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    start_fails_with(
        &["--data-dir", data, "--max-timeout-ms", "200"],
        "--timeout-ms 2000 must be between 1 and --max-timeout-ms (200)",
    );
    start_fails_with(
        &["--data-dir", data, "--memory-mb", "0"],
        "--memory-mb 0 must be between 1 and --max-memory-mb (512)",
    );
}

#[tokio::test]
async fn after_sigterm_a_draining_agent_says_so_and_still_serves_until_its_drain_ends() {
    let dir = tempfile::tempdir().unwrap();
    let flags = [
        "--drain-ms",
        "5000",
        "--isolate-host-dir",
        "/nonexistent/isolate-host",
    ];
    let agent = Agent::start(dir.path(), &flags);
    let healthz = reqwest::get(agent.url("/healthz")).await.unwrap();
    assert_eq!(healthz.status(), 200);
    agent.signal_terminate();
    let started = Instant::now();
    let body = loop {
        let answer = reqwest::get(agent.url("/healthz")).await.unwrap();
        if answer.status() == 503 {
            break answer.json::<Value>().await.unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "not draining yet"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(body["status"], "draining", "{body}");
    let (status, _, answer) = post(
        &reqwest::Client::new(),
        &agent.url("/v1/workloads"),
        &json!({"code": "export default () => 'still here'", "isolation": "wasm"}),
    )
    .await;
    assert_eq!((status, &answer["output"]), (200, &json!("still here")));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the drain ended too early to tell"
    );
    let exit = tokio::task::spawn_blocking(move || agent.wait())
        .await
        .unwrap();
    assert!(exit.success(), "{exit}");
    assert!(
        started.elapsed() >= Duration::from_millis(4900),
        "{:?}",
        started.elapsed()
    );
}
