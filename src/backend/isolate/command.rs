//! The command line of one isolate host, as `isolate-host/README.md` gives it: the built host
//! (`dist/host.js`), an empty environment, a private working directory, no permission beyond
//! serving the host's own socket, nothing fetched at run time. Its stdin is a pipe
//! whose other end only the agent holds: the host exits when it reaches end of file, that is
//! when the agent is gone, however it went (`--exit-on-stdin-eof`).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

use super::jail::Jail;

/// Where the pinned Deno binary is, relative to `isolate-host/` (installed by `npm ci`).
const DENO: &str = "node_modules/@deno/linux-x64-glibc/deno";
/// The host program, bundled with its workers' runtime, relative to `isolate-host/` (built by
/// `npm run build`).
pub const HOST_PROGRAM: &str = "dist/host.js";
/// Unix socket paths are limited to 108 bytes, terminator included.
const MAX_SOCKET_PATH: usize = 107;

#[derive(Clone, Debug)]
pub struct HostCommand {
    deno: PathBuf,
    host_dir: PathBuf,
}

impl HostCommand {
    /// Checks that the host program and its Deno are where they should be.
    pub fn new(host_dir: &Path) -> Result<Self, String> {
        let host_dir = host_dir
            .canonicalize()
            .map_err(|err| format!("isolate host directory {}: {err}", host_dir.display()))?;
        let deno = host_dir.join(DENO);
        if !deno.is_file() {
            return Err(format!(
                "Deno not found at {} (run `make setup`, or `npm ci` in {})",
                deno.display(),
                host_dir.display()
            ));
        }
        let program = host_dir.join(HOST_PROGRAM);
        if !program.is_file() {
            return Err(format!(
                "the host program {} is not built (run `make setup`, or `npm run build` in {})",
                program.display(),
                host_dir.display()
            ));
        }
        Ok(HostCommand { deno, host_dir })
    }

    /// The socket a host started in `dir` serves on.
    pub fn socket(dir: &Path) -> Result<PathBuf, String> {
        let socket = dir.join("host.sock");
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(format!(
                "socket path {} is longer than {MAX_SOCKET_PATH} bytes",
                socket.display()
            ));
        }
        Ok(socket)
    }

    /// Where the Deno binary is.
    pub fn deno(&self) -> &Path {
        &self.deno
    }

    /// Where the host program is.
    pub fn host_dir(&self) -> &Path {
        &self.host_dir
    }

    /// The command for a host whose private directory is `dir` (0700, created by the caller),
    /// whose workers' heap limit is `heap_mb`, in `jail` when there is one. Dropping the child
    /// kills an unjailed host; a jailed one exits on its own (see `jail.rs` for why nothing may
    /// kill bubblewrap first).
    pub fn build(&self, dir: &Path, socket: &Path, heap_mb: u64, jail: Option<&Jail>) -> Command {
        let host = &self.host_dir;
        let socket_text = socket.display();
        let mut command = match jail {
            Some(jail) => {
                let mut command = Command::new(jail.program());
                command.args(jail.args(dir)).arg("--").arg(&self.deno);
                command
            }
            None => Command::new(&self.deno),
        };
        command
            .env_clear()
            .env("DENO_DIR", dir.join("deno"))
            .env("DENO_CACHE_DB_MODE", "memory")
            .env("DENO_EMIT_CACHE_MODE", "disable")
            .env("DENO_NO_UPDATE_CHECK", "1")
            .env("DENO_NO_PACKAGE_JSON", "1")
            .env("NO_COLOR", "1")
            .current_dir(dir)
            .args([
                "run",
                "--no-prompt",
                "--no-remote",
                "--no-npm",
                "--no-config",
                "--no-lock",
                "--no-code-cache",
                "--unstable-worker-options",
            ])
            // Web Workers take no heap limit of their own: V8's flag sets every isolate's.
            .arg(format!("--v8-flags=--max-old-space-size={heap_mb}"))
            .arg(format!("--allow-read={socket_text}"))
            .arg(format!("--allow-write={socket_text}"))
            .arg(format!("--allow-net=unix:{socket_text}"))
            .arg(host.join(HOST_PROGRAM))
            .arg("--socket")
            .arg(socket)
            .arg("--exit-on-stdin-eof")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(jail.is_none());
        command
    }
}
