//! Prometheus metrics: names as constants, one registry, and the HTTP middleware that
//! counts requests by matched route.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::core::Collector;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::backend::{BackendKind, Metadata, Outcome};

pub const WORKLOADS_TOTAL: &str = "vulcan_workloads_total";
pub const WORKLOAD_DURATION: &str = "vulcan_workload_duration_seconds";
pub const WASM_FUEL_CONSUMED: &str = "vulcan_wasm_fuel_consumed";
pub const WASM_INSTANTIATE: &str = "vulcan_wasm_instantiate_seconds";
pub const ISOLATE_WORKER_CREATE: &str = "vulcan_isolate_worker_create_seconds";
pub const BACKEND_UP: &str = "vulcan_backend_up";
pub const HTTP_REQUESTS_TOTAL: &str = "vulcan_http_requests_total";
pub const HTTP_REQUEST_DURATION: &str = "vulcan_http_request_duration_seconds";
pub const WORKLOADS_REJECTED_TOTAL: &str = "vulcan_workloads_rejected_total";
pub const WORKLOADS_IN_FLIGHT: &str = "vulcan_workloads_in_flight";
pub const HISTORY_WRITE_ERRORS_TOTAL: &str = "vulcan_history_write_errors_total";
pub const QUEUE_DEPTH: &str = "vulcan_queue_depth";
pub const QUEUE_WAIT: &str = "vulcan_queue_wait_seconds";
pub const LEASES_REAPED_TOTAL: &str = "vulcan_leases_reaped_total";
pub const LATE_FINISHES_TOTAL: &str = "vulcan_late_finishes_dropped_total";
pub const WEBHOOK_DELIVERIES_TOTAL: &str = "vulcan_webhook_deliveries_total";
pub const CONNECTIONS_OPEN: &str = "vulcan_connections_open";
pub const CONNECTIONS_REFUSED_TOTAL: &str = "vulcan_connections_refused_total";
pub const CONNECTIONS_TIMED_OUT_TOTAL: &str = "vulcan_connections_timed_out_total";

/// Seconds, from 50 µs to ~30 s.
const LATENCY_BUCKETS: [f64; 14] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0,
];

