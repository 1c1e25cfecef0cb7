//! Runs one workload in a fresh instance of the pre-initialised guest and turns whatever
//! happened (a response, a trap, a refused grow, a full pipe) into an `Outcome`.

use std::time::{Duration, Instant};

use tokio::sync::OwnedSemaphorePermit;
use wasmtime::{Engine, InstancePre, Linker, Module, Store, Trap, UpdateDeadline};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::{I32Exit, WasiCtxBuilder};

use super::engine::Variant;
use super::guest::{self, GuestResult};
use super::limiter::MemoryLimiter;
use crate::backend::{Limits, Metadata, Outcome, Status, WasmMetadata, Workload, WorkloadError};
use crate::error::Result;

struct StoreState {
    wasi: WasiP1Ctx,
    limiter: MemoryLimiter,
}

/// A linked, ready-to-instantiate guest, compiled for one engine variant.
pub struct Runner {
    engine: Engine,
    pre: InstancePre<StoreState>,
    variant: Variant,
}

/// What the run left behind, before it is classified.
struct Ending {
    call: wasmtime::Result<()>,
    stdout: MemoryOutputPipe,
    stdout_capacity: usize,
    stderr: MemoryOutputPipe,
    memory_refused: bool,
}

impl Runner {
    pub fn new(engine: &Engine, module: &Module, variant: Variant) -> Result<Self> {
        let mut linker: Linker<StoreState> = Linker::new(engine);
        wasmtime_wasi::p1::add_to_linker_async(&mut linker, |state| &mut state.wasi)?;
        Ok(Runner {
            engine: engine.clone(),
            pre: linker.instantiate_pre(module)?,
            variant,
        })
    }

    /// Runs `code` (JavaScript, types already stripped) with the workload's input and limits,
    /// on the calling task: the guest yields to the async runtime at every epoch tick, and is
    /// interrupted at the first tick past its deadline. The spent store, and the workload's
    /// `place` with it, are dropped after the answer has left (see [`retire`]).
    pub async fn run(
        &self,
        workload: &Workload,
        code: &str,
        seed: u64,
        place: OwnedSemaphorePermit,
    ) -> Result<Outcome> {
        let started = Instant::now();
        let limits = &workload.limits;
        let request = guest::request(code, &workload.input, seed, limits);
        let stdout_capacity = guest::stdout_capacity(limits);
        let stdout = MemoryOutputPipe::new(stdout_capacity);
        let stderr = MemoryOutputPipe::new(guest::stderr_capacity(limits));
        let wasi = WasiCtxBuilder::new()
            .stdin(MemoryInputPipe::new(request))
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .build_p1();
        let memory_bytes = usize::try_from(limits.memory_mb << 20).unwrap_or(usize::MAX);
        let mut store = Store::new(
            &self.engine,
            StoreState {
                wasi,
                limiter: MemoryLimiter::new(memory_bytes),
            },
        );
        store.limiter(|state| &mut state.limiter);
        let metered = self.variant == Variant::Metered;
        let fuel_budget = limits.fuel.unwrap_or(u64::MAX);
        if metered {
            store.set_fuel(fuel_budget)?;
        }
        let deadline = started + Duration::from_millis(limits.timeout_ms);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });

        let instance = match self.pre.instantiate_async(&mut store).await {
            Ok(instance) => instance,
            Err(_) if store.data().limiter.refused() => {
                let error = memory_error(limits, "the engine's initial memory does not fit");
                return Ok(Outcome::failed(Status::MemoryLimit, error, ms(started)));
            }
            Err(err) => return Err(err.into()),
        };
        let instantiate_ms = ms(started);
        let call = match instance.get_typed_func::<(), ()>(&mut store, "_start") {
            Ok(start) => start.call_async(&mut store, ()).await,
            Err(err) => Err(err),
        };

        let fuel_consumed = if metered {
            fuel_budget - store.get_fuel().unwrap_or(0)
        } else {
            0
        };
        let limiter = &store.data().limiter;
        let metadata = WasmMetadata {
            instantiate_ms,
            metered,
            fuel_consumed,
            memory_peak_bytes: limiter.peak_bytes() as u64,
        };
        let ending = Ending {
            call,
            stdout,
            stdout_capacity,
            stderr,
            memory_refused: limiter.refused(),
        };
        let result = classify(ending, limits);
        retire((store, place));
        Ok(Outcome {
            status: result.status,
            output: result.output,
            error: result.error,
            logs: result.logs,
            logs_truncated: result.logs_truncated,
            duration_ms: ms(started),
            // The guest never waits on anything: its time in the tier is computing.
            cpu_ms: Some(ms(started)),
            metadata: Some(Metadata::Wasm(metadata)),
        })
    }
}

