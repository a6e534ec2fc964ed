//! The `modelwatch` binary: command line, configuration, wiring and runtime.
//!
//! Architecture invariant: no domain logic lives here. This crate parses flags,
//! environment variables and the TOML file, opens the stores, starts the HTTP
//! server and the background loops, and shuts everything down cleanly.

mod config;
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
    /// Run the server: CloudWatch metrics and CloudWatch Logs APIs on embedded storage.
    #[command(after_help = server::EXAMPLES)]
    Server(config::ServerArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Server(args) => {
            let cfg = config::ServerConfig::resolve(args)?;
            server::run(cfg)
        }
    }
}
