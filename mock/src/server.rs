//! [`MockServer`]: starts the emulator on a socket and drives it from Rust.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use passage_serve::ServeLimits;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::MockConfig;
use crate::error::MockError;
use crate::fault::Fault;
use crate::keys::KeyRing;
use crate::middleware::{
    add_request_id, json_errors, require_json_post, require_local_host, AllowedHosts,
};
use crate::state::{LogLimits, Shared, SharedParts};
use crate::store::now_ms;
use crate::store::StoreLimits;
use crate::validation::Registry;
use crate::webhook::WebhookDelivery;
use crate::{api, control, page};

/// A running emulator. Dropping it stops it too; [`MockServer::shutdown`] also waits for the
/// accept loop to end.
pub struct MockServer {
    shared: Arc<Shared>,
    base_url: String,
    api_key: String,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("base_url", &self.base_url)
            .field("api_key", &"<redacted>")
            .finish()
    }
}

fn check_config(config: &MockConfig) -> Result<(), MockError> {
    if config.api_keys.is_empty() {
        return Err(MockError::Config {
            field: "api_keys",
            message: "at least one API key is needed".into(),
        });
    }
    if let Some(index) = config
        .api_keys
        .iter()
        .position(|key| key.trim().is_empty() || key.chars().any(char::is_whitespace))
    {
        return Err(MockError::Config {
            field: "api_keys",
            message: format!("key #{index} is empty or contains whitespace"),
        });
    }
    if let Some(url) = &config.public_url {
        let parsed = url::Url::parse(url).map_err(|err| MockError::Config {
            field: "public_url",
            message: format!("not a URL: {err}"),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(MockError::Config {
                field: "public_url",
                message: "must be an http:// or https:// URL".into(),
            });
        }
    }
    if config.max_connections == 0 {
        return Err(MockError::Config {
            field: "max_connections",
            message: "at least one connection must be allowed".into(),
        });
    }
    if config.header_read_timeout.is_zero() {
        return Err(MockError::Config {
            field: "header_read_timeout",
            message: "must be longer than zero".into(),
        });
    }
    if config.body_read_timeout.is_zero() {
        return Err(MockError::Config {
            field: "body_read_timeout",
            message: "must be longer than zero".into(),
        });
    }
    Ok(())
}

/// The emulator's connection limits. One setting bounds both a slow head and an idle
/// keep-alive connection, as it always has (`header_read_timeout`); shutdown closes connections
/// at once (no grace), so a test's `shutdown().await` never waits on a delayed request.
fn serve_limits(config: &MockConfig) -> ServeLimits {
    ServeLimits::default()
        .with_header_read_timeout(config.header_read_timeout)
        .with_idle_timeout(config.header_read_timeout)
        .with_body_read_timeout(config.body_read_timeout)
        .with_max_body_bytes(config.max_body_bytes)
        .with_max_connections(config.max_connections)
        .with_shutdown_grace(Duration::ZERO)
}

impl MockServer {
    /// Compiles the catalog's schemas, binds `config.addr` and starts serving.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), passage_mock::MockError> {
    /// let mock = passage_mock::MockServer::start(passage_mock::MockConfig::default()).await?;
    /// println!("{} with key {}", mock.base_url(), mock.api_key());
    /// mock.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub async fn start(config: MockConfig) -> Result<MockServer, MockError> {
        check_config(&config)?;
        let limits = serve_limits(&config);
        let registry = Registry::compile(&config.catalog)?;
        let catalog_json =
            serde_json::to_vec(&config.catalog).map_err(|err| MockError::Config {
                field: "catalog",
                message: format!("cannot serialize: {err}"),
            })?;
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|source| MockError::Bind {
                addr: config.addr,
                source,
            })?;
        let local = listener.local_addr().map_err(|source| MockError::Bind {
            addr: config.addr,
            source,
        })?;
        let base_url = format!("http://{local}");
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| base_url.clone())
            .trim_end_matches('/')
            .to_string();
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared::new(SharedParts {
            api_keys: config.api_keys.clone(),
            catalog_json,
            registry,
            seed: config.seed,
            retry_delays: config.webhook_retry_delays.clone(),
            public_url,
            keys: KeyRing::new(config.signing_key, now_ms()),
            shutdown: stopped.clone(),
            store_limits: StoreLimits {
                max_links: config.max_links,
                max_result_bytes: config.max_stored_result_bytes,
            },
            log_limits: LogLimits {
                max_entries: config.max_logged_deliveries,
                max_body_bytes: config.max_logged_body_bytes,
            },
        })?);
        if !local.ip().is_loopback() {
            tracing::warn!(
                addr = %local,
                "the emulator is bound to a non-loopback address: it is a local test tool (no TLS, a public control API, test keys), not a server to expose"
            );
        }
        let hosts = Arc::new(AllowedHosts::new(local, config.public_url.as_deref()));
        let json_post = axum::middleware::from_fn(require_json_post);
        let router = Router::new()
            .merge(api::router(Arc::clone(&shared)).layer(json_post.clone()))
            .merge(control::router(Arc::clone(&shared)).layer(json_post))
            // The page's own form posts are HTML forms (they carry the link's claim code).
            .merge(page::router(Arc::clone(&shared)))
            // Every route, the API's included: a DNS-rebinding page could otherwise use the
            // documented default key to create and read links.
            .layer(axum::middleware::from_fn_with_state(
                hosts,
                require_local_host,
            ))
            .layer(axum::middleware::from_fn(json_errors))
            // Outermost: rejections of the layers above carry an id too.
            .layer(axum::middleware::from_fn(add_request_id));
        let task = tokio::spawn(passage_serve::serve(listener, router, limits, async move {
            let mut stopped = stopped;
            passage_serve::stopped(&mut stopped).await;
        }));
        Ok(MockServer {
            shared,
            base_url,
            api_key: config.api_keys[0].clone(),
            stop,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT` (the bound address).
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The first accepted API key.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The current webhook signing key id, e.g. `wsk_1705936800000`.
    pub fn key_id(&self) -> String {
        self.shared.keys().current_kid().to_string()
    }

    /// The current verification (public) key, PEM SPKI.
    pub fn public_key_pem(&self) -> String {
        self.shared.keys().current_public_pem()
    }

    /// Completes a link: `result` is stored verbatim; `None` generates sample data from each
    /// operation's result schema. A pending or failed link is claimed implicitly. Sends
    /// `link.complete` to the link's `webhookUrl`, if any.
    pub async fn complete_link(
        &self,
        link_id: &str,
        result: Option<Value>,
    ) -> Result<(), MockError> {
        self.shared.complete_link(link_id, result).map(|_| ())
    }

    /// Fails a link with `{code, message}` and sends `link.failed`. The link can be claimed again.
    pub async fn fail_link(
        &self,
        link_id: &str,
        code: &str,
        message: &str,
    ) -> Result<(), MockError> {
        self.shared.fail_link(link_id, code, message).map(|_| ())
    }

    /// Moves a link's `expiresAt` to now: it reads `expired` and claims get 410.
    pub async fn expire_link(&self, link_id: &str) -> Result<(), MockError> {
        self.shared.expire_link(link_id).map(|_| ())
    }

    /// Queues a fault for the next matching API requests.
    pub fn inject_fault(&self, fault: Fault) {
        self.shared.add_fault(fault);
    }

    /// Removes every queued fault.
    pub fn clear_faults(&self) {
        self.shared.clear_faults();
    }

    /// Makes a fresh signing key current and returns its id; old keys stay fetchable.
    pub fn rotate_signing_key(&self) -> String {
        self.shared.keys().rotate(now_ms())
    }

    /// How many links the store holds (created, minus those evicted by the store limits).
    pub fn link_count(&self) -> usize {
        self.shared.store().len()
    }

    /// The logged webhook delivery attempts, oldest first: the newest
    /// [`MockConfig::max_logged_deliveries`](crate::MockConfig::max_logged_deliveries), each body
    /// cut to [`MockConfig::max_logged_body_bytes`](crate::MockConfig::max_logged_body_bytes).
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        self.shared.deliveries()
    }

    /// Stops accepting, closes connections, cancels pending webhook retries, and waits for the
    /// accept loop to end.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
