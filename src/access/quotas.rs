//! Tenants' quotas: workloads in flight and a rate (a token bucket) per tenant on each
//! agent, and the largest limits a tenant's workloads may ask for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A tenant's quotas in force. 0 means none for `max_in_flight` and `rate_per_sec`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, ToSchema)]
pub struct Quotas {
    /// Workloads of the tenant in flight on one agent at once; more get 429.
    pub max_in_flight: u64,
    /// Workloads per second the tenant may submit to one agent, on average; more get 429.
    pub rate_per_sec: f64,
    /// Workloads the tenant may submit at once above the rate.
    pub burst: u64,
    /// Largest `timeout_ms` the tenant's workloads may ask for.
    pub max_timeout_ms: u64,
    /// Largest `memory_mb` the tenant's workloads may ask for.
    pub max_memory_mb: u64,
    /// Largest `fuel` the tenant's workloads may ask for.
    pub max_fuel: u64,
}

/// The largest number a quota may be: the largest integer JSON numbers hold exactly.
const MAX_QUOTA: u64 = (1 << 53) - 1;

/// A tenant's own quotas, each in place of the agent's default when set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaOverrides {
    #[schema(minimum = 0, maximum = 9_007_199_254_740_991_u64)]
    pub max_in_flight: Option<u64>,
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub rate_per_sec: Option<f64>,
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_u64)]
    pub burst: Option<u64>,
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_u64)]
    pub max_timeout_ms: Option<u64>,
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_u64)]
    pub max_memory_mb: Option<u64>,
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_u64)]
    pub max_fuel: Option<u64>,
}

impl QuotaOverrides {
    pub fn check(&self) -> Result<(), String> {
        if let Some(rate) = self.rate_per_sec
            && !(rate.is_finite() && (0.0..=1e6).contains(&rate))
        {
            return Err(format!(
                "rate_per_sec must be between 0 and 1000000, got {rate}"
            ));
        }
        if self.max_in_flight.is_some_and(|value| value > MAX_QUOTA) {
            return Err(format!("max_in_flight must be at most {MAX_QUOTA}"));
        }
        for (name, value) in [
            ("burst", self.burst),
            ("max_timeout_ms", self.max_timeout_ms),
            ("max_memory_mb", self.max_memory_mb),
            ("max_fuel", self.max_fuel),
        ] {
            if value.is_some_and(|value| !(1..=MAX_QUOTA).contains(&value)) {
                return Err(format!("{name} must be between 1 and {MAX_QUOTA}"));
            }
        }
        Ok(())
    }
}

impl Quotas {
    /// These defaults with a tenant's own quotas in their place.
    pub fn with(&self, overrides: &QuotaOverrides) -> Quotas {
        Quotas {
            max_in_flight: overrides.max_in_flight.unwrap_or(self.max_in_flight),
            rate_per_sec: overrides.rate_per_sec.unwrap_or(self.rate_per_sec),
            burst: overrides.burst.unwrap_or(self.burst),
            max_timeout_ms: overrides.max_timeout_ms.unwrap_or(self.max_timeout_ms),
            max_memory_mb: overrides.max_memory_mb.unwrap_or(self.max_memory_mb),
            max_fuel: overrides.max_fuel.unwrap_or(self.max_fuel),
        }
    }

    /// Refuses limits asked for over the tenant's caps, naming the cap; limits not asked for
    /// get the agent's default, or the cap when that is lower.
    pub fn fit(&self, asked: &mut AskedLimits) -> Result<(), String> {
        for (name, asked, cap) in [
            ("timeout_ms", asked.timeout_ms, self.max_timeout_ms),
            ("memory_mb", asked.memory_mb, self.max_memory_mb),
            ("fuel", asked.fuel, self.max_fuel),
        ] {
            if let Some(asked) = asked.filter(|&asked| asked > cap) {
                return Err(format!(
                    "{name} {asked} is over this tenant's quota (max_{name} {cap})"
                ));
            }
        }
        if asked.default_timeout_ms > self.max_timeout_ms {
            asked.timeout_ms.get_or_insert(self.max_timeout_ms);
        }
        if asked.default_memory_mb > self.max_memory_mb {
            asked.memory_mb.get_or_insert(self.max_memory_mb);
        }
        Ok(())
    }
}

/// A request's limits, and the agent's defaults for those it does not name.
pub struct AskedLimits {
    pub timeout_ms: Option<u64>,
    pub memory_mb: Option<u64>,
    pub fuel: Option<u64>,
    pub default_timeout_ms: u64,
    pub default_memory_mb: u64,
}

/// Where a tenant's rate stands, for `RateLimit-*` headers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateState {
    /// The bucket's size (the burst).
    pub limit: u64,
    pub remaining: u64,
    /// Seconds until the bucket is full again.
    pub reset_secs: u64,
}

/// Why a tenant's workload was refused.
#[derive(Debug, PartialEq)]
pub enum Refused {
    InFlight {
        limit: u64,
    },
    Rate {
        retry_after_secs: u64,
        state: RateState,
    },
}

/// A workload's place among its tenant's in flight, given back when dropped.
pub struct Pass {
    meter: Arc<Meter>,
}

