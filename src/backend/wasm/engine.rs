//! The wasm tier's `wasmtime::Engine`s, one per [`Variant`]: both interrupt on epochs, only
//! the metered one counts fuel; each has the pooling allocator where the machine allows it
//! (the epoch ticker is in `ticker.rs`).

use std::time::Duration;

use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ProfilingStrategy,
};

use crate::error::Result;

/// How often the epoch advances; timeouts are rounded up to whole ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Native stack that wasm frames may use; each instance runs on a fiber stack of this plus
/// headroom.
pub const MAX_WASM_STACK_BYTES: usize = 4 << 20;

/// Linear memory that stays mapped when a pool slot is reused: wasmtime restores only its
/// dirty pages (found with Linux's PAGEMAP_SCAN, kernel 6.7+) instead of dropping them
/// with `madvise`, so the next instance does not take a page fault for every page the guest
/// touches. Measured here, trivial workload: 37 → 2.4 minor faults and 0.32 → 0.12 ms
/// inside the tier; slot reset 36 → 30 µs. The same holds for the function table: dropped
/// with `madvise`, each reuse cost two TLB shoot-downs (the `madvise`, then a
/// copy-on-write fault when the guest's table is filled in again), each an interrupt to the
/// other CPU. Kept resident: agent CPU per trivial workload 490 → 325 µs at concurrency 2.
const KEEP_RESIDENT_BYTES: usize = 16 << 20;

/// Set to `1` to have wasmtime write a perf map of the guest's compiled code (for `perf`;
/// off by default: it writes a file per process).
pub const PERFMAP_ENV: &str = "VULCAN_WASM_PERFMAP";

/// What the engine must be able to host.
#[derive(Clone, Copy, Debug)]
pub struct EngineOptions {
    /// Largest linear memory any workload may ask for.
    pub max_memory_bytes: usize,
    /// Instances alive at once (pool slots).
    pub max_instances: u32,
    pub variant: Variant,
}

/// How the guest is compiled. Fuel costs every workload a counter update per basic block
/// (measured in BENCHMARKS.md, "Wasm tier on real work"), so it is compiled in only for
/// workloads that ask for a budget; the timeout's epoch check is in both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// Fuel and epochs: for a workload with a fuel budget.
    Metered,
    /// Epochs only: for a workload with just a timeout.
    EpochOnly,
}

impl Variant {
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Metered => "metered",
            Variant::EpochOnly => "epoch-only",
        }
    }
}

/// Which instance allocator the engine ended up with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allocator {
    Pooling,
    OnDemand,
}

impl Allocator {
    pub fn as_str(self) -> &'static str {
        match self {
            Allocator::Pooling => "pooling",
            Allocator::OnDemand => "on-demand",
        }
    }
}

/// Builds the engine, trying the pooling allocator first.
pub fn build(options: EngineOptions) -> Result<(Engine, Allocator)> {
    let mut pooling = PoolingAllocationConfig::default();
    pooling
        .total_core_instances(options.max_instances)
        .total_memories(options.max_instances)
        .total_tables(options.max_instances)
        .total_stacks(options.max_instances)
        .max_memories_per_module(1)
        .max_tables_per_module(1)
        .max_memory_size(options.max_memory_bytes);
    // Without PAGEMAP_SCAN, keeping memory resident means copying all of it back on every
    // reuse, which costs more (measured: 140 µs a reset) than the page faults it saves.
    if PoolingAllocationConfig::is_pagemap_scan_available() {
        pooling
            .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
            .table_keep_resident(KEEP_RESIDENT_BYTES)
            .pagemap_scan(Enabled::Yes);
    }
    let mut config = base_config(options);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    match Engine::new(&config) {
        Ok(engine) => Ok((engine, Allocator::Pooling)),
        Err(err) => {
            tracing::warn!(error = %err, "pooling allocator unavailable, using on-demand allocation");
            Ok((Engine::new(&base_config(options))?, Allocator::OnDemand))
        }
    }
}

fn base_config(options: EngineOptions) -> Config {
    let mut config = Config::new();
    config
        .consume_fuel(options.variant == Variant::Metered)
        .epoch_interruption(true)
        .max_wasm_stack(MAX_WASM_STACK_BYTES)
        // Guests run on the async runtime's threads, each on a fiber stack of its own that
        // must be larger than `max_wasm_stack`: no hand-off to a thread of ours and back.
        .async_stack_size(MAX_WASM_STACK_BYTES + (1 << 20))
        .parallel_compilation(true);
    // For `perf`: wasmtime writes /tmp/perf-<pid>.map so samples in guest code get names.
    if std::env::var_os(PERFMAP_ENV).is_some_and(|value| value == "1") {
        config.profiler(ProfilingStrategy::PerfMap);
    }
    config
}
