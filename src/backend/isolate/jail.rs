//! The jail each isolate host runs in, with Debian's bubblewrap: defence in depth should a
//! workload escape V8 and Deno's permission checks.
//!
//! Inside, the host sees a read-only root holding only its Deno binary and the libraries it
//! links, its own program (`dist/host.js`), a private `/proc`, a minimal `/dev`
//! and its run directory (read-write: its socket lives there); a network namespace with only
//! an unconfigured loopback; its own pid, IPC, UTS, user and cgroup namespaces, with no
//! capabilities and no way to make more user namespaces. Deno runs as pid 1 of its
//! namespace (`--as-pid-1`), so Deno is bubblewrap's only child: the agent reads its pid
//! from `/proc` after the readiness line and watches it for memory and for being stopped.
//!
//! Cgroups and the seccomp filter are applied to bubblewrap before it starts and are inherited
//! by Deno.
//!
//! No parent-death signal, neither the agent's nor bubblewrap's `--die-with-parent`: bubblewrap's
//! child, which becomes Deno, arms its own only just before `exec`, and until bubblewrap has set
//! it going it waits on an eventfd. A bubblewrap killed in those first milliseconds (measured
//! here: from about 1 to 30 ms after the spawn) strands its child, for good, as pid 1 of the
//! jail's pid namespace (which ignores SIGTERM), or lets it start Deno with no parent to die with
//! (bubblewrap issue #633). So nothing kills bubblewrap before its child: a jail ends by its Deno
//! exiting when its stdin (whose other end only the agent holds) reaches end of file, or by the
//! agent killing the jail's pid 1 (`host.rs`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::ValueEnum;
use serde::Serialize;

/// Where Debian installs bubblewrap. Hosts start with an empty environment, so no `PATH`.
const BWRAP: &str = "/usr/bin/bwrap";

/// Whether hosts run jailed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum JailMode {
    /// In bubblewrap when it works here; otherwise unjailed, said loudly in the log and in
    /// the tier's health detail.
    #[default]
    Auto,
    /// In bubblewrap, or the tier does not start.
    Required,
    /// Never jailed.
    Off,
}

#[derive(Clone, Debug)]
pub struct Jail {
    /// Read-only binds: Deno, its libraries, the host's program.
    read_only: Vec<PathBuf>,
}

