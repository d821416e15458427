//! [`MockConfig`]: everything the emulator can be started with, as one struct with `with_*` builders.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use passage_catalog::Catalog;
use passage_connect::webhook::signing::WebhookSigningKey;

/// The API key accepted when none is configured.
pub const DEFAULT_API_KEY: &str = "psg_test_mock";

/// The catalog pinned in the repository (`catalog/providers.json`), served by default.
pub const PINNED_CATALOG_JSON: &str = passage_catalog::PINNED_JSON;

/// How to start a [`MockServer`](crate::MockServer).
///
/// ```
/// use std::time::Duration;
/// let config = passage_mock::MockConfig::default()
///     .with_api_key("psg_test_other")
///     .with_seed(7)
///     .with_webhook_retry_delays(vec![Duration::from_millis(50), Duration::from_millis(50)]);
/// assert_eq!(config.api_keys, ["psg_test_mock", "psg_test_other"]);
/// ```
pub struct MockConfig {
    /// Where to listen. Default `127.0.0.1:0` (a free port; see [`MockServer::base_url`](crate::MockServer::base_url)).
    pub addr: SocketAddr,
    /// Accepted `Authorization: Bearer` keys on `/v1/*`. Default `["psg_test_mock"]`. Must not be empty.
    pub api_keys: Vec<String>,
    /// The catalog served by `GET /v1/providers` and used to validate links. Default: the pinned one.
    pub catalog: Catalog,
    /// The webhook signing key; `None` generates a fresh P-256 key at start.
    pub signing_key: Option<WebhookSigningKey>,
    /// Seed of the sample data generator: same seed + same link id gives the same sample results.
    pub seed: u64,
    /// Pauses before each webhook retry. Default `[1s, 5s]` (3 attempts, as Passage documents).
    pub webhook_retry_delays: Vec<Duration>,
    /// Base URL put in `appClipUrl` and `websocketUrl` when the emulator is reached through another
    /// address (a container, a tunnel). Default: the bound address, `http://127.0.0.1:PORT`.
    pub public_url: Option<String>,
    /// Links kept at most; past it the oldest are evicted (and answer 404). Default 10 000.
    pub max_links: usize,
    /// Bytes of link results (serialized JSON) kept at most, all links together; past it the
    /// oldest links are evicted. Default 64 MiB.
    pub max_stored_result_bytes: usize,
    /// Webhook delivery attempts kept in the log (`GET /sandbox/webhooks`); the oldest are
    /// dropped first. Default 1000.
    pub max_logged_deliveries: usize,
    /// Bytes of each logged attempt's body kept (longer bodies are cut and marked
    /// `bodyTruncated`). Default 64 KiB.
    pub max_logged_body_bytes: usize,
    /// Time a connection may take to send a request's headers, and may stay idle between
    /// requests, before it is closed. Default 10 s.
    pub header_read_timeout: Duration,
    /// Connections served at once; more are answered `503` and closed at once (so idle
    /// connections cannot use up the process's file descriptors). Default 128.
    pub max_connections: usize,
    /// Time to receive a whole request body once its head is in; a body trickled slower is
    /// answered `408` and its connection closed (so slow bodies cannot hold every connection
    /// slot). Default 10 s.
    pub body_read_timeout: Duration,
    /// Bytes of one request body; larger is answered `413`. Default 2 MiB.
    pub max_body_bytes: usize,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            api_keys: vec![DEFAULT_API_KEY.to_string()],
            catalog: pinned_catalog(),
            signing_key: None,
            seed: 0,
            webhook_retry_delays: vec![Duration::from_secs(1), Duration::from_secs(5)],
            public_url: None,
            max_links: 10_000,
            max_stored_result_bytes: 64 * 1024 * 1024,
            max_logged_deliveries: 1000,
            max_logged_body_bytes: 64 * 1024,
            header_read_timeout: Duration::from_secs(10),
            max_connections: 128,
            body_read_timeout: Duration::from_secs(10),
            max_body_bytes: 2 * 1024 * 1024,
        }
    }
}

/// Parses the pinned catalog compiled into this crate.
pub fn pinned_catalog() -> Catalog {
    // The file is checked in and parsed by `passage-catalog`'s own tests: failing here is a build bug.
    Catalog::from_slice(PINNED_CATALOG_JSON.as_bytes()).expect("the pinned catalog parses")
}

