//! Vulcan: a node agent that runs untrusted JavaScript and TypeScript workloads in
//! isolation tiers behind one [`backend::Backend`] trait.
//!
//! # Layout
//! - [`config`]: command-line and environment configuration (`VULCAN_*`).
//! - [`error`]: the crate's error type; a workload's failure is a `Status`, not an error.
//! - [`backend`]: the `Backend` trait and the types that cross it; [`backend::isolate`] is
//!   the V8-isolates-in-supervised-Deno-hosts tier, [`backend::wasm`] the QuickJS-in-wasmtime
//!   tier.
//! - [`typescript`]: type stripping, the one TypeScript front end of every tier.
//! - [`policy`]: routing policies as data (rules over workload features, a fallback).
//! - [`router`]: routing, a pure function of a workload, the tiers and a policy.
//! - [`experiment`]: routing experiments' reports.
//! - [`json_object`]: deserializing structs from objects only, never positional arrays.
//! - [`cpu_time`]: CPU time of the agent and its isolate hosts, for experiments.
//! - [`access`]: who may do what: API keys, tenants, scopes and tenants' quotas.
//! - [`admission`]: the bound on workloads in flight (429 past it).
//! - [`workloads`]: a workload's life without HTTP: accepted (checked, routed, limits set),
//!   run on its tier, its record handed to the store; queued, claimed, renewed, reaped and
//!   waited for (`workloads/queue.rs`, the queue runner). Handlers and experiments call it.
//! - [`store`]: history and queue behind one trait, [`store::Store`], and the stored
//!   [`store::Record`]; [`store::sqlite`] is the embedded engine (records of one agent written
//!   behind the answers by a batching writer), [`store::postgres`] the shared one (claims with
//!   `SKIP LOCKED`, `LISTEN/NOTIFY`).
//! - [`metrics`]: Prometheus metrics and the HTTP middleware.
//! - [`api`]: the axum router, handlers, the API's bodies (the answer's
//!   [`api::WorkloadRecord`] is built from a stored record), OpenAPI description and error
//!   mapping.
//! - [`connections`]: clients' connections: the accept loop, header/idle/body timeouts, caps
//!   on open connections per agent and per client address.
//! - [`server`]: wiring shared by `main` and the tests.
//! - [`cli`]: `vulcan run`, a client for scripts.

pub mod access;
pub mod admission;
pub mod api;
pub mod backend;
pub mod cli;
pub mod config;
pub mod connections;
pub mod cpu_time;
pub mod error;
pub mod experiment;
pub mod json_object;
pub mod metrics;
pub mod policy;
pub mod router;
pub mod server;
pub mod store;
pub mod typescript;
pub mod workloads;
