//! (being written)
use std::process::ExitCode;

/// Subcommands (being written).
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Placeholder.
    Placeholder,
}

/// Runs the subcommand.
pub async fn run(_cmd: Command) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet available")
}
