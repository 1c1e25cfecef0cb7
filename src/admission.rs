//! Admission control: a bound on workloads in flight (running or queued in a tier).
//! Past it, requests are refused at once with 429 instead of piling up into timeouts.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

pub struct Admission {
    in_flight: AtomicUsize,
    max_in_flight: usize,
    /// Woken each time a place is freed.
    freed: Notify,
}

/// Held while a workload is in flight; dropping it frees the place.
pub struct Ticket(Arc<Admission>);

impl Admission {
    pub fn new(max_in_flight: usize) -> Arc<Self> {
        Arc::new(Admission {
            in_flight: AtomicUsize::new(0),
            max_in_flight,
            freed: Notify::new(),
        })
    }

    /// A place for one more workload, or `None` when full.
    pub fn try_admit(self: &Arc<Self>) -> Option<Ticket> {
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_in_flight).then_some(n + 1)
            })
            .ok()
            .map(|_| Ticket(Arc::clone(self)))
    }

    /// A place for one more workload, once one is free.
    pub async fn admit(self: &Arc<Self>) -> Ticket {
        loop {
            // Registered before the check, so a place freed in between still wakes it.
            let freed = self.freed.notified();
            if let Some(ticket) = self.try_admit() {
                return ticket;
            }
            freed.await;
        }
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Resolves once no workload is in flight: at shutdown, also those whose clients hung
    /// up, so every accepted workload is recorded before the tiers stop.
    pub async fn drained(&self) {
        loop {
            let freed = self.freed.notified();
            if self.in_flight() == 0 {
                return;
            }
            freed.await;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_bound_and_frees_places_on_drop() {
        let admission = Admission::new(2);
        let first = admission.try_admit().expect("first");
        let _second = admission.try_admit().expect("second");
        assert!(admission.try_admit().is_none());
        drop(first);
        assert_eq!(admission.in_flight(), 1);
        assert!(admission.try_admit().is_some());
    }

    #[tokio::test]
    async fn drained_waits_for_the_last_ticket() {
        let admission = Admission::new(2);
        let first = admission.try_admit().expect("first");
        let second = admission.try_admit().expect("second");
        let waiter = tokio::spawn({
            let admission = Arc::clone(&admission);
            async move { admission.drained().await }
        });
        drop(first);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "one ticket is still held");
        drop(second);
        waiter.await.expect("drained once both are dropped");
    }
}
