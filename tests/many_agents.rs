//! Many agents as one service: three `vulcan serve` processes on one PostgreSQL history (a
//! private cluster), behind HAProxy running `deploy/haproxy.cfg` as shipped. One agent is
//! stopped (SIGTERM) under load: no client request fails, the agent exits cleanly, and every
//! answered workload can be read back through the balancer. Two agents on one database with a
//! short lease: a killed agent's workload runs again elsewhere and its idempotency key gets one
//! result; a stopped agent's late finish changes nothing; past its attempts a workload ends
//! `AgentLost`.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::agent::Agent;
use common::postgres::cluster;
use serde_json::{Value, json};

const CLIENTS: usize = 4;

/// HAProxy in the foreground on `deploy/haproxy.cfg`, in front of `agents`.
struct Balancer {
    child: Child,
    url: String,
}

impl Balancer {
    fn start(agents: &[&Agent]) -> Balancer {
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/haproxy.cfg");
        let bind = free_address();
        let mut command = Command::new("haproxy");
        command
            .arg("-db")
            .arg("-f")
            .arg(&config)
            .env("VULCAN_HAPROXY_BIND", &bind)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (index, agent) in agents.iter().enumerate() {
            command.env(
                format!("VULCAN_AGENT_{}", index + 1),
                agent.addr.to_string(),
            );
        }
        let child = command
            .spawn()
            .expect("haproxy (`make test` installs Debian's haproxy)");
        Balancer {
            child,
            url: format!("http://{bind}"),
        }
    }

    /// Waits until HAProxy listens and finds an agent up.
    async fn wait_ready(&self) {
        for _ in 0..200 {
            let answer = reqwest::get(format!("{}/healthz", self.url)).await;
            if answer.is_ok_and(|answer| answer.status() == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("HAProxy did not pass requests to an agent within 10 s");
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Workloads `agent` has run to success so far.
async fn served(agent: &Agent) -> f64 {
    let text = reqwest::get(agent.url("/metrics"))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text");
    let name = "vulcan_workloads_total{backend=\"wasm\",status=\"succeeded\"} ";
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.parse().ok())
        .unwrap_or(0.0)
}

/// Three agents with `extra` flags on a fresh database, behind HAProxy once it passes requests.
async fn behind_haproxy(extra: &[&str]) -> (Vec<tempfile::TempDir>, Vec<Agent>, Balancer) {
    let url = cluster().database().await;
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut flags = vec![
        "--store",
        &url,
        "--isolate-host-dir",
        "/nonexistent/isolate-host",
        // As deployed behind a balancer: every connection comes from HAProxy.
        "--max-connections-per-client",
        "0",
    ];
    flags.extend_from_slice(extra);
    let agents: Vec<Agent> = dirs
        .iter()
        .map(|dir| Agent::start(dir.path(), &flags))
        .collect();
    let balancer = Balancer::start(&agents.iter().collect::<Vec<_>>());
    balancer.wait_ready().await;
    (dirs, agents, balancer)
}

fn free_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").to_string()
}

/// Submits short workloads through the balancer until `stop`, returning each answer's HTTP
/// status and body.
async fn client(url: String, stop: Arc<AtomicBool>, number: usize) -> Vec<(u16, Value)> {
    let http = reqwest::Client::new();
    let mut answers = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        let body = json!({
            "code": "export default (x) => { const end = Date.now() + 5; while (Date.now() < end) {} return x }",
            "input": {"client": number, "n": n},
            "isolation": "wasm",
        });
        let response = http
            .post(format!("{url}/v1/workloads"))
            .json(&body)
            .send()
            .await;
        let answer = match response {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.json().await.unwrap_or(Value::Null))
            }
            Err(err) => (0, json!(err.to_string())),
        };
        answers.push(answer);
        n += 1;
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_stopped_under_load_behind_haproxy_fails_no_request_and_loses_nothing() {
    let (_dirs, mut agents, balancer) = behind_haproxy(&["--drain-ms", "1500"]).await;

    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|number| tokio::spawn(client(balancer.url.clone(), Arc::clone(&stop), number)))
        .collect();
    // Under load, until the agent to stop has run a share of it.
    let stopped = agents.remove(1);
    for _ in 0..400 {
        if served(&stopped).await >= 20.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        served(&stopped).await >= 20.0,
        "the agent to stop got no load"
    );
    let exit = tokio::task::spawn_blocking(move || stopped.terminate())
        .await
        .unwrap();
    assert!(exit.success(), "the stopped agent exited {exit}");
    // Load goes on, on the two left, before the clients stop.
    let before: f64 = served(&agents[0]).await + served(&agents[1]).await;
    for _ in 0..400 {
        if served(&agents[0]).await + served(&agents[1]).await >= before + 40.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    stop.store(true, Ordering::SeqCst);

    let mut answers = Vec::new();
    for client in clients {
        answers.extend(client.await.unwrap());
    }
    let failed: Vec<_> = answers
        .iter()
        .filter(|(status, _)| *status != 200)
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} failed: {failed:?}",
        failed.len(),
        answers.len()
    );
    let http = reqwest::Client::new();
    for (_, answer) in &answers {
        assert_eq!(answer["status"], "succeeded", "{answer}");
        assert_eq!(answer["recorded"], true, "{answer}");
        let id = answer["id"].as_str().unwrap();
        let record: Value = http
            .get(format!("{}/v1/workloads/{id}", balancer.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(record["output"], answer["output"], "{record}");
    }
}

/// Two agent processes on one PostgreSQL database with a short lease (2 s).
fn two_agents(url: &str, dirs: &[tempfile::TempDir], extra: &[&str]) -> (Agent, Agent) {
    let mut flags = vec![
        "--store",
        url,
        // Renewed every ~670 ms: long enough that a busy test machine does not lose a
        // live agent's lease, short enough that a lost one is noticed in ~2 s.
        "--lease-ms",
        "2000",
        "--isolate-host-dir",
        "/nonexistent/isolate-host",
    ];
    flags.extend_from_slice(extra);
    (
        Agent::start(dirs[0].path(), &flags),
        Agent::start(dirs[1].path(), &flags),
    )
}

/// Spins `ms` milliseconds of wall-clock time, then answers a random number.
fn slow(ms: u64, tag: &str) -> Value {
    json!({
        "code": format!("export default () => {{ const end = Date.now() + {ms}; while (Date.now() < end) {{}} return Math.random() }}"),
        "isolation": "wasm",
        "tag": tag,
        "timeout_ms": 20000,
    })
}

/// POSTs `body` with an idempotency key.
async fn post_keyed(url: String, body: Value, key: &str) -> reqwest::Result<(u16, Value)> {
    let response = reqwest::Client::new()
        .post(format!("{url}/v1/workloads"))
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await?))
}

