//! The isolate tier's own Prometheus metrics: its host processes, warm workers, starts,
//! retirements by reason and memory. Worker creation time is observed per workload from its
//! metadata (`crate::metrics`).

use std::time::Duration;

use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry};

use super::retirement::Retirement;
use crate::metrics::register;

pub const HOSTS: &str = "vulcan_isolate_hosts";
pub const HOSTS_BOOTING: &str = "vulcan_isolate_hosts_booting";
pub const WARM_WORKERS: &str = "vulcan_isolate_warm_workers";
pub const ACTIVE_WORKERS: &str = "vulcan_isolate_active_workers";
pub const HOST_STARTS: &str = "vulcan_isolate_host_starts_total";
pub const HOST_START_SECONDS: &str = "vulcan_isolate_host_start_seconds";
pub const HOST_RETIREMENTS: &str = "vulcan_isolate_host_retirements_total";
pub const HOST_RSS: &str = "vulcan_isolate_host_rss_bytes";

#[derive(Clone)]
pub struct IsolateMetrics {
    hosts: IntGauge,
    booting: IntGauge,
    warm: IntGauge,
    active: IntGauge,
    starts: IntCounterVec,
    start_time: Histogram,
    retirements: IntCounterVec,
    rss: IntGauge,
}

impl IsolateMetrics {
    pub fn new(registry: &Registry) -> Self {
        let gauge = |name: &str, help: &str| {
            register(registry, IntGauge::new(name, help).expect("valid gauge"))
        };
        let counter = |name: &str, help: &str, label: &str| {
            let counter =
                IntCounterVec::new(Opts::new(name, help), &[label]).expect("valid counter");
            register(registry, counter)
        };
        let start_buckets = vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0];
        let start_time = register(
            registry,
            Histogram::with_opts(
                HistogramOpts::new(
                    HOST_START_SECONDS,
                    "Time from spawning a host to its readiness.",
                )
                .buckets(start_buckets),
            )
            .expect("valid histogram"),
        );
        let metrics = IsolateMetrics {
            hosts: gauge(
                HOSTS,
                "Isolate host processes running (serving or retiring).",
            ),
            booting: gauge(HOSTS_BOOTING, "Isolate host processes starting."),
            warm: gauge(
                WARM_WORKERS,
                "Idle hosts, each with a warm never-used worker waiting for a workload.",
            ),
            active: gauge(ACTIVE_WORKERS, "Workloads running in isolate workers."),
            starts: counter(HOST_STARTS, "Isolate host starts, by result.", "result"),
            start_time,
            retirements: counter(
                HOST_RETIREMENTS,
                "Isolate hosts taken out of service, by reason.",
                "reason",
            ),
            rss: gauge(
                HOST_RSS,
                "Resident memory of all isolate hosts (sampled every 5 s).",
            ),
        };
        for result in ["ok", "failed"] {
            metrics.starts.with_label_values(&[result]);
        }
        for reason in Retirement::ALL {
            metrics.retirements.with_label_values(&[reason.as_str()]);
        }
        metrics
    }

    pub fn publish(&self, hosts: usize, booting: usize, warm: usize, active: usize) {
        self.hosts.set(hosts as i64);
        self.booting.set(booting as i64);
        self.warm.set(warm as i64);
        self.active.set(active as i64);
    }

    pub fn started(&self, ok: bool, took: Duration) {
        let result = if ok { "ok" } else { "failed" };
        self.starts.with_label_values(&[result]).inc();
        if ok {
            self.start_time.observe(took.as_secs_f64());
        }
    }

    pub fn retired(&self, reason: Retirement) {
        self.retirements.with_label_values(&[reason.as_str()]).inc();
    }

    pub fn host_rss(&self, bytes: u64) {
        self.rss.set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }
}
