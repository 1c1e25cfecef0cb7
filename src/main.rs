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
    let shutdown = {
        let state = state.clone();
        async move { vulcan::server::drain_after(&state, shutdown_signal(), drain).await }
    };
    vulcan::server::serve(listener, state, shutdown).await?;
    tracing::info!("vulcan stopped");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down");
}
