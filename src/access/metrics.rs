//! Access control's metrics: requests refused by reason, and workloads by tenant, for the tenants on an allow-list (`other` for the rest, so the number of series
//! stays bounded).

use prometheus::{IntCounterVec, Opts, Registry};

use crate::metrics::register;

pub const REQUESTS_REFUSED_TOTAL: &str = "vulcan_requests_refused_total";
pub const TENANT_WORKLOADS_TOTAL: &str = "vulcan_tenant_workloads_total";

/// The label of tenants not on the allow-list.
const OTHER: &str = "other";

pub struct AccessMetrics {
    refused: IntCounterVec,
    workloads: IntCounterVec,
    /// Tenants shown by name.
    shown: Vec<String>,
}

impl AccessMetrics {
    pub fn new(registry: &Registry, shown: Vec<String>) -> AccessMetrics {
        let refused = IntCounterVec::new(
            Opts::new(
                REQUESTS_REFUSED_TOTAL,
                "Requests refused by access control, by reason: unauthenticated, forbidden, \
                 rate, in_flight, limits.",
            ),
            &["reason"],
        )
        .expect("valid counter");
        let workloads = IntCounterVec::new(
            Opts::new(
                TENANT_WORKLOADS_TOTAL,
                "Workloads submitted, by tenant (named on --metrics-tenants, else other).",
            ),
            &["tenant"],
        )
        .expect("valid counter");
        AccessMetrics {
            refused: register(registry, refused),
            workloads: register(registry, workloads),
            shown,
        }
    }

    pub fn refused(&self, reason: &str) {
        self.refused.with_label_values(&[reason]).inc();
    }

    pub fn submitted(&self, tenant: &str) {
        self.workloads
            .with_label_values(&[self.label(tenant)])
            .inc();
    }

    fn label<'a>(&self, tenant: &'a str) -> &'a str {
        match self.shown.iter().any(|shown| shown == tenant) {
            true => tenant,
            false => OTHER,
        }
    }
}
