//! `passage webhook reconcile`: the queue's [`Reconciler`] on the command line. Webhooks Passage
//! dropped (no receiver answered its three attempts) are found through `GET /v1/links` and queued
//! for the workers, marked `source = reconciled`.
//!
//! Contract (acceptance checks rely on it):
//! * `passage webhook reconcile --redis URL [--stream NAME] [--partitions N] (--once | --every
//!   SECS)`; the API key from `PASSAGE_API_KEY` (or `--api-key`), the API from `--base-url` /
//!   `PASSAGE_BASE_URL`, as `passage links` takes them. No key: exit 2.
//! * Each pass prints its report as one JSON line on stdout:
//!   `{"listed","terminal","already_handled","enqueued","errors","watermark","last_error"?}`.
//! * `--once`: one pass, exit 0, or 1 when the pass had errors. `--every SECS`: a pass every SECS
//!   until SIGTERM or Ctrl-C, then exit 0.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use passage_connect::queue::{ReconcileReport, Reconciler, ReconcilerConfig};

use crate::exit::Code;
use crate::links::{connect, Connection};
use crate::webhook_queue::QueueArgs;

/// Arguments of `passage webhook reconcile`.
#[derive(Debug, clap::Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    queue: QueueArgs,
    #[command(flatten)]
    connection: Connection,
    /// Make one pass, print its report and exit (1 if the pass had errors).
    #[arg(long, conflicts_with = "every", required_unless_present = "every")]
    once: bool,
    /// Make a pass every SECS seconds until SIGTERM or Ctrl-C.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    every: Option<u64>,
    /// Reconcile a link only once its `updatedAt` is this old (past Passage's 0/1/5 s retries).
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    grace_ms: u64,
    /// How far back the first pass looks, in seconds (keep it below the dedupe TTL, 1 h).
    #[arg(long, value_name = "SECS", default_value_t = 3_000)]
    lookback_secs: u64,
    /// Ask the API for pages of N links (`?limit=N`, undocumented upstream).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    page_size: Option<u32>,
}

/// Runs `passage webhook reconcile`.
pub async fn run(args: ReconcileArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&args.connection)?;
    let mut config = ReconcilerConfig::new()
        .with_grace(Duration::from_millis(args.grace_ms))
        .with_lookback(Duration::from_secs(args.lookback_secs));
    if let Some(size) = args.page_size {
        config = config.with_page_size(size);
    }
    let reconciler = Reconciler::connect(&args.queue.redis, args.queue.config(), client, config)
        .await
        .context("connecting to redis")?;
    let Some(every) = args.every else {
        let report = reconciler.run_once().await?;
        print_report(&report)?;
        return Ok(if report.errors == 0 {
            ExitCode::SUCCESS
        } else {
            Code::Failure.into()
        });
    };
    let mut stop = std::pin::pin!(crate::signal::shutdown()?);
    loop {
        match reconciler.run_once().await {
            Ok(report) => print_report(&report)?,
            // Redis unavailable for the watermark: logged, and the next pass tries again.
            Err(err) => tracing::warn!(error = %err, "reconcile pass failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(every)) => {}
            () = &mut stop => return Ok(ExitCode::SUCCESS),
        }
    }
}

fn print_report(report: &ReconcileReport) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, report)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}
