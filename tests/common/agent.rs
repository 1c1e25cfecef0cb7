//! The agent as its own process: `vulcan serve` on port 0 of loopback, its address read from
//! its log, killed when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// A `vulcan serve` process on port 0 of loopback.
pub struct Agent {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Agent {
    pub fn start(data_dir: &Path, extra: &[&str]) -> Agent {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vulcan"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .arg("--cache-dir")
            .arg(super::cache_dir())
            .args(extra)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting vulcan");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let addr = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| {
                let (_, rest) = line.split_once("vulcan listening address=")?;
                rest.split_whitespace().next()?.parse().ok()
            })
            .expect("the agent exited before it listened");
        // Keep draining its log so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Agent { child, addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("a pid")
    }

    /// Resident memory of the agent process, in bytes.
    pub fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .expect("VmRSS");
        kib << 10
    }

    pub async fn wait_until_every_tier_is_available(&self) {
        self.wait_until_every_tier_is_available_to(None).await;
    }

    /// As [`Agent::wait_until_every_tier_is_available`], asking with an API key.
    pub async fn wait_until_every_tier_is_available_to(&self, key: Option<&str>) {
        for _ in 0..600 {
            let mut request = reqwest::Client::new().get(self.url("/v1/backends"));
            if let Some(key) = key {
                request = request.bearer_auth(key);
            }
            let answer: Value = request.send().await.unwrap().json().await.unwrap();
            let tiers = answer["backends"].as_array().expect("a list of tiers");
            if tiers.iter().all(|tier| tier["available"] == true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the tiers did not all become available within 30 s");
    }

    pub async fn wait_for_in_flight(&self, want: u64) {
        for _ in 0..1000 {
            if super::metric(&self.url(""), "vulcan_workloads_in_flight").await == want as f64 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("never saw {want} workloads in flight");
    }

    /// As [`Agent::wait_for_in_flight`], reading `/metrics` with an admin key.
    pub async fn wait_for_in_flight_seen_by(&self, key: &str, want: u64) {
        for _ in 0..1000 {
            let text = reqwest::Client::new()
                .get(self.url("/metrics"))
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let seen = text.lines().find_map(|line| {
                line.strip_prefix("vulcan_workloads_in_flight ")?
                    .parse::<f64>()
                    .ok()
            });
            if seen == Some(want as f64) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("never saw {want} workloads in flight");
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        self.signal_terminate();
        self.child.wait().expect("waiting for the agent")
    }

    /// SIGTERM, without waiting.
    pub fn signal_terminate(&self) {
        // SAFETY: plain kill(2) on our own child.
        assert_eq!(unsafe { libc::kill(self.pid(), libc::SIGTERM) }, 0);
    }

    /// Waits for the agent to exit.
    pub fn wait(mut self) -> std::process::ExitStatus {
        self.child.wait().expect("waiting for the agent")
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
