//! A memory and a pids cgroup per isolate host. V8's heap limit does not bound off-heap
//! memory (`ArrayBuffer`, `WebAssembly.Memory`) nor a workload's threads, so each host process
//! runs in cgroups of its own: the kernel stops it at the memory cap (an OOM kill the supervisor
//! reads back as `memory_limit`) and at the thread cap.
//!
//! A host runs one workload at a time, so its memory cgroup measures that workload exactly: for
//! the workload's run the cap is lowered to what the host holds just before it plus the
//! workload's `memory_mb` ([`HostCgroup::cap_for_workload`]), the peak is read afterwards, and
//! the host's own cap is given back before its next worker is made.
//!
//! Both layouts are supported: cgroup v1 (the `memory` and `pids` hierarchies, as on these
//! machines) and v2 (a unified hierarchy offering both controllers). [`Cgroups::detect`] checks
//! once at start; when neither works the tier runs without these caps and says so.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const V1_ROOT: &str = "/sys/fs/cgroup";
const V2_MOUNTS: [&str; 2] = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"];
/// How long a sweep waits for the processes it killed to leave their cgroup, and how often it
/// looks (the kernel tells no one when a cgroup empties in v1).
const SWEEP_WAIT: Duration = Duration::from_secs(2);
const SWEEP_POLL: Duration = Duration::from_millis(5);

/// The agent's own cgroup directories, under which each host gets one of its own.
#[derive(Debug)]
pub struct Cgroups {
    layout: Layout,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Layout {
    V1 { memory: PathBuf, pids: PathBuf },
    V2 { dir: PathBuf },
}

/// The cgroup(s) of one host process.
#[derive(Debug)]
pub struct HostCgroup {
    layout: Layout,
    /// The host's own memory cap, given back after each workload.
    memory_bytes: u64,
}

/// A workload's memory measurement, begun by [`HostCgroup::cap_for_workload`].
pub struct WorkloadMemory {
    /// What the host held when the workload started.
    pub baseline_bytes: u64,
    /// v2 only: `memory.peak`, opened and reset for this workload (its peak is per descriptor).
    peak: Option<File>,
}

impl Cgroups {
    /// Finds a usable layout and creates `tag` below the agent's own cgroups.
    /// `Err` says why the caps cannot be enforced.
    pub fn detect(tag: &str) -> Result<Cgroups, String> {
        let membership = fs::read_to_string("/proc/self/cgroup")
            .map_err(|err| format!("cannot read /proc/self/cgroup: {err}"))?;
        let v1 = v1_layout(&membership, tag);
        let v2 = || v2_layout(&membership, tag);
        let layout = match v1 {
            Ok(layout) => layout,
            Err(v1_reason) => v2().map_err(|v2_reason| format!("{v1_reason}; {v2_reason}"))?,
        };
        Ok(Cgroups { layout })
    }

    /// A short description for logs and `/v1/backends`.
    pub fn describe(&self) -> String {
        match &self.layout {
            Layout::V1 { memory, .. } => {
                format!("cgroup v1 (memory, pids) at {}", memory.display())
            }
            Layout::V2 { dir } => format!("cgroup v2 (memory, pids) at {}", dir.display()),
        }
    }

    /// Creates the cgroups of host `id` with its caps.
    pub fn create_host(&self, id: u64, memory_bytes: u64, max_pids: u64) -> io::Result<HostCgroup> {
        let name = format!("host-{id}");
        let layout = match &self.layout {
            Layout::V1 { memory, pids } => {
                let (memory, pids) = (memory.join(&name), pids.join(&name));
                create_dir(&memory)?;
                create_dir(&pids)?;
                fs::write(
                    memory.join("memory.limit_in_bytes"),
                    memory_bytes.to_string(),
                )?;
                // Only present with swap accounting; equal caps mean no swapping past the cap.
                let _ = fs::write(
                    memory.join("memory.memsw.limit_in_bytes"),
                    memory_bytes.to_string(),
                );
                fs::write(pids.join("pids.max"), max_pids.to_string())?;
                Layout::V1 { memory, pids }
            }
            Layout::V2 { dir } => {
                let dir = dir.join(&name);
                create_dir(&dir)?;
                fs::write(dir.join("memory.max"), memory_bytes.to_string())?;
                let _ = fs::write(dir.join("memory.swap.max"), "0");
                fs::write(dir.join("pids.max"), max_pids.to_string())?;
                Layout::V2 { dir }
            }
        };
        Ok(HostCgroup {
            layout,
            memory_bytes,
        })
    }

