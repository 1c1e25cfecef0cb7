//! One workload, start to finish: evaluate the module, check the contract, call the default
//! export, drive microtasks and virtual timers until its result settles, and serialise it.
//!
//! There is no real event loop: after each round of microtasks, if the awaited promise is
//! still pending, the earliest virtual timer fires at once; when none is left the workload
//! can never finish and fails with a `ContractError`.

use rquickjs::{Ctx, Function, Module, Object, Promise, Value, qjs};

use crate::engine::engine;
use crate::failure::caught;
use crate::protocol::{ErrorInfo, Outcome, Request, Response};
use crate::text::to_string_lossy;

/// The module name the user's code is evaluated under; stack traces and positions use it.
pub const MODULE_NAME: &str = "workload.js";

/// Seeds are integers below 2^53, so that they are exact as JavaScript numbers.
const SEED_MASK: u64 = (1 << 53) - 1;

pub fn run(request: &Request) -> Response {
    let engine = engine();
    engine
        .logs
        .borrow_mut()
        .limit(request.header.max_log_bytes, request.header.max_log_lines);
    let outcome = engine.context.with(|ctx| {
        // QuickJS measures its stack limit from where the runtime was created, which may
        // have been another call (Wizer's); measure it from here instead.
        // SAFETY: the runtime is alive and locked by `with`.
        unsafe { qjs::JS_UpdateStackTop(qjs::JS_GetRuntime(ctx.as_raw().as_ptr())) };
        let hooks = engine.hooks.clone().restore(&ctx);
        hooks
            .map_err(|error| caught(&ctx, error))
            .and_then(|hooks| execute(&ctx, &hooks, request))
            .unwrap_or_else(|error| Outcome::Error { error })
    });
    let (logs, logs_truncated) = engine.logs.borrow_mut().take();
    Response {
        outcome,
        logs,
        logs_truncated,
    }
}

fn execute<'js>(
    ctx: &Ctx<'js>,
    hooks: &Object<'js>,
    request: &Request,
) -> Result<Outcome, ErrorInfo> {
    let fail = |error| caught(ctx, error);
    let reseed: Function = hooks.get("reseed").map_err(fail)?;
    reseed
        .call::<_, ()>(((request.header.seed & SEED_MASK) as f64,))
        .map_err(fail)?;

    let module = Module::declare(ctx.clone(), MODULE_NAME, request.code.as_str()).map_err(fail)?;
    let (module, evaluated) = module.eval().map_err(fail)?;
    settle(
        ctx,
        hooks,
        evaluated,
        "module top-level await never settled",
    )?;

    let namespace = module.namespace().map_err(fail)?;
    if !namespace.contains_key("default").map_err(fail)? {
        return Err(contract("module has no default export"));
    }
    let export: Value = namespace.get("default").map_err(fail)?;
    let Some(function) = export.as_function() else {
        let type_of: Function = hooks.get("typeOf").map_err(fail)?;
        let kind: String = type_of.call((export,)).map_err(fail)?;
        return Err(contract(format!(
            "default export is not a function (got {kind})"
        )));
    };

    let input = ctx.json_parse(request.input.as_str()).map_err(fail)?;
    let returned: Value = function.call((input,)).map_err(fail)?;
    let resolve: Function = hooks.get("resolve").map_err(fail)?;
    let promise: Promise = resolve.call((returned,)).map_err(fail)?;
    let value = settle(
        ctx,
        hooks,
        promise,
        "default export returned a promise that never settled",
    )?;
    serialise(ctx, value, request.header.max_output_bytes)
}

/// Runs microtasks and fires virtual timers until `promise` settles.
fn settle<'js>(
    ctx: &Ctx<'js>,
    hooks: &Object<'js>,
    promise: Promise<'js>,
    stalled: &str,
) -> Result<Value<'js>, ErrorInfo> {
    let fail = |error| caught(ctx, error);
    let fire_next_timer: Function = hooks.get("fireNextTimer").map_err(fail)?;
    loop {
        run_jobs(ctx).map_err(fail)?;
        if let Some(settled) = promise.result::<Value>() {
            return settled.map_err(fail);
        }
        if !fire_next_timer.call::<_, bool>(()).map_err(fail)? {
            return Err(contract(stalled));
        }
    }
}

/// Runs every pending job (microtask). A job that throws fails the workload; its exception
/// is left pending on `ctx`, the runtime's only context.
fn run_jobs(ctx: &Ctx<'_>) -> rquickjs::Result<()> {
    // SAFETY: the runtime is alive and locked by the caller's `with`.
    let runtime = unsafe { qjs::JS_GetRuntime(ctx.as_raw().as_ptr()) };
    loop {
        let mut job_ctx = std::ptr::null_mut();
        // SAFETY: as above; `job_ctx` receives the context the job ran in.
        match unsafe { qjs::JS_ExecutePendingJob(runtime, &mut job_ctx) } {
            0 => return Ok(()),
            ran if ran < 0 => return Err(rquickjs::Error::Exception),
            _ => {}
        }
    }
}

/// `JSON.stringify`s the result inside QuickJS (`undefined` becomes `null`) and checks it
/// against the output cap.
fn serialise<'js>(
    ctx: &Ctx<'js>,
    value: Value<'js>,
    max_output_bytes: usize,
) -> Result<Outcome, ErrorInfo> {
    let json = match ctx.json_stringify(value) {
        Ok(Some(json)) => to_string_lossy(json.as_value()).unwrap_or_default(),
        Ok(None) => "null".to_owned(),
        Err(error) => {
            let inner = caught(ctx, error);
            // Running out of memory is the engine's failure, not the value's.
            if inner.name == "InternalError" {
                return Err(inner);
            }
            return Err(ErrorInfo::new(
                "OutputError",
                format!("output is not JSON-serialisable: {}", inner.message),
            ));
        }
    };
    if json.len() > max_output_bytes {
        return Ok(Outcome::OutputLimit {
            output_bytes: json.len(),
        });
    }
    // QuickJS's own JSON text; the host checks it once, as it does everything it reads back.
    Ok(Outcome::Succeeded { output: json })
}

fn contract(message: impl Into<String>) -> ErrorInfo {
    ErrorInfo::new("ContractError", message)
}
