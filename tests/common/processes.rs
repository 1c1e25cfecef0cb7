//! Processes as `/proc` shows them now: every pid, a process's name and parent, whether it
//! is alive, and the `deno` processes descended from a given one (a jailed host is the child
//! of its bubblewrap).

/// The pids of every process.
pub fn pids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
}

/// `(command name, parent pid)` of a process, from `/proc/<pid>/stat`.
pub fn name_and_parent(pid: u32) -> Option<(String, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`; comm may contain spaces, so split around the last ')'.
    let (head, tail) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1.to_owned();
    let ppid = tail.split_whitespace().nth(1)?.parse().ok()?;
    Some((name, ppid))
}

/// Whether process `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(')')
            .is_some_and(|(_, tail)| tail.trim_start().starts_with('Z'))
    })
}

/// Pids of the `deno` processes descended from process `ancestor`.
pub fn deno_descendants(ancestor: u32) -> Vec<u32> {
    let descends = |mut pid: u32| {
        while pid > 1 {
            match name_and_parent(pid) {
                Some((_, parent)) if parent == ancestor => return true,
                Some((_, parent)) => pid = parent,
                None => return false,
            }
        }
        false
    };
    pids()
        .filter(|&pid| name_and_parent(pid).is_some_and(|(name, _)| name == "deno"))
        .filter(|&pid| descends(pid))
        .collect()
}
