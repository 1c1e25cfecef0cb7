//! The guest, pre-initialised with Wizer and compiled once per machine.
//!
//! The raw guest (`vulcan-engine.wasm`, built by `build.rs`) is instrumented, its
//! `wizer.initialize` export creates the QuickJS runtime and context, and the resulting
//! memory is snapshotted into a new module. That module is compiled once per engine variant
//! (metered, epoch-only) and cached in `cache_dir` under a key of the guest's bytes, the
//! engine's compatibility hash and the variant, so a restart skips both Wizer and Cranelift.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

use sha2::{Digest, Sha256};
use wasmtime::{Engine, Instance, Linker, Module, Store};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wizer::{InstanceState, SnapshotVal, ValType, Wizer};

use super::engine::Variant;
use crate::error::{Error, Result};

/// The raw guest, built for wasm32-wasip1 by `build.rs`.
pub const GUEST_WASM: &[u8] = include_bytes!(env!("VULCAN_GUEST_WASM"));

/// The guest's export that builds the QuickJS runtime and context before the snapshot.
const INIT_FUNC: &str = "wizer.initialize";

/// Loads the pre-initialised guest compiled for each engine from the cache; what is missing
/// is built (the Wizer snapshot once, whatever the number of variants) and cached.
pub fn load(engines: &[(Variant, &Engine)], cache_dir: &Path) -> Result<Vec<Module>> {
    let mut snapshot: Option<Vec<u8>> = None;
    let mut modules = Vec::with_capacity(engines.len());
    for &(variant, engine) in engines {
        let path = cache_path(engine, variant, cache_dir);
        if let Some(module) = from_cache(engine, &path) {
            modules.push(module);
            continue;
        }
        let started = std::time::Instant::now();
        let snapshot = match &mut snapshot {
            Some(bytes) => bytes,
            empty => empty.insert(preinitialise(engine, variant, GUEST_WASM)?),
        };
        let module = Module::new(engine, snapshot)?;
        store_in_cache(&module, cache_dir, &path)?;
        tracing::info!(
            variant = variant.as_str(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            path = %path.display(),
            "pre-initialised and compiled the wasm guest"
        );
        // SAFETY: just written from `module.serialize()` above, as in `from_cache`.
        modules.push(unsafe { Module::deserialize_file(engine, &path) }?);
    }
    Ok(modules)
}

fn from_cache(engine: &Engine, path: &Path) -> Option<Module> {
    if !path.exists() {
        return None;
    }
    // SAFETY: the file was written by `store_in_cache` from `Module::serialize` of this very
    // engine configuration (its compatibility hash is part of the name), in a cache directory
    // created private to this user.
    match unsafe { Module::deserialize_file(engine, path) } {
        Ok(module) => Some(module),
        Err(err) => {
            tracing::warn!(path = %path.display(), error = %err, "discarding unreadable module cache");
            None
        }
    }
}

/// The cache file of one variant: keyed by the guest's bytes and the engine's compatibility
/// hash (which covers its settings), and named by the variant too.
fn cache_path(engine: &Engine, variant: Variant, cache_dir: &Path) -> PathBuf {
    let mut engine_hash = DefaultHasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut engine_hash);
    variant.hash(&mut engine_hash);
    let mut key = Sha256::new();
    key.update(GUEST_WASM);
    key.update(engine_hash.finish().to_le_bytes());
    let digest = key.finalize();
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    cache_dir.join(format!("guest-{}-{hex}.cwasm", variant.as_str()))
}

fn store_in_cache(module: &Module, cache_dir: &Path, path: &Path) -> Result<()> {
    create_private_dir(cache_dir)?;
    // Unique per write: several agents (or several servers in one test process) may build
    // the same module at once, and each must rename its own complete file into place.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
    std::fs::write(&tmp, module.serialize()?)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|err| Error::Engine(format!("cannot create cache dir {}: {err}", dir.display())))
}

/// Runs the guest's `wizer.initialize` and snapshots the initialised instance.
fn preinitialise(engine: &Engine, variant: Variant, guest: &[u8]) -> Result<Vec<u8>> {
    let mut wizer = Wizer::new();
    wizer.init_func(INIT_FUNC);
    let (cx, instrumented) = wizer.instrument(guest)?;
    let module = Module::new(engine, &instrumented)?;
    let mut linker: Linker<WasiP1Ctx> = Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |cx| cx)?;
    let mut store = Store::new(engine, WasiCtxBuilder::new().build_p1());
    if variant == Variant::Metered {
        store.set_fuel(u64::MAX)?;
    }
    store.set_epoch_deadline(u64::MAX);
    let instance = linker.instantiate(&mut store, &module)?;
    instance
        .get_typed_func::<(), ()>(&mut store, wizer.get_init_func())?
        .call(&mut store, ())?;
    let mut state = SyncInstance {
        store: &mut store,
        instance,
    };
    Ok(ready(wizer.snapshot(&cx, &mut state))?)
}

/// Wizer's snapshot API is async for async stores; ours is synchronous, so every future
/// it builds is ready on first poll.
fn ready<T>(future: impl Future<Output = T>) -> T {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => value,
        Poll::Pending => unreachable!("a snapshot of a synchronous store never waits"),
    }
}

struct SyncInstance<'a> {
    store: &'a mut Store<WasiP1Ctx>,
    instance: Instance,
}

impl InstanceState for SyncInstance<'_> {
    async fn global_get(&mut self, name: &str, _type_hint: ValType) -> SnapshotVal {
        let global = self
            .instance
            .get_global(&mut *self.store, name)
            .expect("wizer asks only for globals it exported");
        match global.get(&mut *self.store) {
            wasmtime::Val::I32(x) => SnapshotVal::I32(x),
            wasmtime::Val::I64(x) => SnapshotVal::I64(x),
            wasmtime::Val::F32(x) => SnapshotVal::F32(x),
            wasmtime::Val::F64(x) => SnapshotVal::F64(x),
            wasmtime::Val::V128(x) => SnapshotVal::V128(x.as_u128()),
            other => panic!(
                "wizer cannot snapshot a global of type {:?}",
                other.ty(&*self.store)
            ),
        }
    }

    async fn memory_contents(&mut self, name: &str, contents: impl FnOnce(&[u8]) + Send) {
        let memory = self
            .instance
            .get_memory(&mut *self.store, name)
            .expect("wizer asks only for memories it exported");
        contents(memory.data(&*self.store))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_stores_of_the_same_module_all_succeed() {
        let engine = Engine::default();
        // The smallest valid module: magic number and version.
        let module = Module::new(&engine, b"\0asm\x01\0\0\0").expect("empty module");
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("guest.cwasm");
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..50 {
                        store_in_cache(&module, dir.path(), &path).expect("store");
                    }
                });
            }
        });
        // SAFETY: written by `store_in_cache` from this engine just above.
        unsafe { Module::deserialize_file(&engine, &path) }.expect("a complete module");
    }
}
