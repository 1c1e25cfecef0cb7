//! Keys as last read from the store, each for a short while: a request with a key seen in
//! the last [`FRESH_FOR`] is checked without the store, and a key revoked on any agent is
//! refused by every agent within that time.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::store::FoundKey;

/// How long a key read from the store is trusted.
pub const FRESH_FOR: Duration = Duration::from_millis(500);
/// Keys (and unknown ids) remembered at most; past it, stale ones are forgotten.
const MAX_ENTRIES: usize = 10_000;

#[derive(Clone)]
struct Entry {
    /// `None`: no such key.
    found: Option<Arc<FoundKey>>,
    read_at: Instant,
}

#[derive(Default)]
pub struct KeyCache {
    entries: RwLock<HashMap<String, Entry>>,
}

impl KeyCache {
    /// The key with this id as read within [`FRESH_FOR`] (`Some(None)`: known not to exist),
    /// or `None` when it must be read again.
    pub fn fresh(&self, id: &str) -> Option<Option<Arc<FoundKey>>> {
        let entries = self.entries.read().unwrap_or_else(|err| err.into_inner());
        let entry = entries.get(id)?;
        (entry.read_at.elapsed() < FRESH_FOR).then(|| entry.found.clone())
    }

    pub fn put(&self, id: &str, found: Option<Arc<FoundKey>>, read_at: Instant) {
        let mut entries = self.entries.write().unwrap_or_else(|err| err.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, entry| entry.read_at.elapsed() < FRESH_FOR);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(id.to_owned(), Entry { found, read_at });
    }

    /// Forgets a key (revoked here), so this agent reads it again at once.
    pub fn forget(&self, id: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|err| err.into_inner());
        entries.remove(id);
    }

    /// Forgets every key (a tenant's quotas changed here).
    pub fn clear(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|err| err.into_inner());
        entries.clear();
    }
}
