//! A submission, checked: sizes, routing under a policy, limits set for the chosen tier.

use serde::Deserialize;
use serde_json::value::RawValue;
use utoipa::ToSchema;

use super::Workloads;
use crate::backend::{Capabilities, Language, LimitRange, Limits, Status, Workload, json_null};
use crate::error::Error;
use crate::policy::{RoutingPolicy, check_name};
use crate::router::{self, Isolation, Route, RouteError, RouteRequest};
use crate::store::{DEFAULT_TENANT, Record, now_ms};

/// A workload to run.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadRequest {
    /// An ES module whose default export (sync or async function) is called with `input`.
    pub code: String,
    #[serde(default)]
    pub language: Language,
    /// Any JSON value; `null` when absent.
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    pub input: Option<Box<RawValue>>,
    #[serde(default)]
    pub isolation: Isolation,
    /// Wall-clock budget; see `GET /v1/backends` for the default and maximum.
    #[schema(minimum = 1)]
    pub timeout_ms: Option<u64>,
    /// Memory cap; see `GET /v1/backends` for the default and maximum.
    #[schema(minimum = 1)]
    pub memory_mb: Option<u64>,
    /// Deterministic fuel budget (wasm tier only); unmetered when absent.
    #[schema(minimum = 1)]
    pub fuel: Option<u64>,
    /// A label kept in the history, which routing rules can match: 1 to 64 letters, digits,
    /// spaces, `.`, `_` or `-`.
    #[schema(pattern = r"^[A-Za-z0-9._ -]{1,64}$")]
    pub tag: Option<String>,
    /// Where to POST the result once the workload has ended (at least once, signed with
    /// `X-Vulcan-Signature`); only to an address on the agent's `--callback-allow` list.
    pub callback_url: Option<String>,
}

/// A workload past validation and routing, with its limits set for the chosen tier, and its
/// id from then on.
pub struct Accepted {
    pub id: String,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    pub(super) workload: Workload,
    pub(super) isolation: Isolation,
    pub(super) tag: Option<String>,
    pub route: Route,
    pub(super) callback_url: Option<String>,
    /// Whose workload it is, and the key it came with.
    pub tenant: String,
    pub key_id: Option<String>,
}

impl Accepted {
    /// Its record before it has run, with `status` (`queued` or `running`).
    pub fn pending(&self, status: Status) -> Record {
        Record {
            id: self.id.clone(),
            created_at_ms: self.created_at_ms,
            status,
            backend: self.route.backend,
            route_reason: self.route.reason.clone(),
            tag: self.tag.clone(),
            isolation: self.isolation,
            language: self.workload.language,
            limits: self.workload.limits,
            output: None,
            error: None,
            logs: Vec::new(),
            logs_truncated: false,
            duration_ms: 0.0,
            metadata: None,
            code: self.workload.code.clone(),
            input: self.workload.input.clone(),
            callback_url: self.callback_url.clone(),
            callback: None,
            tenant: self.tenant.clone(),
            key_id: self.key_id.clone(),
            cpu_ms: None,
        }
    }

    /// The workload a pending record describes, as it was accepted (claimed from the queue).
    pub fn from_record(record: Record) -> Accepted {
        Accepted {
            id: record.id,
            created_at_ms: record.created_at_ms,
            workload: Workload {
                code: record.code,
                language: record.language,
                input: record.input,
                limits: record.limits,
            },
            isolation: record.isolation,
            tag: record.tag,
            route: Route {
                backend: record.backend,
                reason: record.route_reason,
            },
            callback_url: record.callback_url,
            tenant: record.tenant,
            key_id: record.key_id,
        }
    }
}

