//! `passage decode`: decodes an operation's result JSON into its generated type and prints it
//! re-serialized, so a payload can be checked against the SDK's types from a shell.
//!
//! Contract (acceptance checks rely on it): `passage decode --integration I --resource R
//! --action A [FILE|-]` (or `--operation R:A`, the form `links create` takes); exit 0 and the re-serialized JSON on stdout when the data fits; exit 4
//! with an error naming the JSON path when it does not; exit 3 when the input cannot be read or
//! is not JSON; exit 2 for an unknown integration or operation (the `passage --help` table).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use passage_generated::decode_result;
use serde::de::IgnoredAny;

use crate::exit::{coded, Code, OrExit as _};

/// Arguments of `passage decode`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Integration id, e.g. `tmobile`.
    #[arg(long)]
    integration: String,
    /// Resource, e.g. `mobileBillingStatement` (or give `--operation`).
    #[arg(long, required_unless_present = "operation", requires = "action")]
    resource: Option<String>,
    /// Action, e.g. `read` (or give `--operation`).
    #[arg(long, required_unless_present = "operation", requires = "resource")]
    action: Option<String>,
    /// The operation as `RESOURCE:ACTION`, as `links create` and `webhook verify` take it.
    #[arg(long, value_name = "RESOURCE:ACTION", conflicts_with_all = ["resource", "action"], value_parser = crate::hints::parse_operation)]
    operation: Option<passage_connect::link::OperationRef>,
    /// Pretty-print the output.
    #[arg(long)]
    pretty: bool,
    /// File holding the operation's data JSON; `-` or nothing reads standard input.
    #[arg(value_name = "FILE|-")]
    input: Option<PathBuf>,
}

/// Runs `passage decode`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    // clap guarantees one of the two forms.
    let (resource, action) = match (&args.operation, &args.resource, &args.action) {
        (Some(op), _, _) => (op.resource.clone(), op.action.clone()),
        (None, Some(resource), Some(action)) => (resource.clone(), action.clone()),
        _ => {
            return Err(coded(
                Code::Usage,
                anyhow!("give --operation RESOURCE:ACTION, or --resource and --action"),
            ))
        }
    };
    crate::hints::check_operation(&args.integration, &resource, &action, None)
        .map_err(|message| coded(Code::Usage, anyhow!(message)))?;
    let data = read_input(args.input.as_deref()).or_exit(Code::BadInput)?;
    // Malformed JSON is bad input (3), not a schema mismatch (4): a script must tell them apart.
    if let Err(err) = serde_json::from_slice::<IgnoredAny>(&data) {
        return Err(coded(
            Code::BadInput,
            anyhow!(
                "{} is not valid JSON: {err}",
                input_name(args.input.as_deref())
            ),
        ));
    }
    match decode_result(&args.integration, &resource, &action, &data) {
        Ok(result) => {
            let text = if args.pretty {
                serde_json::to_string_pretty(&result)?
            } else {
                serde_json::to_string(&result)?
            };
            println!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => Err(coded(
            Code::DoesNotFit,
            anyhow!(
                "{} {}/{} does not fit its type at JSON path `{}`: {}",
                err.integration,
                err.resource,
                err.action,
                err.path,
                err.message
            ),
        )),
    }
}

fn input_name(path: Option<&std::path::Path>) -> String {
    match path {
        Some(p) if p.as_os_str() != "-" => p.display().to_string(),
        _ => "standard input".to_string(),
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