impl Drop for Pass {
    fn drop(&mut self) {
        self.meter.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Default)]
struct Meter {
    in_flight: AtomicU64,
    bucket: Mutex<Option<Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Every tenant's workloads in flight and rate on this agent.
#[derive(Default)]
pub struct Meters {
    tenants: Mutex<HashMap<String, Arc<Meter>>>,
}

impl Meters {
    /// Takes a place among the tenant's workloads in flight and a token from its rate.
    pub fn admit(
        &self,
        tenant: &str,
        quotas: &Quotas,
    ) -> Result<(Pass, Option<RateState>), Refused> {
        let meter = {
            let mut tenants = self.tenants.lock().expect("meters lock");
            match tenants.get(tenant) {
                Some(meter) => Arc::clone(meter),
                None => Arc::clone(tenants.entry(tenant.to_owned()).or_default()),
            }
        };
        let in_flight = meter.in_flight.fetch_add(1, Ordering::SeqCst);
        let pass = Pass { meter };
        if quotas.max_in_flight > 0 && in_flight >= quotas.max_in_flight {
            return Err(Refused::InFlight {
                limit: quotas.max_in_flight,
            });
        }
        if quotas.rate_per_sec <= 0.0 {
            return Ok((pass, None));
        }
        let state = pass.meter.take(quotas, Instant::now())?;
        Ok((pass, Some(state)))
    }
}

impl Meter {
    fn take(&self, quotas: &Quotas, now: Instant) -> Result<RateState, Refused> {
        let (rate, burst) = (quotas.rate_per_sec, quotas.burst.max(1) as f64);
        let mut bucket = self.bucket.lock().expect("bucket lock");
        let bucket = bucket.get_or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.at = now;
        let taken = bucket.tokens >= 1.0;
        if taken {
            bucket.tokens -= 1.0;
        }
        let state = RateState {
            limit: burst as u64,
            remaining: bucket.tokens.floor() as u64,
            reset_secs: ((burst - bucket.tokens) / rate).ceil() as u64,
        };
        match taken {
            true => Ok(state),
            false => Err(Refused::Rate {
                retry_after_secs: ((1.0 - bucket.tokens) / rate).ceil().max(1.0) as u64,
                state,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn quotas(max_in_flight: u64, rate_per_sec: f64, burst: u64) -> Quotas {
        Quotas {
            max_in_flight,
            rate_per_sec,
            burst,
            max_timeout_ms: 1_000,
            max_memory_mb: 64,
            max_fuel: 1_000,
        }
    }

    #[test]
    fn in_flight_places_are_given_back_when_dropped() {
        let meters = Meters::default();
        let quotas = quotas(2, 0.0, 1);
        let first = meters.admit("a", &quotas).unwrap();
        let _second = meters.admit("a", &quotas).unwrap();
        assert_eq!(
            meters.admit("a", &quotas).err(),
            Some(Refused::InFlight { limit: 2 })
        );
        assert!(
            meters.admit("b", &quotas).is_ok(),
            "another tenant is apart"
        );
        drop(first);
        assert!(meters.admit("a", &quotas).is_ok());
    }

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let meter = Meter::default();
        let quotas = quotas(0, 2.0, 3);
        let start = Instant::now();
        for remaining in [2, 1, 0] {
            assert_eq!(meter.take(&quotas, start).unwrap().remaining, remaining);
        }
        let Err(Refused::Rate {
            retry_after_secs, ..
        }) = meter.take(&quotas, start)
        else {
            panic!("a fourth at once is refused");
        };
        assert_eq!(retry_after_secs, 1);
        // Half a second at 2 per second is one more token.
        assert!(
            meter
                .take(&quotas, start + Duration::from_millis(500))
                .is_ok()
        );
        assert!(
            meter
                .take(&quotas, start + Duration::from_millis(500))
                .is_err()
        );
    }

    fn asked(timeout_ms: Option<u64>, memory_mb: Option<u64>, fuel: Option<u64>) -> AskedLimits {
        AskedLimits {
            timeout_ms,
            memory_mb,
            fuel,
            default_timeout_ms: 2_000,
            default_memory_mb: 32,
        }
    }

    #[test]
    fn limits_over_a_cap_are_refused_naming_it() {
        let quotas = quotas(0, 0.0, 1);
        assert!(quotas.fit(&mut asked(Some(1_000), Some(64), None)).is_ok());
        let refused = quotas.fit(&mut asked(None, Some(65), None)).unwrap_err();
        assert!(refused.contains("max_memory_mb 64"), "{refused}");
        assert!(quotas.fit(&mut asked(None, None, Some(1_001))).is_err());
    }

    #[test]
    fn a_default_over_a_cap_is_lowered_to_it() {
        let quotas = quotas(0, 0.0, 1);
        let mut limits = asked(None, None, None);
        quotas.fit(&mut limits).unwrap();
        // The agent's 2 s default is over the tenant's 1 s; its 32 MiB is under 64.
        assert_eq!(limits.timeout_ms, Some(1_000));
        assert_eq!(limits.memory_mb, None);
    }
}
