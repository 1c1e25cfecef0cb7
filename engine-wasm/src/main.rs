//! vulcan-engine: the wasm guest that runs one JavaScript workload per instance in QuickJS.
//!
//! The host pre-initialises the module with Wizer (`wizer.initialize` builds the engine,
//! which the snapshot then carries), then runs `_start` once: one request on stdin, one
//! response on stdout (see `protocol`), exit code 0 whatever the workload did.
//!
//! # Layout
//! - `protocol`: the request and the response, each a JSON header line and raw text.
//! - `engine`: the QuickJS runtime and context with the prelude installed, built once.
//! - `prelude.js`: the workload's globals (console, virtual timers, seeded `Math.random`).
//! - `atomics.js`: `Atomics` for the one-threaded guest; `temporal.js`: `Temporal` from the
//!   vendored polyfill (`vendor/temporal-polyfill/`), compiled into the snapshot, run on first
//!   access.
//! - `run`: one workload: evaluate, check the contract, settle, serialise.
//! - `console`: the bounded sink behind `console.*`.
//! - `failure`: thrown values as the error the host reports.
//! - `text`: JavaScript strings to Rust strings.
//!
//! # Building
//! `cargo build --release` here gives `target/wasm32-wasip1/release/vulcan-engine.wasm`
//! (Debian's clang and wasi-libc; see .cargo/config.toml and wasi/). The same crate runs
//! natively for testing: `cargo run --release --target x86_64-unknown-linux-gnu < request`.
//!
//! # What the host must provide
//! - WASI preview 1 during `wizer.initialize` too (QuickJS reads the clock and Rust's
//!   `HashMap` the random source while the context is built), and Wizer's bulk-memory
//!   support.
//! - A native wasm stack of at least 24 MiB (`max_wasm_stack`, and a host thread or async
//!   stack to match), so deep recursion ends in a JavaScript `RangeError`; see
//!   `engine::JS_MAX_STACK_BYTES`.

mod console;
mod engine;
mod failure;
mod protocol;
mod run;
mod text;

use std::io::{self, Read, Write};
use std::process::ExitCode;

use protocol::{ErrorInfo, Outcome, Request, Response};

/// Wizer's pre-initialisation entry point: builds the engine before the snapshot.
#[unsafe(export_name = "wizer.initialize")]
pub extern "C" fn wizer_initialize() {
    engine::engine();
}

fn main() -> ExitCode {
    let response = match read_request() {
        Ok(request) => run::run(&request),
        Err(error) => Response {
            outcome: Outcome::Error {
                error: ErrorInfo::new("ProtocolError", format!("invalid request: {error}")),
            },
            logs: Vec::new(),
            logs_truncated: false,
        },
    };
    match write_response(&response) {
        Ok(()) => ExitCode::SUCCESS,
        // The host's pipe is gone or full: there is no one left to tell.
        Err(_) => ExitCode::FAILURE,
    }
}

fn read_request() -> Result<Request, String> {
    let mut bytes = Vec::new();
    io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|error| error.to_string())?;
    Request::parse(bytes)
}

fn write_response(response: &Response) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    response.write_to(&mut stdout)?;
    stdout.flush()
}
