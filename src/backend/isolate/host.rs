//! One isolate host process: started in a private directory and its own cgroups (and its
//! jail, when there is one), ready when it prints `{"ready":true,"pid":N}`, drained of stdout
//! and stderr for its whole life, and reaped by a task of its own that also cleans up after
//! it. That task holds the host's stdin: when it ends, or the agent does, the host exits.
//!
//! A jail is killed by its pid 1 (Deno, or bubblewrap's child before it becomes Deno), never
//! by its bubblewrap alone: see `jail.rs`.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdin};
use tokio::sync::{Notify, watch};

use super::cgroup::{Cgroups, HostCgroup};
use super::client::HostClient;
use super::command::HostCommand;
use super::jail::Jail;
use super::sandbox::Sandbox;
use crate::cpu_time;

/// How long a host may take from spawn to its readiness line.
const READY_DEADLINE: Duration = Duration::from_secs(20);
/// How long a reaped host's cgroup may take to empty (its jailed Deno dying), and how often
/// it is checked.
const CGROUP_EMPTY_WAIT: Duration = Duration::from_secs(2);
const CGROUP_POLL: Duration = Duration::from_millis(5);
/// Bytes of the host's stderr kept for error messages.
const STDERR_TAIL_BYTES: usize = 4096;

/// Everything needed to start hosts, shared by all of them.
pub struct Launcher {
    pub command: HostCommand,
    pub sandbox: Sandbox,
    /// `None` when hosts run unjailed (the tier says so in its health detail).
    pub jail: Option<Jail>,
    /// `None` when cgroups cannot be used (the tier says so in its health detail).
    pub cgroups: Option<Cgroups>,
    /// Parent of every host's private directory (0700).
    pub run_dir: PathBuf,
    pub host_memory_bytes: u64,
    pub host_max_pids: u64,
}

/// How a host process ended.
#[derive(Clone, Copy, Debug)]
pub struct Exit {
    pub status: ExitStatus,
    /// The kernel OOM-killed it at its cgroup's memory cap.
    pub oom_killed: bool,
}

pub struct Host {
    pub id: u64,
    /// Deno's pid (in a jail, not that of bubblewrap, which is the child the agent spawned).
    pub pid: u32,
    /// The V8 heap limit of its workers (MiB): each host serves one heap size.
    pub heap_mb: u64,
    /// Frames to its socket.
    pub client: HostClient,
    /// Its memory and pids cgroups (`None` where cgroups cannot be used).
    pub cgroup: Option<Arc<HostCgroup>>,
    exit: watch::Receiver<Option<Exit>>,
    kill: Arc<Notify>,
    /// Set in a jail: killing the jail orphans Deno, whose CPU time then never reaches the
    /// agent's children's total, so it is counted once, on the first kill.
    jailed_cpu_uncounted: AtomicBool,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// True once its stderr has closed (all of it is in `stderr`).
    stderr_closed: watch::Receiver<bool>,
}

#[derive(Deserialize)]
struct Ready {
    ready: bool,
    pid: u32,
}