impl Workloads {
    /// Checks sizes, then routes the workload under `policy` and sets its limits.
    pub fn accept(
        &self,
        request: WorkloadRequest,
        policy: &RoutingPolicy,
    ) -> Result<Accepted, Error> {
        let limits = &self.limits;
        check_size("code", request.code.len() as u64, limits.max_code_bytes)?;
        let callback_url = request
            .callback_url
            .map(|url| self.webhooks.check(&url).map(|()| url))
            .transpose()?;
        let input = request.input.unwrap_or_else(json_null);
        check_size("input", input.get().len() as u64, limits.max_input_bytes)?;
        let route_request = RouteRequest {
            isolation: request.isolation,
            language: request.language,
            code_bytes: request.code.len() as u64,
            timeout_ms: request.timeout_ms.unwrap_or(limits.timeout_ms),
            memory_mb: request.memory_mb.unwrap_or(limits.memory_mb),
            fuel: request.fuel,
            tag: request.tag.clone(),
        };
        let (route, workload_limits) = self.plan(&route_request, policy)?;
        Ok(Accepted {
            id: uuid::Uuid::now_v7().to_string(),
            created_at_ms: now_ms() as u64,
            workload: Workload {
                code: request.code,
                language: request.language,
                input,
                limits: workload_limits,
            },
            isolation: request.isolation,
            tag: request.tag,
            route,
            callback_url,
            tenant: DEFAULT_TENANT.to_owned(),
            key_id: None,
        })
    }

    /// Routes a workload under `policy` and sets its limits for the chosen tier, checking
    /// them against what that tier accepts.
    pub fn plan(
        &self,
        request: &RouteRequest,
        policy: &RoutingPolicy,
    ) -> Result<(Route, Limits), Error> {
        if let Some(tag) = &request.tag {
            check_name("tag", tag).map_err(Error::InvalidRequest)?;
        }
        let route = router::route(request, &self.tier_states(), policy).map_err(route_error)?;
        let capabilities = self.capabilities(route.backend);
        let limits = Limits {
            timeout_ms: within("timeout_ms", request.timeout_ms, capabilities.timeout_ms)?,
            memory_mb: within("memory_mb", request.memory_mb, capabilities.memory_mb)?,
            fuel: fuel_within(request.fuel, &capabilities)?,
            max_output_bytes: self.limits.max_output_bytes,
            max_log_bytes: self.limits.max_log_bytes,
            max_log_lines: self.limits.max_log_lines,
        };
        Ok((route, limits))
    }
}

fn check_size(what: &str, bytes: u64, max: u64) -> Result<(), Error> {
    match bytes > max {
        true => Err(Error::TooLarge(format!(
            "{what} is {bytes} bytes, over the limit of {max}"
        ))),
        false => Ok(()),
    }
}

fn within(name: &str, value: u64, range: LimitRange) -> Result<u64, Error> {
    match (range.min..=range.max).contains(&value) {
        true => Ok(value),
        false => Err(Error::InvalidRequest(format!(
            "{name} must be between {} and {}, got {value}",
            range.min, range.max
        ))),
    }
}

fn fuel_within(requested: Option<u64>, capabilities: &Capabilities) -> Result<Option<u64>, Error> {
    match (requested, capabilities.fuel_max) {
        (None, _) => Ok(None),
        (Some(fuel), Some(max)) if (1..=max).contains(&fuel) => Ok(Some(fuel)),
        (Some(fuel), Some(max)) => Err(Error::InvalidRequest(format!(
            "fuel must be between 1 and {max}, got {fuel}"
        ))),
        (Some(_), None) => Err(Error::InvalidRequest(
            "this tier does not meter fuel".into(),
        )),
    }
}

fn route_error(err: RouteError) -> Error {
    match err {
        RouteError::Unavailable { kind, reason } => Error::TierUnavailable {
            kind,
            reason: format!("the {} tier {reason}", kind.as_str()),
        },
        RouteError::FuelNotMetered { kind } => Error::InvalidRequest(format!(
            "fuel is not metered by the {} tier; ask for isolation \"wasm\" or \"auto\"",
            kind.as_str()
        )),
        RouteError::NoTier(reason) => Error::NoTierAvailable(reason),
        RouteError::Unroutable(reason) => Error::Unroutable(reason),
    }
}