impl MockConfig {
    /// Listens on `addr` instead of a free port on 127.0.0.1.
    pub fn with_addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Accepts one more API key.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_keys.push(key.into());
        self
    }

    /// Replaces the accepted API keys (the first is [`MockServer::api_key`](crate::MockServer::api_key)).
    pub fn with_api_keys(mut self, keys: Vec<String>) -> Self {
        self.api_keys = keys;
        self
    }

    /// Serves and validates against another catalog.
    pub fn with_catalog(mut self, catalog: Catalog) -> Self {
        self.catalog = catalog;
        self
    }

    /// Signs webhooks with this key instead of a generated one.
    pub fn with_signing_key(mut self, key: WebhookSigningKey) -> Self {
        self.signing_key = Some(key);
        self
    }

    /// Sets the sample data seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the pauses before webhook retries (one retry per entry; empty = a single attempt).
    pub fn with_webhook_retry_delays(mut self, delays: Vec<Duration>) -> Self {
        self.webhook_retry_delays = delays;
        self
    }

    /// Sets the externally visible base URL used in `appClipUrl` and `websocketUrl`.
    pub fn with_public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into());
        self
    }
}

impl MockConfig {
    /// Sets how many links are kept and how many bytes of results (oldest evicted first).
    ///
    /// ```
    /// let config = passage_mock::MockConfig::default().with_store_limits(100, 1 << 20);
    /// assert_eq!((config.max_links, config.max_stored_result_bytes), (100, 1 << 20));
    /// ```
    pub fn with_store_limits(mut self, max_links: usize, max_result_bytes: usize) -> Self {
        self.max_links = max_links;
        self.max_stored_result_bytes = max_result_bytes;
        self
    }

    /// Sets how many delivery attempts the log keeps and how much of each body.
    ///
    /// ```
    /// let config = passage_mock::MockConfig::default().with_delivery_log_limits(10, 1024);
    /// assert_eq!((config.max_logged_deliveries, config.max_logged_body_bytes), (10, 1024));
    /// ```
    pub fn with_delivery_log_limits(mut self, max_entries: usize, max_body_bytes: usize) -> Self {
        self.max_logged_deliveries = max_entries;
        self.max_logged_body_bytes = max_body_bytes;
        self
    }

    /// Sets the header-read / idle timeout of connections.
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = passage_mock::MockConfig::default().with_header_read_timeout(Duration::from_secs(2));
    /// assert_eq!(config.header_read_timeout, Duration::from_secs(2));
    /// ```
    pub fn with_header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Sets how many connections are served at once.
    ///
    /// ```
    /// let config = passage_mock::MockConfig::default().with_max_connections(16);
    /// assert_eq!(config.max_connections, 16);
    /// ```
    pub fn with_max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections;
        self
    }

    /// Sets the time a request body may take to arrive.
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = passage_mock::MockConfig::default().with_body_read_timeout(Duration::from_secs(2));
    /// assert_eq!(config.body_read_timeout, Duration::from_secs(2));
    /// ```
    pub fn with_body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// Sets the largest request body accepted.
    ///
    /// ```
    /// let config = passage_mock::MockConfig::default().with_max_body_bytes(1 << 16);
    /// assert_eq!(config.max_body_bytes, 1 << 16);
    /// ```
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }
}

impl fmt::Debug for MockConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // API keys and the signing key are secrets: only their count / presence is shown.
        f.debug_struct("MockConfig")
            .field("addr", &self.addr)
            .field(
                "api_keys",
                &format_args!("[{} redacted]", self.api_keys.len()),
            )
            .field("catalog_providers", &self.catalog.providers.len())
            .field(
                "signing_key",
                &self.signing_key.as_ref().map(|_| "<redacted>"),
            )
            .field("seed", &self.seed)
            .field("webhook_retry_delays", &self.webhook_retry_delays)
            .field("public_url", &self.public_url)
            .field("max_links", &self.max_links)
            .field("max_stored_result_bytes", &self.max_stored_result_bytes)
            .field("max_logged_deliveries", &self.max_logged_deliveries)
            .field("max_logged_body_bytes", &self.max_logged_body_bytes)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("max_connections", &self.max_connections)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_api_keys() {
        let config = MockConfig::default().with_api_key("psg_live_secret");
        let text = format!("{config:?}");
        assert!(!text.contains("psg_live_secret"), "{text}");
        assert!(!text.contains(DEFAULT_API_KEY), "{text}");
        assert!(text.contains("2 redacted"), "{text}");
    }
}
