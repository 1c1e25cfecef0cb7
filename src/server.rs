//! Wiring shared by `main` and the tests: open the history, start the tiers, build the
//! state, serve until a shutdown future resolves, then stop the tiers.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::access::metrics::AccessMetrics;
use crate::access::{Access, AuthMode};
use crate::admission::Admission;
use crate::api::{self, AppState};
use crate::backend::Backend;
use crate::backend::isolate::{IsolateBackend, IsolateConfig, PoolSettings};
use crate::backend::wasm::{WasmBackend, WasmConfig};
use crate::config::{ConnectionArgs, ServeArgs};
use crate::connections;
use crate::metrics::Metrics;
use crate::policy::PolicySlot;
use crate::store;
use crate::workloads::{QueueSettings, WebhookSettings, Workloads};

/// Opens the history and starts every tier.
pub async fn build_state(args: &ServeArgs) -> anyhow::Result<AppState> {
    args.limits.check().map_err(anyhow::Error::msg)?;
    let auth = args.auth_mode().map_err(anyhow::Error::msg)?;
    if auth == AuthMode::Off && !args.listen.ip().is_loopback() {
        tracing::warn!(
            listen = %args.listen,
            "ACCESS CONTROL IS OFF on a non-loopback address (--auth off): anyone who can \
             reach this port can run workloads, read every workload's code, input and output, \
             and replace the routing policy"
        );
    }
    let policy = PolicySlot::from_arg(&args.policy).map_err(anyhow::Error::msg)?;
    let metrics = Metrics::new();
    let location = args.store();
    let history = store::open(
        &location,
        args.history_max_records,
        metrics.history_write_errors.clone(),
    )
    .await
    .with_context(|| format!("opening the history at {location}"))?;
    let wasm_config = WasmConfig {
        cache_dir: args.cache_dir(),
        threads: args.wasm_threads(),
        timeout_ms: args.limits.timeout_ms_range(),
        memory_mb: args.limits.memory_mb_range(),
        max_fuel: args.limits.max_fuel,
    };
    let wasm = tokio::task::spawn_blocking(move || WasmBackend::start(wasm_config))
        .await
        .context("starting the wasm tier")?
        .context("starting the wasm tier")?;
    let isolate = IsolateBackend::start(isolate_config(args), metrics.registry()).await;
    let backends: Vec<Arc<dyn Backend>> = vec![Arc::new(isolate), Arc::new(wasm)];
    let access = Access::new(
        auth,
        Arc::clone(&history),
        args.default_quotas(),
        AccessMetrics::new(metrics.registry(), args.access.metrics_tenants.clone()),
        args.access.metrics_token.as_deref(),
    );
    Ok(AppState {
        access: Arc::new(access),
        workloads: Workloads {
            backends: backends.into(),
            history,
            metrics: Arc::new(metrics),
            limits: Arc::new(args.limits.clone()),
            webhooks: WebhookSettings::new(&args.callback_allow, args.callback_secret.as_deref())
                .map_err(anyhow::Error::msg)?,
            queue: QueueSettings {
                owner: uuid::Uuid::now_v7().to_string().into(),
                lease: Duration::from_millis(args.lease_ms),
                max_attempts: args.max_attempts,
                max_queued: args.max_queued,
                concurrency: args.queue_concurrency(),
            },
        },
        admission: Admission::new(args.max_in_flight),
        policy: Arc::new(policy),
        web_dir: args.web_dir.as_path().into(),
        calibration: Arc::default(),
        draining: Arc::new(watch::channel(false).0),
    })
}

fn isolate_config(args: &ServeArgs) -> IsolateConfig {
    let isolate = &args.isolate;
    IsolateConfig {
        host_dir: isolate.host_dir.clone(),
        pool: PoolSettings {
            hosts: isolate.hosts(),
            spares: isolate.spares,
            recycle_after: isolate.recycle_after,
            recycle_rss_bytes: isolate.recycle_rss_mb << 20,
            heap_mb: args.limits.memory_mb,
        },
        host_memory_mb: isolate.host_memory_mb,
        host_max_pids: isolate.host_max_pids,
        jail: isolate.jail,
        timeout_ms: args.limits.timeout_ms_range(),
        memory_mb: args.limits.memory_mb_range(),
    }
}

/// Resolves `drain` after `signal` does; meanwhile the agent reports itself draining on
/// `/healthz` (503) and goes on serving, so a balancer's health checks take it out of
/// rotation before it stops accepting connections.
pub async fn drain_after(state: &AppState, signal: impl Future<Output = ()>, drain: Duration) {
    signal.await;
    state.draining.send_replace(true);
    if !drain.is_zero() {
        tracing::info!(
            drain_ms = drain.as_millis() as u64,
            "draining: /healthz now says so"
        );
        tokio::time::sleep(drain).await;
    }
}

/// Serves the API on `listener`, its clients' connections held to `connections`, until
/// `shutdown` resolves, then stops the tiers and the history writer (after in-flight requests
/// have been answered and every accepted workload has been recorded).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    connections: ConnectionArgs,
    shutdown: impl Future<Output = ()>,
) {
    let app = api::router(state.clone());
    let runner = tokio::spawn(
        state
            .workloads
            .clone()
            .serve_queue(state.admission.clone(), state.draining.subscribe()),
    );
    let upkeep = tokio::spawn(state.workloads.clone().upkeep());
    let deliverer = tokio::spawn(state.workloads.clone().deliver_webhooks());
    connections::serve(
        listener,
        app,
        &connections,
        &state.workloads.metrics,
        shutdown,
    )
    .await;
    let in_flight = state.admission.in_flight();
    if in_flight > 0 {
        tracing::info!(in_flight, "waiting for workloads whose clients hung up");
    }
    runner.abort();
    state.admission.drained().await;
    // Leases were renewed until the last claimed workload was finished.
    upkeep.abort();
    deliverer.abort();
    for backend in state.workloads.backends.iter() {
        backend.shutdown().await;
    }
    state.workloads.history.close();
}