impl Jail {
    /// A jail for the Deno binary `deno` running the host program in `host_dir`, checked by
    /// starting `deno --version` in it with `run_dir` as its writable directory.
    pub fn detect(deno: &Path, host_dir: &Path, run_dir: &Path) -> Result<Jail, String> {
        if !Path::new(BWRAP).is_file() {
            return Err(format!(
                "{BWRAP} not found (Debian package bubblewrap; `make setup` installs it)"
            ));
        }
        let mut read_only = linked_libraries(deno)?;
        read_only.push(deno.to_path_buf());
        read_only.push(host_dir.join(super::command::HOST_PROGRAM));
        let jail = Jail { read_only };
        let output = Command::new(BWRAP)
            .args(jail.args(run_dir))
            .arg("--")
            .arg(deno)
            .arg("--version")
            .env_clear()
            .output()
            .map_err(|err| format!("running {BWRAP}: {err}"))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() || !stdout.starts_with("deno ") {
            return Err(format!(
                "bubblewrap cannot start Deno here ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(jail)
    }

    /// The program to run instead of Deno.
    pub fn program(&self) -> &'static str {
        BWRAP
    }

    /// bubblewrap's arguments for a host whose private directory is `dir`, up to (not
    /// including) the `--` before Deno's command line. Deno's environment passes through.
    pub fn args(&self, dir: &Path) -> Vec<OsString> {
        let mut args: Vec<OsString> = [
            "--unshare-user",
            "--disable-userns",
            "--unshare-ipc",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-uts",
            "--unshare-cgroup",
            "--new-session",
            "--cap-drop",
            "ALL",
            "--as-pid-1",
        ]
        .map(OsString::from)
        .into();
        for path in &self.read_only {
            args.extend(["--ro-bind".into(), path.into(), path.into()]);
        }
        args.extend(["--bind".into(), dir.into(), dir.into()]);
        args.extend(["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/"].map(OsString::from));
        args.extend(["--chdir".into(), dir.into()]);
        args
    }
}

/// A jail for this checkout's host program with `dir` as its run directory, and a command
/// running `script` in it with `deno eval --allow-all`: how tests put code of their own in it.
#[cfg(test)]
pub(super) fn eval_in_test_jail(dir: &Path, script: &str) -> (Jail, Command) {
    let host_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("isolate-host");
    let deno = host_dir.join("node_modules/@deno/linux-x64-glibc/deno");
    let jail = Jail::detect(&deno, &host_dir, dir)
        .unwrap_or_else(|reason| panic!("the jail must work on this machine: {reason}"));
    let mut command = Command::new(jail.program());
    command
        .args(jail.args(dir))
        .arg("--")
        .arg(&deno)
        .args(["eval", "--allow-all", script])
        .env_clear()
        .env("DENO_DIR", dir.join("deno"))
        .env("NO_COLOR", "1");
    (jail, command)
}

/// The shared libraries `binary` links (and its dynamic loader), as `ldd` lists them.
fn linked_libraries(binary: &Path) -> Result<Vec<PathBuf>, String> {
    let output = Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|err| format!("running ldd: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "ldd {}: {}",
            binary.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(parse_ldd(&String::from_utf8_lossy(&output.stdout)))
}

/// Paths in `ldd` output: `libc.so.6 => /lib/…/libc.so.6 (0x…)` and `/lib64/ld-….so.2 (0x…)`;
/// `linux-vdso.so.1 (0x…)` has none.
fn parse_ldd(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|line| {
            let target = line.split_once("=>").map_or(line, |(_, target)| target);
            let path = target.split_whitespace().next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a program with every Deno permission sees and reaches from inside the jail.
    const PROBE: &str = r#"
        // An OS error's message up to its first colon, e.g. "Read-only file system (os error 30)".
        const attempt = (what) => {
            try { return String(what()); } catch (err) { return err.message.split(":")[0]; }
        };
        const port = Number(Deno.args[0]);
        const connect = await Deno.connect({ hostname: "127.0.0.1", port })
            .then(() => "connected", (err) => err.name);
        console.log(JSON.stringify({
            root: [...Deno.readDirSync("/")].map((entry) => entry.name).sort(),
            passwd: attempt(() => Deno.readTextFileSync("/etc/passwd").length),
            write: attempt(() => Deno.writeTextFileSync("/tmp/escape", "x")),
            connect,
            pid: Deno.pid,
        }));
    "#;

    #[test]
    fn a_jailed_deno_with_every_permission_sees_and_reaches_almost_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (jail, mut probe) = eval_in_test_jail(dir.path(), PROBE);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port().to_string();
        let output = probe.arg(&port).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        let seen: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        // The root holds the top directories of the binds, `/dev` and `/proc`: nothing else.
        let mut root: Vec<String> = jail
            .read_only
            .iter()
            .map(PathBuf::as_path)
            .chain([dir.path()])
            .filter_map(|path| path.components().nth(1))
            .map(|top| top.as_os_str().to_string_lossy().into_owned())
            .chain(["dev".into(), "proc".into()])
            .collect();
        root.sort();
        root.dedup();
        assert!(!root.contains(&"etc".to_owned()) && !root.contains(&"root".to_owned()));
        assert_eq!(
            seen,
            serde_json::json!({
                "root": root,
                "passwd": "No such file or directory (os error 2)",
                "write": "Read-only file system (os error 30)",
                "connect": "ConnectionRefused",
                "pid": 1,
            }),
            "{stderr}"
        );
    }

    #[test]
    fn ldd_output_gives_every_library_path_and_the_loader() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                    \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\
                    \tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f)\n\
                    \t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        assert_eq!(
            parse_ldd(text),
            [
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib/x86_64-linux-gnu/libm.so.6",
                "/lib64/ld-linux-x86-64.so.2"
            ]
            .map(PathBuf::from)
        );
    }
}
