//! # passage-mock
//!
//! A local emulator of the Passage Connect API, what stripe-mock is for Stripe: a real HTTP
//! server on 127.0.0.1 that speaks the API as `passage-api.md` describes it (links, claims, the
//! provider catalog, verification keys), validates `arguments` against the catalog's JSON
//! Schemas, serves a sandbox page at each link's `appClipUrl`, sends ES256-signed webhooks with
//! retries, and injects faults (error statuses, delays, dropped connections, malformed JSON, the
//! older nested error bodies) so clients can be tested against real HTTP.
//!
//! ```no_run
//! use passage_mock::{Fault, FaultKind, FaultRoute, MockConfig, MockServer};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let mock = MockServer::start(MockConfig::default()).await?;
//! let client = reqwest::Client::new();
//! let created: serde_json::Value = client
//!     .post(format!("{}/v1/links", mock.base_url()))
//!     .bearer_auth(mock.api_key())
//!     .json(&serde_json::json!({
//!         "integrationId": "tmobile",
//!         "operations": [{"resource": "mobileBillingStatement", "action": "read"}]
//!     }))
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! let link_id = created["linkId"].as_str().unwrap_or_default();
//! // Complete it with sample data generated from the result schema.
//! mock.complete_link(link_id, None).await?;
//! // The next GET /v1/links/{id} answers 503 with Retry-After: 1.
//! mock.inject_fault(Fault::new(FaultRoute::GetLink, FaultKind::Status { status: 503, retry_after: Some(1) }));
//! mock.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! The same operations are available over HTTP under `/sandbox` (see the crate README), and from
//! the command line with `passage mock`.
#![deny(missing_docs)]

mod api;
mod config;
mod control;
mod error;
mod fault;
mod keys;
mod middleware;
mod page;
mod samples;
mod serve;
mod server;
mod state;
mod store;
mod validation;
mod webhook;

pub use config::{pinned_catalog, MockConfig, DEFAULT_API_KEY, PINNED_CATALOG_JSON};
pub use control::{ControlRoute, CONTROL_ROUTES};
pub use error::MockError;
pub use fault::{Fault, FaultKind, FaultRoute, MAX_FAULT_DELAY_MS};
pub use passage_connect::webhook::signing::WebhookSigningKey;
pub use server::MockServer;
pub use webhook::{DeliveryOutcome, WebhookDelivery};