pub struct Metrics {
    registry: Registry,
    workloads: IntCounterVec,
    duration: HistogramVec,
    fuel: Histogram,
    instantiate: Histogram,
    worker_create: Histogram,
    backend_up: IntGaugeVec,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    pub rejected: IntCounter,
    pub in_flight: IntGauge,
    pub history_write_errors: IntCounter,
    /// Workloads waiting for an agent, as the store counts them at each scrape.
    pub queue_depth: IntGauge,
    /// From submission to an agent's claim, for workloads that waited in the queue.
    pub queue_wait: Histogram,
    /// Expired leases, by what became of the workload (`requeued`, `ended`).
    pub leases_reaped: IntCounterVec,
    /// Finishes refused because the agent had lost the workload's lease.
    pub late_finishes: IntCounter,
    /// Attempts to POST results to callbacks, by outcome (`delivered`, `failed`, `gave_up`).
    pub webhook_deliveries: IntCounterVec,
    /// Clients' connections open now.
    pub connections_open: IntGauge,
    /// Connections accepted and closed at once, by the cap they were over
    /// (`max_connections`, `max_connections_per_client`).
    pub connections_refused: IntCounterVec,
    /// Requests too slow to arrive, by what was late (`header`, `idle`, `body`).
    pub connections_timed_out: IntCounterVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            let opts = HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec());
            register(
                &registry,
                HistogramVec::new(opts, labels).expect("valid histogram"),
            )
        };
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let opts = Opts::new(name, help);
            register(
                &registry,
                IntCounterVec::new(opts, labels).expect("valid counter"),
            )
        };
        let plain_counter = |name: &str, help: &str| {
            register(
                &registry,
                IntCounter::new(name, help).expect("valid counter"),
            )
        };
        let workloads = counter(
            WORKLOADS_TOTAL,
            "Workloads run, by backend and status.",
            &["backend", "status"],
        );
        let duration = histogram(
            WORKLOAD_DURATION,
            "Run time of workloads inside their tier.",
            &["backend"],
        );
        let instantiate = histogram(WASM_INSTANTIATE, "Time to instantiate the wasm guest.", &[])
            .with_label_values(&[] as &[&str]);
        let worker_create = histogram(
            ISOLATE_WORKER_CREATE,
            "Time isolate workloads waited for their worker to be created (0 when warm).",
            &[],
        )
        .with_label_values(&[] as &[&str]);
        let fuel_opts = HistogramOpts::new(
            WASM_FUEL_CONSUMED,
            "Fuel consumed by wasm workloads that ran metered (with a fuel budget).",
        )
        .buckets(prometheus::exponential_buckets(1e4, 10.0, 9).expect("valid buckets"));
        let fuel = register(
            &registry,
            Histogram::with_opts(fuel_opts).expect("valid histogram"),
        );
        let backend_up = register(
            &registry,
            IntGaugeVec::new(
                Opts::new(BACKEND_UP, "1 when the tier is healthy."),
                &["backend"],
            )
            .expect("valid gauge"),
        );
        let http_requests = counter(
            HTTP_REQUESTS_TOTAL,
            "HTTP requests, by route, method and status.",
            &["route", "method", "status"],
        );
        let http_duration = histogram(
            HTTP_REQUEST_DURATION,
            "HTTP request latency, by route and method.",
            &["route", "method"],
        );
        let rejected = plain_counter(
            WORKLOADS_REJECTED_TOTAL,
            "Workloads refused with 429 because too many were in flight.",
        );
        let in_flight = register(
            &registry,
            IntGauge::new(
                WORKLOADS_IN_FLIGHT,
                "Workloads accepted and not yet answered.",
            )
            .expect("valid gauge"),
        );
        let history_write_errors = plain_counter(
            HISTORY_WRITE_ERRORS_TOTAL,
            "Workloads whose history record could not be written.",
        );
        let queue_depth = register(
            &registry,
            IntGauge::new(QUEUE_DEPTH, "Workloads queued and waiting for an agent.")
                .expect("valid gauge"),
        );
        let queue_wait = histogram(
            QUEUE_WAIT,
            "Time queued workloads waited for an agent to claim them.",
            &[],
        )
        .with_label_values(&[] as &[&str]);
        let leases_reaped = counter(
            LEASES_REAPED_TOTAL,
            "Expired leases of lost agents, by outcome: requeued, or ended past max attempts.",
            &["outcome"],
        );
        let late_finishes = plain_counter(
            LATE_FINISHES_TOTAL,
            "Results dropped because their agent had lost the workload's lease.",
        );
        let webhook_deliveries = counter(
            WEBHOOK_DELIVERIES_TOTAL,
            "Attempts to POST results to callbacks, by outcome: delivered, failed, gave_up.",
            &["outcome"],
        );
        let connections_open = register(
            &registry,
            IntGauge::new(CONNECTIONS_OPEN, "Clients' connections open now.").expect("valid gauge"),
        );
        let connections_refused = counter(
            CONNECTIONS_REFUSED_TOTAL,
            "Connections accepted and closed at once, by the cap they were over: \
             max_connections, max_connections_per_client.",
            &["reason"],
        );
        let connections_timed_out = counter(
            CONNECTIONS_TIMED_OUT_TOTAL,
            "Connections closed (header, idle) or requests answered 408 (body) because the \
             client was too slow, by what was late.",
            &["phase"],
        );
        Metrics {
            registry,
            workloads,
            duration,
            fuel,
            instantiate,
            worker_create,
            backend_up,
            http_requests,
            http_duration,
            rejected,
            in_flight,
            history_write_errors,
            queue_depth,
            queue_wait,
            leases_reaped,
            late_finishes,
            webhook_deliveries,
            connections_open,
            connections_refused,
            connections_timed_out,
        }
    }

    pub fn observe_outcome(&self, backend: BackendKind, outcome: &Outcome) {
        let backend = backend.as_str();
        self.workloads
            .with_label_values(&[backend, outcome.status.as_str()])
            .inc();
        self.duration
            .with_label_values(&[backend])
            .observe(outcome.duration_ms / 1000.0);
        match &outcome.metadata {
            Some(Metadata::Wasm(wasm)) => {
                if wasm.metered {
                    self.fuel.observe(wasm.fuel_consumed as f64);
                }
                self.instantiate.observe(wasm.instantiate_ms / 1000.0);
            }
            Some(Metadata::Isolate(isolate)) => {
                self.worker_create
                    .observe(isolate.worker_create_ms / 1000.0);
            }
            None => {}
        }
    }

    pub fn set_backend_up(&self, backend: BackendKind, up: bool) {
        self.backend_up
            .with_label_values(&[backend.as_str()])
            .set(i64::from(up));
    }

    /// Where tiers register metrics of their own.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The registry in Prometheus text format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding into a Vec cannot fail");
        String::from_utf8(buffer).expect("the text format is UTF-8")
    }
}

/// Registers `metric` and hands it back.
pub fn register<M: Collector + Clone + 'static>(registry: &Registry, metric: M) -> M {
    registry
        .register(Box::new(metric.clone()))
        .expect("unique metric");
    metric
}

/// Counts and times every request by its matched route (unmatched ones as `unmatched`).
pub async fn track_http(
    State(metrics): State<std::sync::Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    // Cheap clones (an `Arc<str>`, a method without allocation), not strings per request.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    let response = next.run(request).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    metrics
        .http_requests
        .with_label_values(&[route, method.as_str(), response.status().as_str()])
        .inc();
    metrics
        .http_duration
        .with_label_values(&[route, method.as_str()])
        .observe(started.elapsed().as_secs_f64());
    response
}
