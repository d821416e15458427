//! Creates a link, prints the URL to send the user to, waits for the outcome and prints the
//! typed results.
//!
//! ```text
//! passage mock &                                   # the local emulator (prints its URL and key)
//! PASSAGE_API_KEY=psg_test_mock PASSAGE_BASE_URL=http://127.0.0.1:4010 \
//!     cargo run -p passage-examples --example create_and_wait
//! ```
//! Open the printed URL (the emulator's sandbox page) and complete the link there, or use the
//! emulator's control API. Without `PASSAGE_BASE_URL` the production API is used.

use std::time::Duration;

use passage_connect::client::{Client, WaitOptions};
use passage_connect::link::LinkStatus;
use passage_connect::types::OperationResult;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // PASSAGE_API_KEY and PASSAGE_BASE_URL, read the way the CLI reads them.
    let client = Client::from_env()?;

    let link = client
        .links()
        .create("tmobile")
        .operation("mobileBillingStatement", "read")
        .operation("paymentMethod", "read")
        .external_user_id("example-user")
        .send()
        .await?;
    println!("link {} created", link.id);
    println!(
        "send the user to: {}",
        link.app_clip_url
            .as_deref()
            .unwrap_or("(no appClipUrl in the answer)")
    );

    let options = WaitOptions::default()
        .timeout(Duration::from_secs(15 * 60))
        .on_poll(|link| eprintln!("  status: {}", link.status));
    let done = client.links().wait_with(&link.id, &options).await?;

    match done.status {
        LinkStatus::Complete => {
            let results = done.results().ok_or("a complete link without a result")??;
            for entry in &results {
                match entry.result() {
                    Some(OperationResult::TmobileMobileBillingStatementRead(billing)) => {
                        for statement in &billing.billing {
                            println!(
                                "statement from {}: {} {}",
                                statement.period_start, statement.amount_due, statement.currency
                            );
                        }
                    }
                    Some(other) => {
                        println!("{}: {}", entry.operation, serde_json::to_string(other)?)
                    }
                    None => println!(
                        "{}: did not fit its type: {:?}",
                        entry.operation, entry.outcome
                    ),
                }
            }
        }
        LinkStatus::Failed => println!(
            "failed: {}",
            done.error.map(|e| e.to_string()).unwrap_or_default()
        ),
        other => println!("ended as {other}"),
    }
    Ok(())
}
