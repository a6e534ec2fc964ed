//! The `modelwatch` binary: command line, configuration, wiring and runtime.
//!
//! Architecture invariant: no domain logic lives here. This crate parses flags,
//! environment variables and the TOML file, opens the stores, starts the HTTP
//! server and the background loops, and shuts everything down cleanly.

mod bounded_io;
mod config;
mod monitor_cli;
mod monitor_remote;
mod proxy;
mod proxy_config;
mod server;

use clap::{Parser, Subcommand};

/// Self-hosted observability for machine-learning models.
#[derive(Parser, Debug)]
#[command(name = "modelwatch", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server: CloudWatch metrics, alarms and CloudWatch Logs APIs on embedded storage.
    #[command(after_help = server::EXAMPLES)]
    Server(config::ServerArgs),
    /// Run the inference sidecar: a reverse proxy in front of a model server that
    /// publishes SageMaker endpoint metrics, validates and captures requests.
    #[command(after_help = proxy::EXAMPLES)]
    Proxy(Box<proxy::ProxyArgs>),
    /// Compute statistics.json and constraints.json (SageMaker Model Monitor) from a data set.
    #[command(after_help = monitor_cli::BASELINE_EXAMPLES)]
    Baseline(monitor_cli::BaselineArgs),
    /// Model monitoring jobs: data quality and drift against a baseline.
    #[command(subcommand)]
    Monitor(monitor_cli::MonitorCommand),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Server(args) => {
            let cfg = config::ServerConfig::resolve(args)?;
            server::run(cfg)
        }
        Command::Proxy(args) => proxy::run(*args),
        Command::Baseline(args) => monitor_cli::baseline(args),
        Command::Monitor(cmd) => monitor_cli::run(cmd),
    }
}
