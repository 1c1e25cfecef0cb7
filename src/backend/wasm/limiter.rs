//! The memory cap of one wasm instance. QuickJS turns a refused `memory.grow` into a JS
//! "out of memory" exception rather than a trap, so the limiter remembers every refusal:
//! that is what tells `memory_limit` apart from an ordinary error.

use wasmtime::ResourceLimiter;

/// Upper bound on table growth; QuickJS never needs more than a few thousand entries.
const MAX_TABLE_ELEMENTS: usize = 100_000;

#[derive(Debug)]
pub struct MemoryLimiter {
    max_bytes: usize,
    peak_bytes: usize,
    refused: bool,
}

impl MemoryLimiter {
    pub fn new(max_bytes: usize) -> Self {
        MemoryLimiter {
            max_bytes,
            peak_bytes: 0,
            refused: false,
        }
    }

    /// Largest linear memory size granted so far.
    pub fn peak_bytes(&self) -> usize {
        self.peak_bytes
    }

    /// Whether any growth was refused because of the cap.
    pub fn refused(&self) -> bool {
        self.refused
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.refused = true;
            return Ok(false);
        }
        self.peak_bytes = self.peak_bytes.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_within_the_cap_is_granted_and_tracked() {
        let mut limiter = MemoryLimiter::new(1000);
        assert!(limiter.memory_growing(0, 600, None).unwrap());
        assert!(limiter.memory_growing(600, 1000, None).unwrap());
        assert_eq!(limiter.peak_bytes(), 1000);
        assert!(!limiter.refused());
    }

    #[test]
    fn growth_past_the_cap_is_refused_and_remembered() {
        let mut limiter = MemoryLimiter::new(1000);
        assert!(!limiter.memory_growing(600, 1001, None).unwrap());
        assert!(limiter.refused());
        assert_eq!(limiter.peak_bytes(), 0);
    }
}
