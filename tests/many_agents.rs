//! Many agents as one service: three `vulcan serve` processes on one PostgreSQL history (a
//! private cluster), behind HAProxy running `deploy/haproxy.cfg` as shipped. One agent is
//! stopped (SIGTERM) under load: no client request fails, the agent exits cleanly, and every
//! answered workload can be read back through the balancer.

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
    let url = cluster().database().await;
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let flags = [
        "--store",
        &url,
        "--drain-ms",
        "1500",
        "--isolate-host-dir",
        "/nonexistent/isolate-host",
    ];
    let mut agents: Vec<Agent> = dirs
        .iter()
        .map(|dir| Agent::start(dir.path(), &flags))
        .collect();
    let balancer = Balancer::start(&agents.iter().collect::<Vec<_>>());
    balancer.wait_ready().await;

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
