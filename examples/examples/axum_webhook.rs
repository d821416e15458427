//! A Passage webhook receiver on axum: verifies `X-Passage-Signature` with keys fetched from
//! `{PASSAGE_BASE_URL}/webhook_verification_key/get`, drops redeliveries with a
//! [`MemoryDedupeStore`] (claim first, record done after processing: see
//! `passage_connect::dedupe`), answers 200 at once and processes in a spawned task: it looks the link
//! up (`GET /v1/links/{id}`: the webhook body names neither the integration nor the operations)
//! and logs each operation's typed result.
//!
//! ```text
//! PASSAGE_API_KEY=psg_test_mock PASSAGE_BASE_URL=http://127.0.0.1:4010 \
//!   cargo run -p passage-examples --example axum_webhook
//! ```
//!
//! Configured like the `passage` CLI and [`Client::from_env`]: `PASSAGE_API_KEY`, and
//! `PASSAGE_BASE_URL` for both the API and the verification keys (production when unset). It
//! listens on `http://127.0.0.1:9000/webhook` ([`DEFAULT_ADDR`], [`WEBHOOK_PATH`]), the
//! `--webhook-url` of the README's quickstart; `WEBHOOK_ADDR` sets another address.
//! [`receiver_router`] builds the router, so tests (and your own code) can run the exact same
//! receiver.
//!
//! Answering 2xx before processing means a processing failure is not retried by Passage: the
//! link's status stays readable with `GET /v1/links/{id}`, so poll or re-fetch for links whose
//! processing failed. A dedupe store error, or a delivery of an event still being processed,
//! answers 503 so that Passage retries.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use passage_connect::client::Client;
use passage_connect::dedupe::{Claim, DedupeKey, DedupeStore, MemoryDedupeStore};
use passage_connect::link::{LinkFailure, LinkResults, ResultError};
use passage_connect::webhook::axum::VerifiedWebhookEvent;
use passage_connect::webhook::{RemoteKeys, WebhookEvent, WebhookVerifier};
use tokio::sync::mpsc;

/// The path webhooks are POSTed to (the README quickstart's `--webhook-url` ends with it).
pub const WEBHOOK_PATH: &str = "/webhook";

/// The address the receiver listens on unless `WEBHOOK_ADDR` says otherwise (the README
/// quickstart's `--webhook-url http://127.0.0.1:9000/webhook`).
pub const DEFAULT_ADDR: &str = "127.0.0.1:9000";

/// One event after processing, sent to [`ReceiverState::processed`] if set.
#[derive(Debug)]
#[non_exhaustive]
pub enum ProcessedEvent {
    /// `link.complete`: the link's integration and its results decoded per operation (or why
    /// they could not be: the lookup failed, or the result did not match the operations).
    Complete {
        /// The link.
        link_id: String,
        /// The link's integration, from `GET /v1/links/{id}`.
        integration: String,
        /// The decoded results.
        results: Result<LinkResults, String>,
    },
    /// `link.failed`.
    Failed {
        /// The link.
        link_id: String,
        /// Why, as sent.
        error: Option<LinkFailure>,
    },
    /// An event this SDK does not know.
    Unknown {
        /// Its name.
        event: String,
    },
}

/// What the receiver's handlers share.
#[derive(Clone)]
pub struct ReceiverState {
    /// Verifies signatures.
    pub verifier: WebhookVerifier,
    /// Remembers events already processed.
    pub dedupe: Arc<dyn DedupeStore>,
    /// Looks links up to learn their integration and operations.
    pub client: Client,
    /// Where processed events go (tests); `None` to only log them.
    pub processed: Option<mpsc::UnboundedSender<ProcessedEvent>>,
}

impl FromRef<ReceiverState> for WebhookVerifier {
    fn from_ref(state: &ReceiverState) -> Self {
        state.verifier.clone()
    }
}

impl ReceiverState {
    /// A receiver for the API at `client`'s base URL: keys from its
    /// `/webhook_verification_key/get`, an in-memory dedupe store with default bounds.
    pub fn new(client: Client) -> Self {
        let keys = RemoteKeys::for_client(&client);
        Self {
            verifier: WebhookVerifier::new(keys),
            dedupe: Arc::new(MemoryDedupeStore::new()),
            client,
            processed: None,
        }
    }
}

