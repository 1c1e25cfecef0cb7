//! The caps on open connections: per agent (`--max-connections`) and per client address
//! (`--max-connections-per-client`; an IPv6 client counts by its /64, which one host
//! usually holds whole). 0 is no cap. A connection counts from its admission until its
//! [`Open`] guard drops.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use prometheus::IntGauge;

/// Why a connection was refused, also a metric label (`vulcan_connections_refused_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Agent,
    Client,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Agent => "max_connections",
            Refusal::Client => "max_connections_per_client",
        }
    }
}

#[derive(Default)]
struct Tally {
    total: usize,
    /// Only kept with a per-client cap.
    per_client: HashMap<IpAddr, usize>,
}

#[derive(Clone)]
pub struct Caps {
    max_total: usize,
    max_per_client: usize,
    tally: Arc<Mutex<Tally>>,
    /// `vulcan_connections_open`.
    open: IntGauge,
}

impl Caps {
    pub fn new(max_total: usize, max_per_client: usize, open: IntGauge) -> Self {
        Caps {
            max_total,
            max_per_client,
            tally: Arc::default(),
            open,
        }
    }

    /// Counts a new connection from `client`, unless that would break a cap.
    pub fn admit(&self, client: IpAddr) -> Result<Open, Refusal> {
        let client = client_key(client);
        let mut tally = self.lock();
        if self.max_total != 0 && tally.total >= self.max_total {
            return Err(Refusal::Agent);
        }
        if self.max_per_client != 0 {
            let count = tally.per_client.entry(client).or_default();
            if *count >= self.max_per_client {
                return Err(Refusal::Client);
            }
            *count += 1;
        }
        tally.total += 1;
        self.open.set(tally.total as i64);
        Ok(Open {
            caps: self.clone(),
            client,
        })
    }

    fn release(&self, client: IpAddr) {
        let mut tally = self.lock();
        tally.total -= 1;
        if let Some(count) = tally.per_client.get_mut(&client) {
            *count -= 1;
            if *count == 0 {
                tally.per_client.remove(&client);
            }
        }
        self.open.set(tally.total as i64);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tally> {
        // Counts changed under the lock are whole: a panicking holder left them valid.
        self.tally
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// An admitted connection, counted until dropped.
pub struct Open {
    caps: Caps,
    client: IpAddr,
}

impl Drop for Open {
    fn drop(&mut self) {
        self.caps.release(self.client);
    }
}

/// IPv4 (also IPv4-mapped IPv6) by address, other IPv6 by /64.
fn client_key(client: IpAddr) -> IpAddr {
    match client {
        IpAddr::V4(_) => client,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(max_total: usize, max_per_client: usize) -> Caps {
        Caps::new(
            max_total,
            max_per_client,
            IntGauge::new("open", "test").unwrap(),
        )
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn past_the_agent_cap_every_client_is_refused_until_one_closes() {
        let caps = caps(2, 0);
        let first = caps.admit(ip("127.0.0.1")).unwrap();
        let _second = caps.admit(ip("127.0.0.2")).unwrap();
        assert_eq!(caps.admit(ip("127.0.0.3")).err(), Some(Refusal::Agent));
        assert_eq!(caps.open.get(), 2);
        drop(first);
        assert_eq!(caps.open.get(), 1);
        assert!(caps.admit(ip("127.0.0.3")).is_ok());
    }

    #[test]
    fn past_a_clients_cap_only_that_client_is_refused() {
        let caps = caps(0, 2);
        let held: Vec<_> = (0..2)
            .map(|_| caps.admit(ip("10.0.0.1")).unwrap())
            .collect();
        assert_eq!(caps.admit(ip("10.0.0.1")).err(), Some(Refusal::Client));
        assert!(caps.admit(ip("10.0.0.2")).is_ok());
        drop(held);
        assert!(caps.admit(ip("10.0.0.1")).is_ok());
    }

    #[test]
    fn a_refused_connection_is_not_counted() {
        let caps = caps(0, 1);
        let _held = caps.admit(ip("10.0.0.1")).unwrap();
        for _ in 0..5 {
            assert!(caps.admit(ip("10.0.0.1")).is_err());
        }
        assert_eq!(caps.open.get(), 1);
        assert_eq!(caps.lock().per_client[&ip("10.0.0.1")], 1);
    }

    #[test]
    fn closed_clients_leave_no_entry_behind() {
        let caps = caps(0, 4);
        drop(caps.admit(ip("10.0.0.1")).unwrap());
        assert!(caps.lock().per_client.is_empty());
    }

    #[test]
    fn an_ipv6_client_counts_by_its_64_and_a_mapped_ipv4_one_by_its_address() {
        let caps = caps(0, 1);
        let _held = caps.admit(ip("2001:db8:1:2::1")).unwrap();
        assert_eq!(
            caps.admit(ip("2001:db8:1:2:ffff::9")).err(),
            Some(Refusal::Client)
        );
        assert!(caps.admit(ip("2001:db8:1:3::1")).is_ok());
        let _v4 = caps.admit(ip("192.0.2.1")).unwrap();
        assert_eq!(
            caps.admit(ip("::ffff:192.0.2.1")).err(),
            Some(Refusal::Client)
        );
    }
}