    /// Removes the agent's directories (after every host cgroup is gone).
    pub fn remove(&self) {
        for dir in self.layout.dirs() {
            let _ = fs::remove_dir(dir);
        }
    }
}

impl HostCgroup {
    /// The `cgroup.procs` files, opened by the agent; the child writes `0` (itself) to each
    /// before it executes Deno, so nothing of the host runs outside its cgroups.
    pub fn open_procs(&self) -> io::Result<Vec<File>> {
        self.layout
            .dirs()
            .iter()
            .map(|dir| {
                OpenOptions::new()
                    .write(true)
                    .open(dir.join("cgroup.procs"))
            })
            .collect()
    }

    /// Lowers the memory cap to what the host holds now plus `workload_bytes`, and starts
    /// measuring the workload's peak.
    pub fn cap_for_workload(&self, workload_bytes: u64) -> io::Result<WorkloadMemory> {
        let (usage, peak) = match &self.layout {
            Layout::V1 { memory, .. } => {
                // Writing resets the high-water mark to the current usage.
                fs::write(memory.join("memory.max_usage_in_bytes"), "0")?;
                (read_number(&memory.join("memory.usage_in_bytes"))?, None)
            }
            Layout::V2 { dir } => {
                let mut peak = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(dir.join("memory.peak"))?;
                // A write resets the peak seen through this descriptor (Linux 6.12 and later).
                peak.write_all(b"reset\n")?;
                (read_number(&dir.join("memory.current"))?, Some(peak))
            }
        };
        let cap = usage.saturating_add(workload_bytes).min(self.memory_bytes);
        self.write_memory_cap(cap)?;
        Ok(WorkloadMemory {
            baseline_bytes: usage,
            peak,
        })
    }

    /// The most the host held during the workload measured by `memory`.
    pub fn peak_bytes(&self, memory: &mut WorkloadMemory) -> io::Result<u64> {
        match (&self.layout, &mut memory.peak) {
            (Layout::V1 { memory, .. }, _) => {
                read_number(&memory.join("memory.max_usage_in_bytes"))
            }
            (Layout::V2 { .. }, Some(peak)) => {
                let mut text = String::new();
                peak.seek(SeekFrom::Start(0))?;
                peak.read_to_string(&mut text)?;
                parse_number(&text)
            }
            (Layout::V2 { .. }, None) => Err(io::Error::other("no peak measured")),
        }
    }

    /// CPU time the host's processes have used, in microseconds (cgroup v2 only).
    pub fn cpu_usec(&self) -> Option<u64> {
        match &self.layout {
            Layout::V1 { .. } => None,
            Layout::V2 { dir } => fs::read_to_string(dir.join("cpu.stat"))
                .ok()
                .and_then(|text| counter(&text, "usage_usec")),
        }
    }

    /// Gives the host its own memory cap back (after a workload, before its next worker).
    pub fn restore_cap(&self) -> io::Result<()> {
        self.write_memory_cap(self.memory_bytes)
    }

    fn write_memory_cap(&self, bytes: u64) -> io::Result<()> {
        let file = match &self.layout {
            Layout::V1 { memory, .. } => memory.join("memory.limit_in_bytes"),
            Layout::V2 { dir } => dir.join("memory.max"),
        };
        fs::write(file, bytes.to_string())
    }