impl Host {
    /// Starts host `id`, whose workers' heap limit is `heap_mb`, and waits for its readiness
    /// line. `Err` carries the host's stderr.
    pub async fn start(launcher: &Launcher, id: u64, heap_mb: u64) -> Result<Host, String> {
        let dir = launcher.run_dir.join(format!("host-{id}"));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|err| format!("creating {}: {err}", dir.display()))?;
        let socket = HostCommand::socket(&dir)?;
        let cgroup = match &launcher.cgroups {
            Some(cgroups) => Some(Arc::new(
                cgroups
                    .create_host(id, launcher.host_memory_bytes, launcher.host_max_pids)
                    .map_err(|err| format!("creating the cgroups of host {id}: {err}"))?,
            )),
            None => None,
        };
        let mut command = launcher
            .command
            .build(&dir, &socket, heap_mb, launcher.jail.as_ref());
        let procs = match &cgroup {
            Some(cgroup) => cgroup
                .open_procs()
                .map_err(|err| format!("opening the cgroups of host {id}: {err}"))?,
            None => Vec::new(),
        };
        let jailed = launcher.jail.is_some();
        launcher.sandbox.apply(&mut command, &procs, !jailed);
        let spawned = command.spawn();
        drop(procs);
        let mut child = match spawned {
            Ok(child) => child,
            Err(err) => {
                remove_dir(&dir);
                return Err(format!("spawning the isolate host: {err}"));
            }
        };
        let pid = child.id().unwrap_or(0);
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (closed_tx, stderr_closed) = watch::channel(false);
        tokio::spawn(keep_tail(
            child.stderr.take().expect("stderr is piped"),
            Arc::clone(&stderr),
            closed_tx,
        ));
        let kill = Arc::new(Notify::new());
        let (exit_tx, exit) = watch::channel(None);
        tokio::spawn(reap(
            child,
            stdin,
            jailed,
            Arc::clone(&kill),
            exit_tx,
            dir,
            cgroup.clone(),
        ));
        let mut host = Host {
            id,
            pid,
            heap_mb,
            client: HostClient::new(socket),
            cgroup,
            exit,
            kill,
            jailed_cpu_uncounted: AtomicBool::new(false),
            stderr,
            stderr_closed,
        };
        let ready = async {
            if !jailed {
                return host.await_ready(stdout, pid).await;
            }
            // Deno is pid 1 of the jail's pid namespace, and bubblewrap's only child.
            host.await_ready(stdout, 1).await?;
            host.pid = only_child(pid)?;
            host.jailed_cpu_uncounted.store(true, Ordering::Relaxed);
            Ok(())
        };
        match tokio::time::timeout(READY_DEADLINE, ready).await {
            Ok(Ok(())) => Ok(host),
            Ok(Err(reason)) => Err(host.failed_start(&reason).await),
            Err(_) => {
                let reason = format!("not ready within {} s", READY_DEADLINE.as_secs());
                Err(host.failed_start(&reason).await)
            }
        }
    }

    /// Reads the readiness line, which must name `pid`.
    async fn await_ready(
        &self,
        stdout: impl AsyncRead + Unpin + Send + 'static,
        pid: u32,
    ) -> Result<(), String> {
        let mut lines = BufReader::new(stdout);
        let mut line = String::new();
        let read = lines.read_line(&mut line).await;
        match read {
            Ok(0) => return Err("exited before it was ready".into()),
            Err(err) => return Err(format!("reading its stdout: {err}")),
            Ok(_) => {}
        }
        let ready: Ready = serde_json::from_str(&line)
            .map_err(|_| format!("printed {:?} instead of the readiness line", line.trim()))?;
        if !ready.ready || ready.pid != pid {
            return Err(format!("printed a wrong readiness line {:?}", line.trim()));
        }
        // After readiness stdout is noise that a workload can write: drain it, keep nothing.
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut lines, &mut tokio::io::sink()).await;
        });
        Ok(())
    }

    async fn failed_start(&self, reason: &str) -> String {
        self.kill();
        let exit = self.exited().await;
        let status = exit.map_or_else(String::new, |exit| format!(" ({})", exit.status));
        let tail = self.stderr_tail();
        let stderr = if tail.is_empty() {
            String::new()
        } else {
            format!("; its stderr: {tail}")
        };
        format!("the isolate host {reason}{status}{stderr}")
    }

    /// SIGKILLs the process (once it is reaped its directory and cgroups are removed).
    pub fn kill(&self) {
        if self.jailed_cpu_uncounted.swap(false, Ordering::Relaxed) {
            cpu_time::count_orphaned(self.pid);
        }
        self.kill.notify_one();
    }

    /// Waits until the process has ended.
    pub async fn exited(&self) -> Option<Exit> {
        let mut exit = self.exit.clone();
        exit.wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|exit| *exit)
    }

    /// Waits until the host's stderr has closed, so its tail holds its last words (a process
    /// is reaped before the reader has drained the pipe).
    pub async fn stderr_closed(&self) {
        let mut closed = self.stderr_closed.clone();
        let _ = closed.wait_for(|closed| *closed).await;
    }

    /// Resident memory of the process, from `/proc`.
    pub fn rss_bytes(&self) -> Option<u64> {
        self.statm_bytes(1)
    }

    /// Private writable memory the process has committed (`VmData` + stack), from `/proc`:
    /// memory it may use without asking again, touched or not. An `ArrayBuffer` that was
    /// never written to counts here, and not in the resident memory the cgroup caps.
    pub fn committed_bytes(&self) -> Option<u64> {
        self.statm_bytes(5)
    }

    /// Field `field` of `/proc/<pid>/statm`, in bytes.
    fn statm_bytes(&self, field: usize) -> Option<u64> {
        let statm = std::fs::read_to_string(format!("/proc/{}/statm", self.pid)).ok()?;
        let pages: u64 = statm.split_whitespace().nth(field)?.parse().ok()?;
        Some(pages * page_size())
    }

    /// How many of the process's threads run a worker (Deno names them `worker-<id>`). A host
    /// idle with its warm worker has one; more means a thread some workload started (a nested
    /// worker) outlived it.
    pub fn worker_threads(&self) -> usize {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.pid)) else {
            return 0;
        };
        tasks
            .flatten()
            .filter(|task| {
                std::fs::read_to_string(task.path().join("comm"))
                    .is_ok_and(|comm| comm.starts_with("worker-"))
            })
            .count()
    }

    /// Whether the process is stopped by a signal (SIGSTOP, SIGTSTP, …): state `T` in
    /// `/proc/<pid>/stat`.
    pub fn is_stopped(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).is_ok_and(|stat| {
            // `pid (comm) state …`; comm may contain spaces, so split after the last ')'.
            stat.rsplit_once(')')
                .is_some_and(|(_, tail)| tail.trim_start().starts_with('T'))
        })
    }

    /// The last bytes the host wrote to stderr, lossily decoded.
    pub fn stderr_tail(&self) -> String {
        let tail = self.stderr.lock().expect("stderr lock");
        String::from_utf8_lossy(&tail).trim().to_owned()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The children of process `pid`, as `/proc` lists them for its main thread (bubblewrap,
/// whose children these are, has no other).
fn children(pid: u32) -> Result<Vec<u32>, String> {
    let path = format!("/proc/{pid}/task/{pid}/children");
    let text = std::fs::read_to_string(&path).map_err(|err| format!("reading {path}: {err}"))?;
    text.split_whitespace()
        .map(|child| child.parse().map_err(|_| format!("{path} holds {text:?}")))
        .collect()
}

/// The one child of process `pid` (bubblewrap's is the jail's pid 1).
fn only_child(pid: u32) -> Result<u32, String> {
    match children(pid)?[..] {
        [child] => Ok(child),
        ref others => Err(format!("the jail has not one process but {others:?}")),
    }
}

/// SIGKILLs the jail whose bubblewrap is `bwrap`, the agent's child (not yet reaped, so the
/// pid is still its): stops bubblewrap so that it can neither start nor reap a process
/// meanwhile, SIGKILLs its children (the jail's pid 1, whose death ends every process of the
/// jail's pid namespace), then bubblewrap itself.
fn kill_jail(bwrap: u32) {
    let pid = bwrap.cast_signed();
    // SAFETY: kill(2) and waitid(2) on our own child; `info` is written by the kernel only.
    unsafe {
        if libc::kill(pid, libc::SIGSTOP) == 0 {
            // Until it is stopped it may still be in clone(2): wait for the stop (or its exit),
            // leaving the event for tokio's reaper (WNOWAIT).
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let flags = libc::WSTOPPED | libc::WEXITED | libc::WNOWAIT;
            while libc::waitid(libc::P_PID, bwrap, &mut info, flags) != 0
                && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
            {
            }
            for child in children(bwrap).unwrap_or_default() {
                libc::kill(child.cast_signed(), libc::SIGKILL);
            }
        }
        libc::kill(pid, libc::SIGKILL);
    }
}

/// Keeps the last [`STDERR_TAIL_BYTES`] of `stderr` until it closes, then says so.
async fn keep_tail(
    mut stderr: impl AsyncRead + Unpin,
    tail: Arc<Mutex<Vec<u8>>>,
    closed: watch::Sender<bool>,
) {
    let mut buffer = vec![0u8; 8192];
    while let Ok(read) = stderr.read(&mut buffer).await {
        if read == 0 {
            break;
        }
        let mut tail = tail.lock().expect("stderr lock");
        tail.extend_from_slice(&buffer[..read]);
        let excess = tail.len().saturating_sub(STDERR_TAIL_BYTES);
        tail.drain(..excess);
    }
    closed.send_replace(true);
}

/// Waits for the process (killing it, or its jail, when asked), publishes how it ended, then
/// removes its directory (and lets go of its cgroups, see `cgroup.rs`). Holds the host's `stdin` until then: the host exits when
/// it closes, also when this task is dropped with its runtime.
async fn reap(
    mut child: Child,
    stdin: ChildStdin,
    jailed: bool,
    kill: Arc<Notify>,
    exit_tx: watch::Sender<Option<Exit>>,
    dir: PathBuf,
    cgroup: Option<Arc<HostCgroup>>,
) {
    let status = tokio::select! {
        status = child.wait() => status,
        () = kill.notified() => {
            match child.id() {
                Some(pid) if jailed => {
                    let _ = tokio::task::spawn_blocking(move || kill_jail(pid)).await;
                }
                _ => {
                    let _ = child.start_kill();
                }
            }
            child.wait().await
        }
    };
    drop(stdin);
    let Ok(status) = status else {
        tracing::error!("lost track of an isolate host process");
        return;
    };
    if let Some(cgroup) = &cgroup {
        // The process reaped may be the jail, whose Deno is killed as it goes: wait for the
        // cgroup to empty, or it cannot be removed.
        let mut waited = Duration::ZERO;
        while !cgroup.is_empty() && waited < CGROUP_EMPTY_WAIT {
            tokio::time::sleep(CGROUP_POLL).await;
            waited += CGROUP_POLL;
        }
    }
    let oom_killed = cgroup.as_ref().is_some_and(|cgroup| cgroup.oom_kills() > 0);
    drop(cgroup);
    remove_dir(&dir);
    let _ = exit_tx.send(Some(Exit { status, oom_killed }));
}

fn remove_dir(dir: &Path) {
    if let Err(err) = std::fs::remove_dir_all(dir) {
        tracing::warn!(dir = %dir.display(), error = %err, "could not remove a host directory");
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096)
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::process::Stdio;

    use super::{kill_jail, only_child};
    use crate::backend::isolate::jail::eval_in_test_jail;

    /// Starts a second Deno (a process of the jail that is not its pid 1), prints its pid as
    /// the jail sees it, then idles.
    const TWO_PROCESSES: &str = r#"
        const child = new Deno.Command(Deno.execPath(), {
            args: ["eval", "setInterval(() => {}, 1000)"],
            stdin: "null", stdout: "null", stderr: "null",
        }).spawn();
        console.log(child.pid);
        setInterval(() => {}, 1000);
    "#;

    /// bubblewrap, killed with its jail should the test fail before it has ended it.
    struct Bwrap(std::process::Child);

    impl Drop for Bwrap {
        fn drop(&mut self) {
            // `Some` once waited for: its pid may then be another process's.
            if let Ok(None) = self.0.try_wait() {
                kill_jail(self.0.id());
                let _ = self.0.wait();
            }
        }
    }

    /// A pidfd for `pid`: readable once the process has exited.
    fn pidfd(pid: u32) -> OwnedFd {
        // SAFETY: pidfd_open(2) returns a new descriptor that nothing else owns, or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        assert!(
            fd >= 0,
            "pidfd_open({pid}): {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: see above; the descriptor is ours alone.
        unsafe { OwnedFd::from_raw_fd(fd as i32) }
    }

    /// Whether the process behind `fd` exits within `timeout_ms`.
    fn exits_within(fd: &OwnedFd, timeout_ms: i32) -> bool {
        let mut poll = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut poll, 1, timeout_ms) == 1 }
    }

    /// Every child of every thread of `pid` (Deno starts processes from several threads).
    fn all_children(pid: u32) -> Vec<u32> {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
        tasks
            .flat_map(|task| {
                let path = task.unwrap().path().join("children");
                let text = std::fs::read_to_string(path).unwrap_or_default();
                text.split_whitespace()
                    .map(|child| child.parse().unwrap())
                    .collect::<Vec<u32>>()
            })
            .collect()
    }

    #[test]
    fn killing_a_jail_ends_bubblewrap_and_every_process_in_it() {
        let dir = tempfile::tempdir().unwrap();
        let (_, mut command) = eval_in_test_jail(dir.path(), TWO_PROCESSES);
        let mut bwrap = Bwrap(command.stdout(Stdio::piped()).spawn().unwrap());
        let mut line = String::new();
        BufReader::new(bwrap.0.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            line.trim().parse::<u32>().is_ok(),
            "no child started: {line:?}"
        );
        let pid_1 = only_child(bwrap.0.id()).unwrap();
        let [second] = all_children(pid_1)[..] else {
            panic!(
                "the jail's pid 1 has not one child: {:?}",
                all_children(pid_1)
            );
        };
        let jailed = [pidfd(pid_1), pidfd(second)];
        assert!(jailed.iter().all(|fd| !exits_within(fd, 0)), "both run");

        kill_jail(bwrap.0.id());
        let ended = jailed
            .iter()
            .map(|fd| exits_within(fd, 10_000))
            .collect::<Vec<_>>();
        if ended != [true, true] {
            for pid in [pid_1, second] {
                // SAFETY: kill(2); the test's own leftovers.
                unsafe { libc::kill(pid.cast_signed(), libc::SIGKILL) };
            }
        }
        assert_eq!(ended, [true, true], "the jail's pid 1 and its child exit");
        let status = bwrap.0.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGKILL),
            "{status}"
        );
    }
}
