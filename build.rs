//! Builds the QuickJS guest (`engine-wasm/`, wasm32-wasip1) with its own cargo invocation
//! and hands its path to the host as `VULCAN_GUEST_WASM`, so `cargo build` and `cargo test`
//! need no separate step. The guest has its own target directory under the host's.

use std::env;
use std::path::PathBuf;
use std::process::Command;

/// Variables the nested cargo may see; everything else (the outer build's CARGO_*, RUSTFLAGS,
/// TARGET, jobserver, …) would leak the host build's settings into the guest's.
const KEEP_ENV: [&str; 5] = [
    "PATH",
    "HOME",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
];

fn main() {
    let root =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let guest = root.join("engine-wasm");
    // `wasi/` holds the header forced into QuickJS's build. rquickjs-sys itself rebuilds
    // QuickJS only when its flags change (`CFLAGS_wasm32_wasip1`), not when that header does:
    // after editing it, `cargo clean -p rquickjs-sys` in the guest's target directory.
    for path in [
        "src",
        "vendor",
        "wasi",
        "Cargo.toml",
        "Cargo.lock",
        ".cargo/config.toml",
    ] {
        println!("cargo:rerun-if-changed={}", guest.join(path).display());
    }
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("engine-wasm");

    let mut cargo = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .current_dir(&guest)
        .env_clear()
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip1",
            "--target-dir",
        ])
        .arg(&target_dir);
    for name in KEEP_ENV {
        if let Some(value) = env::var_os(name) {
            cargo.env(name, value);
        }
    }
    let status = cargo.status().expect("running cargo for the wasm guest");
    if !status.success() {
        panic!(
            "building the wasm guest failed ({status}); it needs Debian's clang, lld and \
             wasi-libc and `rustup target add wasm32-wasip1` (`make setup` installs them)"
        );
    }
    let wasm = target_dir.join("wasm32-wasip1/release/vulcan-engine.wasm");
    assert!(wasm.exists(), "the guest build left no {}", wasm.display());
    println!("cargo:rustc-env=VULCAN_GUEST_WASM={}", wasm.display());
}