    /// How many times the kernel OOM-killed a process of this cgroup.
    pub fn oom_kills(&self) -> u64 {
        let (file, key) = match &self.layout {
            Layout::V1 { memory, .. } => (memory.join("memory.oom_control"), "oom_kill"),
            Layout::V2 { dir } => (dir.join("memory.events"), "oom_kill"),
        };
        fs::read_to_string(file)
            .ok()
            .and_then(|text| counter(&text, key))
            .unwrap_or(0)
    }

    /// Whether no process is left in the cgroups (a jailed Deno dies just after its jail).
    pub fn is_empty(&self) -> bool {
        self.layout.dirs().iter().all(|dir| {
            fs::read_to_string(dir.join("cgroup.procs"))
                .map_or(true, |procs| procs.trim().is_empty())
        })
    }
}

/// The cgroups go with the last holder of the host's: its reaper, once the cgroups are empty,
/// or the host itself, once nothing reads its last workload's peak any more.
impl Drop for HostCgroup {
    fn drop(&mut self) {
        for dir in self.layout.dirs() {
            if let Err(err) = fs::remove_dir(dir) {
                tracing::warn!(dir = %dir.display(), error = %err, "could not remove a host cgroup");
            }
        }
    }
}

impl Layout {
    fn dirs(&self) -> Vec<&Path> {
        match self {
            Layout::V1 { memory, pids } => vec![memory, pids],
            Layout::V2 { dir } => vec![dir],
        }
    }
}

fn v1_layout(membership: &str, tag: &str) -> Result<Layout, String> {
    let own = |controller: &str| -> Result<PathBuf, String> {
        let path = membership
            .lines()
            .find_map(|line| {
                let mut fields = line.splitn(3, ':');
                let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
                controllers
                    .split(',')
                    .any(|c| c == controller)
                    .then_some(path)
            })
            .ok_or_else(|| format!("no cgroup v1 {controller} hierarchy"))?;
        Ok(Path::new(V1_ROOT)
            .join(controller)
            .join(path.trim_start_matches('/')))
    };
    let (memory, pids) = (own("memory")?, own("pids")?);
    sweep_stale(&memory);
    sweep_stale(&pids);
    let (memory, pids) = (memory.join(tag), pids.join(tag));
    create_dir(&memory).map_err(|err| format!("cgroup v1: {}: {err}", memory.display()))?;
    if let Err(err) = create_dir(&pids) {
        let _ = fs::remove_dir(&memory);
        return Err(format!("cgroup v1: {}: {err}", pids.display()));
    }
    Ok(Layout::V1 { memory, pids })
}

fn v2_layout(membership: &str, tag: &str) -> Result<Layout, String> {
    let own = membership
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .ok_or("no cgroup v2 membership")?;
    let mount = V2_MOUNTS
        .iter()
        .map(Path::new)
        .find(|mount| {
            let controllers =
                fs::read_to_string(mount.join("cgroup.controllers")).unwrap_or_default();
            let offered: Vec<&str> = controllers.split_whitespace().collect();
            offered.contains(&"memory") && offered.contains(&"pids")
        })
        .ok_or("no cgroup v2 hierarchy offers the memory and pids controllers")?;
    let parent = mount.join(own.trim_start_matches('/'));
    sweep_stale(&parent);
    let dir = parent.join(tag);
    create_dir(&dir).map_err(|err| format!("cgroup v2: {}: {err}", dir.display()))?;
    if let Err(err) = fs::write(dir.join("cgroup.subtree_control"), "+memory +pids") {
        let _ = fs::remove_dir(&dir);
        return Err(format!(
            "cgroup v2: enabling memory and pids in {}: {err}",
            dir.display()
        ));
    }
    Ok(Layout::V2 { dir })
}

/// Removes the cgroups that agents which are gone left in `parent` (an agent that was killed,
/// or never shut down, cannot remove its own). Their hosts normally exited with their agent,
/// at the end of their stdin; a jailed one that was stopped (SIGSTOP) when its agent died never
/// read it, so whatever is still in a host's cgroup is killed first.
fn sweep_stale(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        if !super::is_stale(&entry.file_name().to_string_lossy()) {
            continue;
        }
        let dir = entry.path();
        let hosts = fs::read_dir(&dir).into_iter().flatten().flatten();
        for host in hosts.filter(|host| host.path().is_dir()) {
            kill_left_over(&host.path());
            let _ = fs::remove_dir(host.path());
        }
        if fs::remove_dir(&dir).is_ok() {
            tracing::info!(dir = %dir.display(), "removed the cgroups of an agent that is gone");
        }
    }
}

