//! What the agent does in a host's child process between `fork` and `exec`: join the host's
//! cgroups, die with the agent (an unjailed host only: see `jail.rs`), and install a seccomp
//! filter.
//!
//! The filter makes `kill(2)` fail with `EPERM`. Deno skips its permission check when a
//! program signals its own pid, so without it `Deno.kill(Deno.pid, "SIGKILL")` (or
//! `process.kill(process.pid)`) in a workload would take its host down; the host itself never
//! signals anyone. Installed before `exec`, the filter costs nothing on other calls.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};
use tokio::process::Command;

/// The seccomp filter, compiled once.
#[derive(Clone)]
pub struct Sandbox {
    filter: Arc<BpfProgram>,
}

impl Sandbox {
    pub fn new() -> Result<Sandbox, String> {
        let arch = TargetArch::try_from(std::env::consts::ARCH)
            .map_err(|err| format!("seccomp: unsupported architecture: {err}"))?;
        let rules = BTreeMap::from([(libc::SYS_kill, Vec::new())]);
        let filter = SeccompFilter::new(
            rules,
            SeccompAction::Allow,
            SeccompAction::Errno(libc::EPERM as u32),
            arch,
        )
        .map_err(|err| format!("seccomp: {err}"))?;
        let program: BpfProgram = filter.try_into().map_err(|err| format!("seccomp: {err}"))?;
        Ok(Sandbox {
            filter: Arc::new(program),
        })
    }

    /// Arranges for the child of `command` to write `0` (itself) into each of
    /// `cgroup_procs`, to be SIGKILLed when the agent's spawning thread ends if
    /// `die_with_agent`, and to run under the filter. The files must stay open until the child
    /// is spawned.
    pub fn apply(&self, command: &mut Command, cgroup_procs: &[File], die_with_agent: bool) {
        let filter = Arc::clone(&self.filter);
        let fds: Vec<RawFd> = cgroup_procs.iter().map(AsRawFd::as_raw_fd).collect();
        let agent = std::process::id().cast_signed();
        // SAFETY: the closure runs in the forked child and makes only async-signal-safe
        // system calls (write, prctl, getppid, seccomp) on memory allocated before the fork.
        unsafe {
            command.pre_exec(move || {
                for &fd in &fds {
                    if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                if die_with_agent {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    // An agent that died before the signal was armed never sends it.
                    if libc::getppid() != agent {
                        return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                    }
                }
                seccompiler::apply_filter(&filter).map_err(std::io::Error::other)
            });
        }
    }
}
