//! The epoch ticker: advances the engines' epoch every [`EPOCH_TICK`] while guests run, and
//! parks once none has run for [`IDLE_TICKS`] ticks, so an idle agent does not wake a CPU a
//! thousand times a second. A guest starting while it is parked wakes it. The thread holds
//! weak engine references and ends when the engines are dropped (noticed within
//! [`ENGINE_CHECK`] while parked).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use wasmtime::{Engine, EngineWeak};

use super::engine::EPOCH_TICK;

/// Ticks without a running guest before the ticker parks (100 ms).
const IDLE_TICKS: u32 = 100;

/// How often a parked ticker checks that its engine still exists.
const ENGINE_CHECK: Duration = Duration::from_secs(1);

pub struct EpochTicker {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    running: AtomicUsize,
    /// True while the ticker waits on `wake`.
    parked: Mutex<bool>,
    wake: Condvar,
}

/// A running guest; the ticker may park once every one is dropped.
pub struct Running<'a>(&'a Shared);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

impl EpochTicker {
    /// One thread ticks every engine of the tier (one per compiled variant).
    pub fn spawn(engines: &[&Engine]) -> std::io::Result<EpochTicker> {
        let shared = Arc::new(Shared::default());
        let weak: Vec<EngineWeak> = engines.iter().map(|engine| engine.weak()).collect();
        let ticking = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("vulcan-epoch".into())
            .spawn(move || tick(&weak, &ticking))?;
        Ok(EpochTicker { shared })
    }

    /// Marks a guest as running until the guard is dropped; wakes the ticker if it parked.
    pub fn running(&self) -> Running<'_> {
        let shared = &*self.shared;
        if shared.running.fetch_add(1, Ordering::SeqCst) == 0 {
            let parked = shared.parked.lock().expect("ticker lock");
            if *parked {
                shared.wake.notify_one();
            }
        }
        Running(shared)
    }
}

fn tick(engines: &[EngineWeak], shared: &Shared) {
    let mut idle_ticks = 0;
    loop {
        std::thread::sleep(EPOCH_TICK);
        let mut alive = 0;
        for engine in engines.iter().filter_map(EngineWeak::upgrade) {
            engine.increment_epoch();
            alive += 1;
        }
        if alive == 0 {
            return;
        }
        idle_ticks = match shared.running.load(Ordering::SeqCst) {
            0 => idle_ticks + 1,
            _ => 0,
        };
        if idle_ticks >= IDLE_TICKS {
            // `running` is checked under the lock a starting guest takes to wake us.
            let mut parked = shared.parked.lock().expect("ticker lock");
            *parked = true;
            if shared.running.load(Ordering::SeqCst) == 0 {
                parked = shared
                    .wake
                    .wait_timeout(parked, ENGINE_CHECK)
                    .expect("ticker lock")
                    .0;
            }
            *parked = false;
        }
    }
}
