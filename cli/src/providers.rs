//! `passage providers`: prints the provider catalog (`GET /v1/providers`).
//!
//! Contract (acceptance checks rely on it): `passage providers [--pretty] [--base-url URL]`, key
//! from `PASSAGE_API_KEY`; the catalog JSON on stdout, or with `--pretty` a table of every
//! operation.

use std::process::ExitCode;

use crate::links::{connect, Connection};

/// Arguments of `passage providers`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    connection: Connection,
    /// Print a readable table instead of JSON.
    #[arg(long)]
    pretty: bool,
}

/// Runs `passage providers`.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let client = connect(&args.connection)?;
    let catalog = client.providers().list().await?;
    if !args.pretty {
        println!("{}", serde_json::to_string(&catalog)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = vec![[
        "INTEGRATION".to_string(),
        "NAME".to_string(),
        "OPERATION".to_string(),
        "ARGUMENTS".to_string(),
        "DESCRIPTION".to_string(),
    ]];
    for op in catalog.operations() {
        rows.push([
            op.integration.to_string(),
            op.integration_name.to_string(),
            format!("{}:{}", op.resource, op.action),
            if op.spec.arguments.is_some() {
                "yes"
            } else {
                "no"
            }
            .to_string(),
            op.spec.description.clone().unwrap_or_default(),
        ]);
    }
    print!("{}", crate::links::table(&rows));
    Ok(ExitCode::SUCCESS)
}