/// The receiver's router: `POST /webhook`.
pub fn receiver_router(state: ReceiverState) -> Router {
    Router::new()
        .route(WEBHOOK_PATH, post(receive))
        .with_state(state)
}

/// Verified (by the extractor, which answers 400/401/413/503 itself), deduped, then spawned.
async fn receive(
    State(state): State<ReceiverState>,
    VerifiedWebhookEvent { event, webhook, .. }: VerifiedWebhookEvent,
) -> StatusCode {
    let key = DedupeKey::from_event(&event);
    match &key {
        Some(key) => match state.dedupe.claim(key).await {
            Ok(Claim::Acquired(_)) => {}
            Ok(Claim::Done) => {
                tracing::info!(%key, "duplicate webhook delivery ignored");
                return StatusCode::OK;
            }
            Ok(_in_progress) => {
                tracing::info!(%key, "event still being processed; asking Passage to retry");
                return StatusCode::SERVICE_UNAVAILABLE;
            }
            Err(err) => {
                tracing::warn!(%key, error = %err, "dedupe store failed; asking Passage to retry");
                return StatusCode::SERVICE_UNAVAILABLE;
            }
        },
        None => tracing::info!(event = event.name(), "unknown webhook event (not deduped)"),
    }
    tracing::debug!(
        kid = webhook.kid(),
        iat = webhook.issued_at(),
        "webhook verified"
    );
    tokio::spawn(process(state, event, key));
    StatusCode::OK
}

async fn process(state: ReceiverState, event: WebhookEvent, key: Option<DedupeKey>) {
    let processed = match event {
        WebhookEvent::LinkComplete(link) => {
            let (integration, results) = match state.client.links().get(&link.link_id).await {
                Ok(stored) => {
                    let results = link
                        .decode_results(&stored.integration_id, &stored.operations)
                        .map_err(|err: ResultError| err.to_string());
                    (stored.integration_id, results)
                }
                Err(err) => (
                    String::new(),
                    Err(format!("GET /v1/links/{}: {err}", link.link_id)),
                ),
            };
            log_results(&link.link_id, &integration, &results);
            ProcessedEvent::Complete {
                link_id: link.link_id,
                integration,
                results,
            }
        }
        WebhookEvent::LinkFailed(link) => {
            tracing::warn!(link_id = %link.link_id, error = ?link.error, "link failed");
            ProcessedEvent::Failed {
                link_id: link.link_id,
                error: link.error,
            }
        }
        other => {
            tracing::info!(event = other.name(), "ignoring unknown event");
            ProcessedEvent::Unknown {
                event: other.name().to_owned(),
            }
        }
    };
    // Done after processing: a redelivery from now on is a duplicate. Had this task died
    // before, the claim's lease would end and a redelivery would be processed.
    if let Some(key) = &key {
        if let Err(err) = state.dedupe.complete(key).await {
            tracing::warn!(%key, error = %err, "could not record the event as done");
        }
    }
    if let Some(tx) = &state.processed {
        let _ = tx.send(processed);
    }
}

fn log_results(link_id: &str, integration: &str, results: &Result<LinkResults, String>) {
    let results = match results {
        Ok(results) => results,
        Err(err) => {
            tracing::error!(link_id, integration, error = %err, "could not decode link result");
            return;
        }
    };
    for entry in results {
        match &entry.outcome {
            Ok(result) => tracing::info!(
                link_id,
                integration,
                operation = %entry.operation,
                data = %serde_json::to_string(result).unwrap_or_default(),
                "operation result"
            ),
            Err(err) => tracing::error!(
                link_id,
                integration,
                operation = %entry.operation,
                error = %err,
                "operation result does not fit its type"
            ),
        }
    }
}

#[allow(dead_code)] // The e2e test includes this file as a module and calls only the router.
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,passage_connect=debug".into()),
        )
        .init();
    // PASSAGE_API_KEY and PASSAGE_BASE_URL, read the way the CLI reads them.
    let client = Client::from_env()?;
    let addr: SocketAddr = std::env::var("WEBHOOK_ADDR")
        .unwrap_or_else(|_| DEFAULT_ADDR.into())
        .parse()?;
    let api = client.base_url().to_string();
    let app = receiver_router(ReceiverState::new(client));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(
        url = %format!("http://{addr}{WEBHOOK_PATH}"),
        %api,
        "listening for Passage webhooks"
    );
    axum::serve(listener, app).await?;
    Ok(())
}
