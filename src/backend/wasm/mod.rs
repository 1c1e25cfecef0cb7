//! The wasm tier: QuickJS compiled to WebAssembly (`engine-wasm/`), pre-initialised with
//! Wizer, run by wasmtime in a fresh instance per workload with a memory cap, an epoch
//! deadline and, when the workload asks for one, a fuel budget. The snapshot is compiled
//! twice: with fuel metering for workloads with a budget, without for the rest (see
//! `engine::Variant`). Guests run on the async runtime's own threads (wasmtime's async
//! support: a fiber per instance that yields at every epoch tick), at most `threads` at once.

mod engine;
mod guest;
mod limiter;
mod run;
mod snapshot;
mod ticker;

use std::hash::{BuildHasher, RandomState};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use futures_util::FutureExt;
use tokio::sync::Semaphore;

use engine::Allocator;
use engine::{EngineOptions, Variant};
use run::Runner;
use ticker::EpochTicker;

use crate::backend::{
    Backend, BackendKind, Capabilities, Health, Language, LanguageFeature, LimitRange, Outcome,
    Status, Workload,
};
use crate::error::{Error, Result};
use crate::typescript;

/// How the wasm tier is set up.
#[derive(Clone, Debug)]
pub struct WasmConfig {
    /// Where the compiled, pre-initialised guest is cached.
    pub cache_dir: PathBuf,
    /// Workloads that run at once (more wait for a place).
    pub threads: usize,
    pub timeout_ms: LimitRange,
    /// `min` is raised to what the guest needs to start.
    pub memory_mb: LimitRange,
    pub max_fuel: u64,
}

pub struct WasmBackend {
    /// Runs workloads that ask for a fuel budget.
    metered: Runner,
    /// Runs the others: no fuel counting in the compiled code.
    epoch_only: Runner,
    ticker: EpochTicker,
    /// A place per workload running, held until its store is dropped; closed at shutdown.
    places: Arc<Semaphore>,
    capabilities: Capabilities,
    allocator: Allocator,
    stopped: AtomicBool,
}

impl WasmBackend {
    /// Builds the engine and loads the guest (compiling it on the first start on a machine).
    /// Blocking: call it off the async runtime.
    pub fn start(config: WasmConfig) -> Result<Self> {
        let build = |variant| {
            engine::build(EngineOptions {
                max_memory_bytes: usize::try_from(config.memory_mb.max << 20).unwrap_or(usize::MAX),
                max_instances: u32::try_from(config.threads).unwrap_or(u32::MAX),
                variant,
            })
        };
        let (metered_engine, allocator) = build(Variant::Metered)?;
        let (epoch_only_engine, _) = build(Variant::EpochOnly)?;
        let modules = snapshot::load(
            &[
                (Variant::Metered, &metered_engine),
                (Variant::EpochOnly, &epoch_only_engine),
            ],
            &config.cache_dir,
        )?;
        let metered = Runner::new(&metered_engine, &modules[0], Variant::Metered)?;
        let epoch_only = Runner::new(&epoch_only_engine, &modules[1], Variant::EpochOnly)?;
        let ticker = EpochTicker::spawn(&[&metered_engine, &epoch_only_engine])?;
        let mut memory_mb = config.memory_mb;
        memory_mb.min = memory_mb.min.max(initial_memory_mb(&modules[0]));
        memory_mb.default = memory_mb.default.max(memory_mb.min);
        let capabilities = Capabilities {
            languages: vec![Language::Javascript, Language::Typescript],
            meters_fuel: true,
            timeout_ms: config.timeout_ms,
            memory_mb,
            fuel_max: Some(config.max_fuel),
            unmetered_without_fuel: true,
            features: FEATURES.to_vec(),
        };
        tracing::info!(
            allocator = allocator.as_str(),
            threads = config.threads,
            "wasm tier ready"
        );
        Ok(WasmBackend {
            metered,
            epoch_only,
            ticker,
            places: Arc::new(Semaphore::new(config.threads.max(1))),
            capabilities,
            allocator,
            stopped: AtomicBool::new(false),
        })
    }
}

/// MiB of linear memory the pre-initialised guest starts with.
fn initial_memory_mb(module: &wasmtime::Module) -> u64 {
    let bytes: u64 = module
        .exports()
        .filter_map(|export| export.ty().memory().map(|memory| memory.minimum() * 65536))
        .sum();
    bytes.div_ceil(1 << 20)
}

/// QuickJS-ng's environment, with the guest's `Atomics` and lazy `Temporal`
/// (engine-wasm/src/atomics.js, temporal.js); no Web APIs beyond console and timers.
const FEATURES: [LanguageFeature; 11] = [
    LanguageFeature::partial(
        "Temporal",
        "temporal-polyfill 1.0.9, run on first use (~2 ms): ISO calendar; UTC and fixed-offset \
         time zones only (a named zone is a RangeError), no locale formatting",
    ),
    LanguageFeature::partial(
        "Atomics",
        "one thread: Atomics.wait cannot block (it throws unless the value differs)",
    ),
    LanguageFeature::full("SharedArrayBuffer"),
    LanguageFeature::full("BigInt"),
    LanguageFeature::full("WeakRef"),
    LanguageFeature::none("Intl"),
    LanguageFeature::none("WebAssembly"),
    LanguageFeature::none("structuredClone"),
    LanguageFeature::none("TextEncoder"),
    LanguageFeature::none("URL"),
    LanguageFeature::none("crypto"),
];

#[async_trait]
impl Backend for WasmBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Wasm
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities.clone()
    }

    fn health(&self) -> Health {
        if self.stopped.load(Ordering::Relaxed) {
            Health {
                healthy: false,
                detail: "shut down".into(),
            }
        } else {
            Health {
                healthy: true,
                detail: format!("ready ({} allocator)", self.allocator.as_str()),
            }
        }
    }

    async fn execute(&self, workload: Workload) -> Result<Outcome> {
        let place = Arc::clone(&self.places)
            .acquire_owned()
            .await
            .map_err(|_| Error::Engine("the wasm tier is shut down".into()))?;
        let _running = self.ticker.running();
        let started = std::time::Instant::now();
        let seed = RandomState::new().hash_one(workload.code.len()) >> 11;
        let code = match typescript::javascript(&workload.code, workload.language) {
            Ok(code) => code,
            Err(error) => {
                let elapsed = started.elapsed().as_secs_f64() * 1000.0;
                return Ok(Outcome::failed(Status::Error, error, elapsed));
            }
        };
        let runner = match workload.limits.fuel {
            Some(_) => &self.metered,
            None => &self.epoch_only,
        };
        // A panic in the engine fails this workload, not the task that records it.
        AssertUnwindSafe(runner.run(&workload, &code, seed, place))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(Error::Engine("the wasm engine panicked".into())))
    }

    async fn shutdown(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.places.close();
    }
}
