//! `passage`: the command-line front end of passage-rs. Thin: every subcommand calls a library.
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod child_guard;
mod decode;
mod exit;
mod hints;
mod links;
mod mock;
mod providers;
mod reconcile;
mod signal;
mod webhook;
mod webhook_queue;

/// Passage Connect from the command line.
#[derive(Debug, Parser)]
#[command(name = "passage", version, about, after_help = exit::TABLE)]
struct Cli {
    /// Log more on stderr: -v info (and `links`: the request id of each answer), -vv debug (each
    /// retry of an API call), -vvv trace. Without it, warnings only (`passage mock`: info, so
    /// each webhook delivery shows). `RUST_LOG` (e.g. `RUST_LOG=passage_connect=debug`), when
    /// set, wins.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

/// Installs the stderr log subscriber: `RUST_LOG` if set, else the level `-v` asks for. The
/// emulator talks by default (`info`: every webhook delivery attempt), like the Stripe CLI.
fn init_logging(verbose: u8, talkative: bool) {
    use tracing_subscriber::EnvFilter;
    let level = match verbose {
        0 if talkative => "info",
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::new(spec),
        _ => EnvFilter::new(level),
    };
    // stdout carries command output (JSON); logs never mix into it.
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colours only for a person at a terminal, never into a log file or a pipe.
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
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
    init_logging(cli.verbose, matches!(cli.command, Command::Mock(_)));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return exit::Code::Failure.into();
        }
    };
    let verbose = cli.verbose > 0;
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Decode(args) => decode::run(args).await,
            Command::Webhook(cmd) => webhook::run(cmd).await,
            Command::Links(cmd) => links::run(cmd, verbose).await,
            Command::Providers(args) => providers::run(args).await,
            Command::Mock(args) => mock::run(args).await,
        }
    });
    match outcome {
        Ok(code) => code,
        Err(err) => {
            let (code, text) = exit::classify(&err);
            eprintln!("error: {text}");
            // What to quote when asking Passage about the failed call.
            if let Some(id) = exit::request_id(&err) {
                eprintln!("request id: {id}");
            }
            if let Some(hint) = exit::hint(&err) {
                eprintln!("hint: {hint}");
            }
            code.into()
        }
    }
}