/// SIGKILLs the processes in the cgroup `dir`, if any, and waits (at most [`SWEEP_WAIT`]) for
/// them to leave it.
fn kill_left_over(dir: &Path) {
    let procs = dir.join("cgroup.procs");
    let pids = |text: String| -> Vec<i32> {
        text.split_whitespace()
            .filter_map(|pid| pid.parse().ok())
            .collect()
    };
    let left = pids(fs::read_to_string(&procs).unwrap_or_default());
    if left.is_empty() {
        return;
    }
    let cgroup = dir.display();
    tracing::warn!(%cgroup, pids = ?left, "killing what an agent that is gone left running");
    for pid in left {
        // SAFETY: kill(2); the pid was just read from a cgroup only Vulcan's hosts are put in.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let started = Instant::now();
    while !pids(fs::read_to_string(&procs).unwrap_or_default()).is_empty()
        && started.elapsed() < SWEEP_WAIT
    {
        std::thread::sleep(SWEEP_POLL);
    }
}

fn create_dir(dir: &Path) -> io::Result<()> {
    match fs::create_dir(dir) {
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

fn read_number(file: &Path) -> io::Result<u64> {
    parse_number(&fs::read_to_string(file)?)
}

fn parse_number(text: &str) -> io::Result<u64> {
    text.trim()
        .parse()
        .map_err(|_| io::Error::other(format!("not a number: {:?}", text.trim())))
}

/// The value of `key` in a `key value` per line file (`memory.oom_control`, `memory.events`).
fn counter(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(' ')?;
        (name == key).then(|| value.trim().parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_kills_what_a_gone_agent_left_in_its_cgroups_then_removes_them() {
        use std::io::Write;
        use std::os::unix::process::ExitStatusExt;

        // pid_max is at most 2^22 on Linux: no agent can have this pid.
        let gone = Cgroups::detect("vulcan-4000000000-0").expect("cgroups on this machine");
        let host = gone.create_host(1, 64 << 20, 64).unwrap();
        let mut left = std::process::Command::new("sleep")
            .arg("1000")
            .spawn()
            .unwrap();
        for mut procs in host.open_procs().unwrap() {
            procs.write_all(left.id().to_string().as_bytes()).unwrap();
        }
        // SAFETY: kill(2) of the test's own child.
        unsafe { libc::kill(left.id().cast_signed(), libc::SIGSTOP) };
        assert!(!host.is_empty());

        let starting = Cgroups::detect(&format!("vulcan-{}-sweep", std::process::id())).unwrap();
        starting.remove();
        let ended = left.try_wait().unwrap();
        if ended.is_none() {
            let _ = left.kill();
            let _ = left.wait();
        }
        assert_eq!(
            ended.and_then(|status| status.signal()),
            Some(libc::SIGKILL)
        );
        let dirs: Vec<PathBuf> = host
            .layout
            .dirs()
            .iter()
            .chain(gone.layout.dirs().iter())
            .map(|dir| dir.to_path_buf())
            .collect();
        drop(host);
        for dir in dirs {
            assert!(!dir.exists(), "{} was not removed", dir.display());
        }
    }

    #[test]
    fn reads_the_oom_kill_counter() {
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(counter(v1, "oom_kill"), Some(3));
        let v2 = "low 0\nhigh 0\nmax 7\noom 2\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(counter(v2, "oom_kill"), Some(1));
        assert_eq!(counter("oom 2\n", "oom_kill"), None);
    }
}
