//! `vulcan run FILE` against a real server: output on stdout, exit code by outcome.

mod common;

use std::process::Command;

use common::shared;

fn vulcan_run(file: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vulcan"))
        .arg("run")
        .arg(file)
        .args(["--server", &shared().url("")])
        .args(extra)
        .output()
        .expect("running vulcan")
}

#[test]
fn run_prints_the_output_and_exits_zero_on_success() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("double.ts");
    std::fs::write(
        &file,
        "export default (x: number): number => { console.log('doubling', x); return x * 2; };",
    )
    .unwrap();
    let out = vulcan_run(&file, &["--input", "21", "--isolation", "wasm"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42");
    assert!(String::from_utf8_lossy(&out.stderr).contains("[log] doubling 21"));
}

#[test]
fn run_exits_one_when_the_workload_fails() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("throws.js");
    std::fs::write(
        &file,
        "export default () => {\n  throw new Error('nope');\n};",
    )
    .unwrap();
    let out = vulcan_run(&file, &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error on isolate: Error: nope at 2:"),
        "{stderr}"
    );
}

#[test]
fn run_exits_two_when_the_server_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ok.js");
    std::fs::write(&file, "export default () => 1;").unwrap();
    let out = vulcan_run(&file, &["--isolation", "isolate", "--fuel", "10"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("400"));
}
