//! `passage`: the command-line front end of passage-rs. Thin: every subcommand calls a library.
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod decode;
mod links;
mod mock;
mod providers;
mod webhook;
mod webhook_queue;

/// Passage Connect from the command line.
#[derive(Debug, Parser)]
#[command(name = "passage", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode an operation's result JSON into its generated type and print it re-serialized.
    Decode(decode::Args),
    /// Verify or sign webhooks.
    #[command(subcommand)]
    Webhook(webhook::Command),
    /// Create, get, wait for and list links (key from PASSAGE_API_KEY).
    #[command(subcommand)]
    Links(links::Command),
    /// List the provider catalog (key from PASSAGE_API_KEY).
    Providers(providers::Args),
    /// Run the local Passage Connect emulator.
    Mock(mock::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(2);
        }
    };
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Decode(args) => decode::run(args).await,
            Command::Webhook(cmd) => webhook::run(cmd).await,
            Command::Links(cmd) => links::run(cmd).await,
            Command::Providers(args) => providers::run(args).await,
            Command::Mock(args) => mock::run(args).await,
        }
    });
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}
