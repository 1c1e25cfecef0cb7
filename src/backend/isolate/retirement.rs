//! Why a host stops taking work, and what a finished workload says about its host. Each reason
//! is also the label of `vulcan_isolate_host_retirements_total`.

/// Why a host stopped taking work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retirement {
    /// It ran `recycle_after` workloads.
    Recycled,
    /// Its resident memory passed `recycle_rss_bytes`.
    Rss,
    /// It could not stop a worker (at the deadline, or once the workload was answered).
    Poisoned,
    /// It did not answer by a workload's deadline (a worker that will not stop).
    Runaway,
    /// It broke the protocol, failed to make its next worker, or died during a workload.
    Crashed,
    /// It was stopped by a signal (SIGSTOP) during a workload.
    Stopped,
    /// Its workload passed its memory limit: heap, off-heap or committed memory.
    MemoryLimit,
    /// It failed a health ping.
    Unresponsive,
    /// It exited on its own while idle.
    Exited,
    /// A host for a heap size other than the default that went unused for a while.
    Unused,
}

impl Retirement {
    pub const ALL: [Retirement; 10] = [
        Retirement::Recycled,
        Retirement::Rss,
        Retirement::Poisoned,
        Retirement::Runaway,
        Retirement::Crashed,
        Retirement::Stopped,
        Retirement::MemoryLimit,
        Retirement::Unresponsive,
        Retirement::Exited,
        Retirement::Unused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Retirement::Recycled => "recycled",
            Retirement::Rss => "rss",
            Retirement::Poisoned => "poisoned",
            Retirement::Runaway => "runaway",
            Retirement::Crashed => "crashed",
            Retirement::Stopped => "stopped",
            Retirement::MemoryLimit => "memory_limit",
            Retirement::Unresponsive => "unresponsive",
            Retirement::Exited => "exited",
            Retirement::Unused => "unused",
        }
    }
}

/// What a finished workload says about its host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Healthy: make its next worker and offer it again.
    Keep,
    Retire(Retirement),
}
