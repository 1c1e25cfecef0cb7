//! `vulcan`: parse the configuration, set up logging, and serve or run a client command.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;
use vulcan::config::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Some(Command::Run(args)) => vulcan::cli::run(args).await,
        Some(Command::Experiment(command)) => vulcan::cli::experiment(command).await,
        Some(Command::Calibrate(args)) => vulcan::cli::calibrate(args).await,
        Some(Command::Keys(command)) => vulcan::cli::keys(command).await,
        Some(Command::Tenants(command)) => vulcan::cli::tenants(command).await,
        Some(Command::Serve(args)) => serve(*args).await,
        None => serve(cli.serve).await,
    }
}

async fn serve(args: vulcan::config::ServeArgs) -> anyhow::Result<ExitCode> {
    let state = vulcan::server::build_state(&args).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    tracing::info!(address = %listener.local_addr()?, "vulcan listening");
    let drain = Duration::from_millis(args.drain_ms);
    let signal = shutdown_signal();
    let shutdown = {
        let state = state.clone();
        async move { vulcan::server::drain_after(&state, signal, drain).await }
    };
    vulcan::server::serve(listener, state, args.connections, shutdown).await;
    tracing::info!("vulcan stopped");
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGTERM or SIGINT; the handlers are installed at the call, so a signal that
/// comes before the future is first polled is not the default (the process's death).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    let mut interrupt = signal(SignalKind::interrupt()).expect("installing a SIGINT handler");
    async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        tracing::info!("shutting down");
    }
}
