//! The instance's one QuickJS runtime and context, with the prelude installed, `Atomics`
//! (`atomics.js`) and a lazy `Temporal` (`temporal.js`).
//!
//! Built once, by `wizer.initialize` before the snapshot or lazily on first use, and never
//! dropped: the instance is thrown away after its one workload, so nothing is freed.

use std::cell::{OnceCell, RefCell};
use std::rc::Rc;

use rquickjs::context::EvalOptions;
use rquickjs::{Context, Ctx, Function, Object, Persistent, Runtime};

use crate::console::{Logs, emit_function};

/// QuickJS's stack limit, in bytes: deep recursion past it throws a catchable
/// `RangeError: Maximum call stack size exceeded` (about 3,600 frames of a small function).
///
/// In wasm it bounds the shadow stack (4 MiB, `-zstack-size` in .cargo/config.toml), but
/// wasmtime's native stack is what runs out first unless the host's `max_wasm_stack` is
/// large enough, and then the workload traps instead of throwing. Measured on wasmtime 48,
/// reaching this limit takes ~15 MiB of native stack through QuickJS's parser or JSON
/// code and ~3 MiB through plain calls, hence the 24 MiB the host must allow.
pub const JS_MAX_STACK_BYTES: usize = 1 << 20;

const PRELUDE: &str = include_str!("prelude.js");
const ATOMICS: &str = include_str!("atomics.js");
const TEMPORAL: &str = include_str!("temporal.js");
const TEMPORAL_POLYFILL: &str = include_str!("../vendor/temporal-polyfill/global.js");

pub struct Engine {
    pub context: Context,
    /// The prelude's private hooks: `reseed`, `fireNextTimer`, `resolve`, `typeOf`.
    pub hooks: Persistent<Object<'static>>,
    /// The sink behind `console.*`.
    pub logs: Rc<RefCell<Logs>>,
}

thread_local! {
    static ENGINE: OnceCell<&'static Engine> = const { OnceCell::new() };
}

/// The engine, built on first use.
pub fn engine() -> &'static Engine {
    ENGINE.with(|cell| {
        *cell.get_or_init(|| {
            let engine = Engine::new().expect("engine initialisation failed");
            Box::leak(Box::new(engine))
        })
    })
}

impl Engine {
    fn new() -> rquickjs::Result<Self> {
        let runtime = Runtime::new()?;
        runtime.set_max_stack_size(JS_MAX_STACK_BYTES);
        let context = Context::full(&runtime)?;
        let logs = Rc::new(RefCell::new(Logs::default()));
        let hooks = context.with(|ctx| install(&ctx, logs.clone()))?;
        Ok(Self {
            context,
            hooks,
            logs,
        })
    }
}

/// Runs the prelude, handing it the log sink and the job queue; returns its hooks.
fn install<'js>(
    ctx: &Ctx<'js>,
    logs: Rc<RefCell<Logs>>,
) -> rquickjs::Result<Persistent<Object<'static>>> {
    let install: Function = ctx.eval_with_options(PRELUDE, script("prelude.js"))?;
    let emit = emit_function(ctx, logs)?;
    let defer = Function::new(ctx.clone(), |callback: Function<'js>| callback.defer(()))?;
    let hooks: Object = install.call((emit, defer))?;
    let atomics: Function = ctx.eval_with_options(ATOMICS, script("atomics.js"))?;
    atomics.call::<_, ()>(())?;
    // Compiled now, into the snapshot; run on the first access to `Temporal`.
    let factory: Function = ctx.eval_with_options(
        format!("(function (Intl) {{\n{TEMPORAL_POLYFILL}\n}})"),
        script("temporal-polyfill.js"),
    )?;
    let temporal: Function = ctx.eval_with_options(TEMPORAL, script("temporal.js"))?;
    temporal.call::<_, ()>((factory,))?;
    Ok(Persistent::save(ctx, hooks))
}

fn script(name: &str) -> EvalOptions {
    let mut options = EvalOptions::default();
    options.strict = true;
    options.filename = Some(name.to_owned());
    options
}