/// Drops a spent store, and the place it held, once the current task yields. Dropping it
/// resets its pool slot (wasmtime copies the dirty pages of linear memory back from the image,
/// scans the page tables for them and releases the rest): ~0.15 ms with cold caches, which
/// the answer need not wait for. Spawned from a runtime thread, the task takes that thread's
/// next-task slot, so it runs there as soon as the connection's task has written the answer
/// and waits for the next request: no other thread is woken, and the next workload finds the
/// same slot free, its pages still in this CPU's caches.
fn retire(spent: impl Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn(async move { drop(spent) })),
        Err(_) => drop(spent),
    }
}

fn classify(ending: Ending, limits: &Limits) -> GuestResult {
    let stdout = ending.stdout.contents();
    let stdout_full = stdout.len() >= ending.stdout_capacity;
    // The guest streams its logs to stderr, so a run that never finished still has them.
    let (streamed, streamed_cut, other) = guest::streamed_logs(&ending.stderr.contents(), limits);
    let failed = |status, error| GuestResult {
        status,
        output: None,
        error: Some(error),
        logs: streamed.clone(),
        logs_truncated: streamed_cut,
    };
    if let Err(err) = &ending.call {
        let clean_exit = err
            .downcast_ref::<I32Exit>()
            .is_some_and(|exit| exit.0 == 0);
        if !clean_exit {
            let trap = err.downcast_ref::<Trap>();
            return match trap {
                Some(Trap::OutOfFuel) => failed(Status::FuelExhausted, fuel_error(limits)),
                Some(Trap::Interrupt) => failed(Status::Timeout, timeout_error(limits)),
                _ if ending.memory_refused => failed(
                    Status::MemoryLimit,
                    memory_error(limits, "allocation refused"),
                ),
                _ if stdout_full => failed(
                    Status::OutputLimit,
                    WorkloadError::output_limit(stdout.len() as u64, limits),
                ),
                // The same words QuickJS (and V8) use when their own stack check fires.
                Some(Trap::StackOverflow) => failed(
                    Status::Error,
                    WorkloadError::new("RangeError", "Maximum call stack size exceeded"),
                ),
                _ => failed(
                    Status::BackendCrashed,
                    WorkloadError::new("BackendCrashed", crash_message(err, &other)),
                ),
            };
        }
    }
    match guest::parse_response(&stdout, limits) {
        Ok(mut result) => {
            if result.status == Status::Error && ending.memory_refused {
                let detail = result.error.take().map(|e| e.message).unwrap_or_default();
                result.status = Status::MemoryLimit;
                result.error = Some(memory_error(limits, &detail));
            }
            result
        }
        Err(_) if stdout_full => failed(
            Status::OutputLimit,
            WorkloadError::output_limit(stdout.len() as u64, limits),
        ),
        Err(message) => failed(
            Status::BackendCrashed,
            WorkloadError::new("BackendCrashed", message),
        ),
    }
}

fn fuel_error(limits: &Limits) -> WorkloadError {
    let budget = limits.fuel.unwrap_or(u64::MAX);
    WorkloadError::new(
        "FuelExhausted",
        format!("fuel budget of {budget} exhausted"),
    )
}

fn timeout_error(limits: &Limits) -> WorkloadError {
    WorkloadError::new(
        "Timeout",
        format!("workload exceeded its timeout of {} ms", limits.timeout_ms),
    )
}

fn memory_error(limits: &Limits, detail: &str) -> WorkloadError {
    WorkloadError::new(
        "MemoryLimit",
        format!(
            "memory limit of {} MiB reached ({detail})",
            limits.memory_mb
        ),
    )
}

fn crash_message(err: &wasmtime::Error, guest_said: &str) -> String {
    match guest_said.trim() {
        "" => format!("guest trapped: {err}"),
        said => format!("guest trapped: {err}; guest said: {said}"),
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}
