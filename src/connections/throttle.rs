//! At most one log line per interval for events that come in bursts (thousands of refused
//! connections a second must not become thousands of lines).

use std::time::Duration;

use tokio::time::Instant;

pub struct Throttle {
    interval: Duration,
    last_logged: Option<Instant>,
    unlogged: u64,
}

impl Throttle {
    pub fn new(interval: Duration) -> Self {
        Throttle {
            interval,
            last_logged: None,
            unlogged: 0,
        }
    }

    /// Counts an event at `now`; returns how many to report (this one and those held back)
    /// when a line is due: the first at once, then one per interval at most.
    pub fn note(&mut self, now: Instant) -> Option<u64> {
        self.unlogged += 1;
        if let Some(last) = self.last_logged
            && now < last + self.interval
        {
            return None;
        }
        self.last_logged = Some(now);
        Some(std::mem::take(&mut self.unlogged))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_one_line_then_one_per_interval_with_the_count_held_back() {
        let start = Instant::now();
        let mut throttle = Throttle::new(Duration::from_secs(1));
        assert_eq!(throttle.note(start), Some(1));
        for ms in 1..1000 {
            assert_eq!(throttle.note(start + Duration::from_millis(ms)), None);
        }
        assert_eq!(throttle.note(start + Duration::from_secs(1)), Some(1000));
        assert_eq!(throttle.note(start + Duration::from_millis(1001)), None);
    }
}
