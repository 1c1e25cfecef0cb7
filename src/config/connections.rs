//! Clients' connections: timeouts and caps (`src/connections/` enforces them).

use clap::Args;

/// Clients' connections: how long a request may take to arrive, how long an idle one stays
/// open, and how many one agent and one client address may hold (`src/connections/`).
#[derive(Clone, Debug, Args)]
pub struct ConnectionArgs {
    /// A request's head (request line and headers) must arrive within this long of its first
    /// byte (of the connection's opening, for its first request), or the connection is closed.
    #[arg(long, env = "VULCAN_HEADER_READ_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_ms: u64,
    /// A connection with no request in progress and none begun is closed after this long.
    /// Behind a balancer, keep it longer than the balancer keeps its idle connections to the
    /// agent.
    #[arg(long, env = "VULCAN_IDLE_TIMEOUT_MS", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_ms: u64,
    /// A request's body must arrive within this long of its head, or it is answered 408
    /// `request_timeout` and the connection closed.
    #[arg(long, env = "VULCAN_BODY_READ_TIMEOUT_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_read_timeout_ms: u64,
    /// Open connections at most; more are accepted and closed at once (0: no cap).
    #[arg(long, env = "VULCAN_MAX_CONNECTIONS", default_value_t = 8_192)]
    pub max_connections: usize,
    /// Open connections from one client address at most; more are accepted and closed at once
    /// (0: no cap). For an agent clients reach directly: behind a balancer every connection
    /// comes from the balancer, so set 0 there.
    #[arg(long, env = "VULCAN_MAX_CONNECTIONS_PER_CLIENT", default_value_t = 512)]
    pub max_connections_per_client: usize,
}