async fn get_json(url: String) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// Waits until the workload tagged `tag` is running, as `agent` reads the store; its id.
async fn running(agent: &Agent, tag: &str) -> String {
    for _ in 0..500 {
        let list = get_json(agent.url("/v1/workloads?status=running")).await;
        let found = list.as_array().unwrap().iter().find(|s| s["tag"] == tag);
        if let Some(summary) = found {
            return summary["id"].as_str().unwrap().to_owned();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no workload tagged {tag} ran within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workload_of_a_killed_agent_runs_again_elsewhere_and_its_key_gets_one_result() {
    let url = cluster().database().await;
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let (mut killed, survivor) = two_agents(&url, &dirs, &[]);
    let first = tokio::spawn(post_keyed(killed.url(""), slow(1500, "lost"), "lost-1"));
    let id = running(&survivor, "lost").await;
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    assert!(first.await.unwrap().is_err(), "the killed agent answered");

    // The client retries with its key, on the agent left: one workload, run again, ended.
    let (status, answer) = post_keyed(survivor.url(""), slow(1500, "lost"), "lost-1")
        .await
        .unwrap();
    assert_eq!(
        (status, &answer["status"]),
        (200, &json!("succeeded")),
        "{answer}"
    );
    assert_eq!(answer["id"], id.as_str());
    let tagged = get_json(survivor.url("/v1/workloads?limit=100")).await;
    let tagged: Vec<_> = tagged
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["tag"] == "lost")
        .collect();
    assert_eq!(tagged.len(), 1, "{tagged:?}");
    let requeued = common::metric(
        &survivor.url(""),
        "vulcan_leases_reaped_total{outcome=\"requeued\"}",
    )
    .await;
    assert_eq!(requeued, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_finish_after_the_lease_was_lost_changes_nothing() {
    let url = cluster().database().await;
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let (stopped, other) = two_agents(&url, &dirs, &[]);
    let first = tokio::spawn(post_keyed(stopped.url(""), slow(1500, "late"), "late-1"));
    let id = running(&other, "late").await;
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(stopped.pid(), libc::SIGSTOP) }, 0);

    // Its lease runs out; the other agent runs the workload again and records its result.
    let done = get_json(other.url(&format!("/v1/workloads/{id}?wait=30"))).await;
    assert_eq!(done["status"], "succeeded", "{done}");

    assert_eq!(unsafe { libc::kill(stopped.pid(), libc::SIGCONT) }, 0);
    let (status, late) = first.await.unwrap().unwrap();
    assert_eq!((status, &late["id"]), (200, &json!(id)), "{late}");
    assert_eq!(late["recorded"], false, "{late}");
    assert_ne!(
        late["output"], done["output"],
        "the two runs answered alike"
    );
    let dropped = common::metric(&stopped.url(""), "vulcan_late_finishes_dropped_total").await;
    assert_eq!(dropped, 1.0);
    let after = get_json(other.url(&format!("/v1/workloads/{id}"))).await;
    assert_eq!(
        after["output"], done["output"],
        "the late finish changed the record"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_its_attempts_a_lost_workload_ends_agent_lost() {
    let url = cluster().database().await;
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let (mut killed, survivor) = two_agents(&url, &dirs, &["--max-attempts", "1"]);
    let _first = tokio::spawn(post_keyed(killed.url(""), slow(1500, "once"), "once-1"));
    let id = running(&survivor, "once").await;
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    let ended = get_json(survivor.url(&format!("/v1/workloads/{id}?wait=30"))).await;
    assert_eq!(ended["status"], "backend_crashed", "{ended}");
    assert_eq!(ended["error"]["name"], "AgentLost", "{ended}");
    let ended_count = common::metric(
        &survivor.url(""),
        "vulcan_leases_reaped_total{outcome=\"ended\"}",
    )
    .await;
    assert_eq!(ended_count, 1.0);
}

const KEYS: u64 = 240;

/// Runs workload `n` to its end through `url` with key `k-n`, synchronously (even `n`) or
/// asynchronously then long-polling (odd `n`), retrying with the same key whatever fails.
async fn run_keyed(http: &reqwest::Client, url: &str, n: u64) -> Value {
    let body = json!({
        "code": "export default (x) => { const end = Date.now() + 20; while (Date.now() < end) {} return x }",
        "input": n,
        "isolation": "wasm",
        "tag": "keyed",
    });
    for _ in 0..100 {
        let mut request = http
            .post(format!("{url}/v1/workloads"))
            .header("idempotency-key", format!("k-{n}"))
            .json(&body);
        if n % 2 == 1 {
            request = request.header("prefer", "respond-async");
        }
        let Ok(response) = request.send().await else {
            continue;
        };
        let Ok(mut answer) = response.json::<Value>().await else {
            continue;
        };
        while answer["status"] == "queued" || answer["status"] == "running" {
            let id = answer["id"].as_str().unwrap();
            let read = http
                .get(format!("{url}/v1/workloads/{id}?wait=30"))
                .send()
                .await;
            if let Ok(read) = read {
                answer = read.json().await.unwrap_or(answer);
            }
        }
        if answer["status"] == "succeeded" {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("workload {n} never succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_killed_under_keyed_load_loses_nothing_and_runs_nothing_twice_to_record() {
    let (_dirs, mut agents, balancer) = behind_haproxy(&["--lease-ms", "1000"]).await;

    let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let clients: Vec<_> = (0..CLIENTS as u64)
        .map(|client| {
            let (url, done) = (balancer.url.clone(), Arc::clone(&done));
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut answers = Vec::new();
                for n in (client..KEYS).step_by(CLIENTS) {
                    answers.push((n, run_keyed(&http, &url, n).await));
                    done.fetch_add(1, Ordering::SeqCst);
                }
                answers
            })
        })
        .collect();
    while done.load(Ordering::SeqCst) < KEYS / 3 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut killed = agents.remove(1);
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();

    let mut ids = std::collections::HashSet::new();
    for client in clients {
        for (n, answer) in client.await.unwrap() {
            assert_eq!(answer["output"], n, "{answer}");
            ids.insert(answer["id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(ids.len() as u64, KEYS, "every key names its own workload");
    let http = reqwest::Client::new();
    let list: Value = http
        .get(format!("{}/v1/workloads?limit=500", balancer.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = list.as_array().unwrap();
    assert_eq!(listed.len() as u64, KEYS, "one row per key");
    assert!(
        listed
            .iter()
            .all(|summary| summary["status"] == "succeeded")
    );
    for agent in &agents {
        let in_flight = common::metric(&agent.url(""), "vulcan_workloads_in_flight").await;
        assert_eq!(in_flight, 0.0);
    }
}
