//! CPU time of this process (the agent) and its descendants (isolate hosts and their jails),
//! with threads and processes that have ended: the agent's own and its reaped children's from
//! `getrusage` (microseconds), each live descendant's own and reaped children's from
//! `/proc/<pid>/stat` (clock ticks, 10 ms here). A retired host's time moves from the second
//! kind to the first when it is reaped, so the total only grows. A jailed host's Deno is not
//! our child: killing its jail orphans it, so its time is read just before the kill
//! ([`count_orphaned`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// CPU time of processes that ended without being reaped by us or a descendant.
static ORPHANED_NANOS: AtomicU64 = AtomicU64::new(0);

/// Counts the CPU time so far of `pid`, which is about to be orphaned and killed.
pub fn count_orphaned(pid: u32) {
    if let Some((_, cpu)) = parent_and_cpu(pid) {
        ORPHANED_NANOS.fetch_add(cpu.as_nanos() as u64, Ordering::Relaxed);
    }
}

/// CPU time used so far by this process and every process descended from it.
pub fn process_tree_cpu() -> Duration {
    let root = std::process::id();
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut ticks = HashMap::new();
    for (pid, parent, cpu) in processes() {
        children.entry(parent).or_default().push(pid);
        ticks.insert(pid, cpu);
    }
    let mut total = rusage(libc::RUSAGE_SELF)
        + rusage(libc::RUSAGE_CHILDREN)
        + Duration::from_nanos(ORPHANED_NANOS.load(Ordering::Relaxed));
    let mut pending: Vec<u32> = children.get(&root).cloned().unwrap_or_default();
    while let Some(pid) = pending.pop() {
        total += ticks.get(&pid).copied().unwrap_or_default();
        pending.extend(children.get(&pid).into_iter().flatten());
    }
    total
}

fn rusage(who: libc::c_int) -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let micros = |time: libc::timeval| time.tv_sec as u64 * 1_000_000 + time.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

/// Every process with its parent and its CPU time.
fn processes() -> Vec<(u32, u32, Duration)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let (parent, cpu) = parent_and_cpu(pid)?;
            Some((pid, parent, cpu))
        })
        .collect()
}

/// From `/proc/<pid>/stat`: the parent (field 4), and user and system time of the process
/// and of its reaped children (fields 14 to 17).
fn parent_and_cpu(pid: u32) -> Option<(u32, Duration)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name (field 2) is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    let parent = fields.get(1)?.parse().ok()?;
    let ticks = fields
        .get(11..15)?
        .iter()
        .map(|field| field.parse::<u64>().ok())
        .sum::<Option<u64>>()?;
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some((
        parent,
        Duration::from_micros(ticks * 1_000_000 / per_second),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_a_spinning_child() {
        let before = process_tree_cpu();
        let mut child = std::process::Command::new("sh")
            .args([
                "-c",
                "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; exec sleep 5",
            ])
            .spawn()
            .unwrap();
        // Wait until the loop is done: the child is then asleep.
        let child_cpu = loop {
            std::thread::sleep(Duration::from_millis(20));
            let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap();
            let state = stat[stat.rfind(')').unwrap() + 2..].chars().next().unwrap();
            if state == 'S' {
                break parent_and_cpu(child.id()).unwrap().1;
            }
        };
        let after = process_tree_cpu();
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(child_cpu > Duration::from_millis(20), "{child_cpu:?}");
        assert!(
            after - before >= child_cpu,
            "{before:?} → {after:?}, child {child_cpu:?}"
        );
    }
}
