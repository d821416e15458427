//! `passage decode`: decodes an operation's result JSON into its generated type and prints it
//! re-serialized, so a payload can be checked against the SDK's types from a shell.
//!
//! Contract (acceptance checks rely on it): `passage decode --integration I --resource R
//! --action A [FILE|-]`; exit 0 and the re-serialized JSON on stdout when the data fits; exit 1
//! with an error naming the JSON path when it does not.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use passage_generated::{decode_result, find_operation, OPERATIONS};

/// Arguments of `passage decode`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Integration id, e.g. `tmobile`.
    #[arg(long)]
    integration: String,
    /// Resource, e.g. `mobileBillingStatement`.
    #[arg(long)]
    resource: String,
    /// Action, e.g. `read`.
    #[arg(long)]
    action: String,
    /// Pretty-print the output.
    #[arg(long)]
    pretty: bool,
    /// File holding the operation's data JSON; `-` or nothing reads standard input.
    #[arg(value_name = "FILE|-")]
    input: Option<PathBuf>,
}

/// Runs `passage decode`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let data = read_input(args.input.as_deref())?;
    if find_operation(&args.integration, &args.resource, &args.action).is_none() {
        let known: Vec<String> = OPERATIONS
            .iter()
            .filter(|op| op.integration == args.integration)
            .map(|op| format!("{}:{}", op.resource, op.action))
            .collect();
        if known.is_empty() {
            let integrations: std::collections::BTreeSet<&str> =
                OPERATIONS.iter().map(|op| op.integration).collect();
            bail!(
                "unknown integration `{}` (known: {})",
                args.integration,
                integrations.into_iter().collect::<Vec<_>>().join(", ")
            );
        }
        bail!(
            "`{}` has no operation {}:{} (known: {})",
            args.integration,
            args.resource,
            args.action,
            known.join(", ")
        );
    }
    match decode_result(&args.integration, &args.resource, &args.action, &data) {
        Ok(result) => {
            let text = if args.pretty {
                serde_json::to_string_pretty(&result)?
            } else {
                serde_json::to_string(&result)?
            };
            println!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            eprintln!(
                "error: {} {}/{} does not fit its type at JSON path `{}`: {}",
                err.integration, err.resource, err.action, err.path, err.message
            );
            Ok(ExitCode::from(1))
        }
    }
}

fn read_input(path: Option<&std::path::Path>) -> anyhow::Result<Vec<u8>> {
    match path {
        None => read_stdin(),
        Some(p) if p.as_os_str() == "-" => read_stdin(),
        Some(p) => std::fs::read(p).with_context(|| format!("reading {}", p.display())),
    }
}

fn read_stdin() -> anyhow::Result<Vec<u8>> {
    let mut data = Vec::new();
    std::io::stdin()
        .read_to_end(&mut data)
        .context("reading standard input")?;
    Ok(data)
}
