//! The HTTP client of the Passage Connect API: [`Client`] and its builder, links
//! ([`Client::links`]) and the provider catalog ([`Client::providers`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), passage_connect::Error> {
//! use passage_connect::client::Client;
//! let client = Client::from_env()?; // PASSAGE_API_KEY
//! let link = client
//!     .links()
//!     .create("tmobile")
//!     .operation("mobileBillingStatement", "read")
//!     .send()
//!     .await?;
//! println!("send the user to {}", link.app_clip_url.as_deref().unwrap_or_default());
//! let done = client.links().wait(&link.id).await?;
//! if let Some(Ok(results)) = done.results() {
//!     for entry in &results {
//!         println!("{}: {:?}", entry.operation, entry.result());
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Retries: GETs are retried on 429/5xx/transport errors per [`RetryPolicy`]. `POST /v1/links`
//! is sent a second time **only** when the first attempt never established a connection, since
//! the API has no idempotency key and a repeated create makes a second link; any other failure
//! after sending is reported as [`Error::Indeterminate`].
//!
//! Each call is a builder ([`GetLink`], [`ListLinks`], [`CreateLink`], [`ListProviders`]):
//! awaiting it makes the call; `.with_response()` returns a [`Response`] with the answer's
//! [`ResponseMeta`] (status, headers, request id, attempts, time); `.timeout(..)`,
//! `.max_retries(..)`, `.retry(..)` and `.header(..)` before either override the client's
//! settings for that call only ([`RequestOptions`]). Error answers carry the same metadata
//! ([`Error::meta`], [`Error::request_id`]).
//!
//! ```no_run
//! # async fn demo(client: passage_connect::Client) -> Result<(), passage_connect::Error> {
//! use std::time::Duration;
//! let response = client
//!     .links()
//!     .get("link_abc123")
//!     .timeout(Duration::from_secs(5))
//!     .max_retries(0)
//!     .header("x-trace-id", "trace-42")
//!     .with_response()
//!     .await?;
//! eprintln!("request id: {}", response.request_id().unwrap_or("-"));
//! let link = response.into_inner();
//! # Ok(()) }
//! ```
//!
//! Hostile answers: every body is read under a size cap ([`ClientBuilder::max_body_bytes`],
//! [`Error::BodyTooLarge`] past it), and redirects are followed only
//! for a `GET` to the same origin; a redirected `POST` or a redirect to another origin is
//! [`Error::Redirect`], so a request body (card data) is never sent to a
//! host the base URL did not name.

mod body;
mod calls;
mod http;
mod links;
mod model;
mod notify;
mod options;
mod providers;
mod response;
mod retry;
mod validate;
mod wait;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;
use url::Url;

use crate::error::Error;

pub(crate) use body::{excerpt, read_capped, redact_credentials, ReadError};
pub use body::{DEFAULT_MAX_BODY_BYTES, ERROR_EXCERPT_BYTES};
pub use calls::{CallFuture, GetLink, ListLinks, ListProviders};
pub use links::{CreateLink, LinkPages, Links, ListFilter};
pub use model::{Link, LinkList, LinkSummary, CURSOR_FIELDS, HAS_MORE_FIELDS};
pub use notify::LinkNotifier;
pub use options::RequestOptions;
pub use providers::Providers;
pub use response::{request_id_from, Response, ResponseMeta, REQUEST_ID_HEADERS};
pub use retry::{parse_retry_after, RetryEvent, RetryPolicy, RetryReason};
pub use wait::WaitOptions;

/// The environment variable [`Client::from_env`] reads the key from.
pub const API_KEY_ENV: &str = "PASSAGE_API_KEY";

/// The environment variable [`Client::from_env`] reads the base URL from (as the `passage` CLI
/// does); unset or empty means [`PRODUCTION_URL`].
pub const BASE_URL_ENV: &str = "PASSAGE_BASE_URL";

/// The production base URL.
pub const PRODUCTION_URL: &str = "https://connect.getpassage.ai";
/// The development base URL.
pub const DEVELOPMENT_URL: &str = "https://connect.dev.getpassage.ai";

/// A Passage API key (`psg_...`). A secret: its `Debug` prints `ApiKey(****)`, it has no
/// `Display`, and it is sent only in the `Authorization` header (marked sensitive).
///
/// ```
/// let key = passage_connect::client::ApiKey::new("psg_secret");
/// assert_eq!(format!("{key:?}"), "ApiKey(****)");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key itself, for callers that must pass it on (e.g. to another process).
    ///
    /// ```
    /// let key = passage_connect::client::ApiKey::new("psg_x");
    /// assert_eq!(key.expose_secret(), "psg_x");
    /// ```
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    fn header_value(&self) -> Result<HeaderValue, Error> {
        let mut value =
            HeaderValue::from_str(&format!("Bearer {}", self.0)).map_err(|_| Error::Config {
                message: "the API key contains characters that cannot be sent in an HTTP header"
                    .into(),
            })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(****)")
    }
}

impl From<String> for ApiKey {
    fn from(key: String) -> Self {
        Self(key)
    }
}

impl From<&str> for ApiKey {
    fn from(key: &str) -> Self {
        Self(key.to_owned())
    }
}

/// Which Passage deployment to talk to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Environment {
    /// `https://connect.getpassage.ai`.
    #[default]
    Production,
    /// `https://connect.dev.getpassage.ai`.
    Development,
    /// Any other base URL (an older host, `passage mock`, a proxy). A path prefix is kept.
    Custom(String),
}

impl Environment {
    /// The base URL text.
    ///
    /// ```
    /// use passage_connect::client::Environment;
    /// assert_eq!(Environment::Development.base_url(), "https://connect.dev.getpassage.ai");
    /// ```
    pub fn base_url(&self) -> &str {
        match self {
            Environment::Production => PRODUCTION_URL,
            Environment::Development => DEVELOPMENT_URL,
            Environment::Custom(url) => url,
        }
    }
}

/// Builds a [`Client`]: base URL, timeouts, user agent, HTTP client, retry policy.
///
/// Building is offline (nothing is sent until a call):
///
/// ```
/// use std::time::Duration;
/// use passage_connect::client::{Client, Environment, RetryPolicy};
/// let client = Client::builder("psg_...")
///     .environment(Environment::Development)
///     .timeout(Duration::from_secs(20))
///     .retry_policy(RetryPolicy::default().with_max_retries(5))
///     .build()?;
/// assert_eq!(client.base_url().as_str(), "https://connect.dev.getpassage.ai/");
/// assert_eq!(client.timeout(), Duration::from_secs(20));
/// assert_eq!(client.retry_policy().max_retries(), 5);
/// # Ok::<(), passage_connect::Error>(())
/// ```
#[derive(Debug)]
pub struct ClientBuilder {
    key: ApiKey,
    environment: Environment,
    timeout: Duration,
    connect_timeout: Duration,
    user_agent: String,
    http: Option<reqwest::Client>,
    retry: RetryPolicy,
    on_retry: Option<retry::RetryHook>,
    max_body_bytes: usize,
}

/// The default `User-Agent`.
pub const DEFAULT_USER_AGENT: &str = concat!("passage-connect-rust/", env!("CARGO_PKG_VERSION"));

impl ClientBuilder {
    fn new(key: ApiKey) -> Self {
        Self {
            key,
            environment: Environment::Production,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            user_agent: DEFAULT_USER_AGENT.to_string(),
            http: None,
            retry: RetryPolicy::default(),
            on_retry: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// Sets the environment (default [`Environment::Production`]).
    ///
    /// ```
    /// use passage_connect::client::{Client, Environment};
    /// let client = Client::builder("psg_...").environment(Environment::Development).build()?;
    /// assert_eq!(client.base_url().host_str(), Some("connect.dev.getpassage.ai"));
    /// # Ok::<(), passage_connect::Error>(())
    /// ```
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }

    /// Sets a custom base URL, e.g. `http://127.0.0.1:4010` for `passage mock`.
    ///
    /// ```
    /// use passage_connect::client::Client;
    /// let client = Client::builder("psg_...").base_url("http://127.0.0.1:4010/prefix").build()?;
    /// // A path prefix is kept: calls go to http://127.0.0.1:4010/prefix/v1/...
    /// assert_eq!(client.base_url().as_str(), "http://127.0.0.1:4010/prefix");
    /// # Ok::<(), passage_connect::Error>(())
    /// ```
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.environment = Environment::Custom(url.into());
        self
    }

    /// Sets the time limit of each HTTP attempt, connection to last body byte (default 30 s).
    /// Applies with a custom HTTP client too.
    ///
    /// ```
    /// use std::time::Duration;
    /// use passage_connect::client::Client;
    /// let client = Client::builder("psg_...").timeout(Duration::from_secs(20)).build()?;
    /// assert_eq!(client.timeout(), Duration::from_secs(20));
    /// # Ok::<(), passage_connect::Error>(())
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the connect time limit (default 10 s). Ignored with [`http_client`](Self::http_client)
    /// (configure it on that client).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the `User-Agent` (default `passage-connect-rust/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Uses this `reqwest::Client` (proxies, custom TLS roots, connection pool settings).
    ///
    /// Build it with `.redirect(reqwest::redirect::Policy::none())`: the client handles redirects
    /// itself (same-origin `GET`s only). A client that follows redirects on its own would re-send
    /// a `POST` body before this crate sees the redirect; such an answer is still refused with
    /// [`Error::Redirect`], but only after the fact.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Sets the retry policy for GETs (default [`RetryPolicy::default`]).
    ///
    /// ```
    /// use passage_connect::client::{Client, RetryPolicy};
    /// let client = Client::builder("psg_...").retry_policy(RetryPolicy::none()).build()?;
    /// assert_eq!(client.retry_policy(), &RetryPolicy::none());
    /// # Ok::<(), passage_connect::Error>(())
    /// ```
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Sets the largest answer body the client reads, in bytes (default
    /// [`DEFAULT_MAX_BODY_BYTES`], 32 MiB). Reading stops as soon as a body passes it, with
    /// [`Error::BodyTooLarge`] naming the cap and the URL.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use passage_connect::{client::Client, Error};
    /// // A one-shot server answering 2 KiB to any request.
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let base = format!("http://{}", listener.local_addr().unwrap());
    /// tokio::spawn(async move {
    ///     use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///     let (mut socket, _) = listener.accept().await.unwrap();
    ///     let mut request = [0u8; 4096];
    ///     let _ = socket.read(&mut request).await;
    ///     let body = format!(r#"{{"links":[],"pad":"{}"}}"#, "x".repeat(2048));
    ///     let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
    ///     let _ = socket.write_all((head + &body).as_bytes()).await;
    /// });
    /// let client = Client::builder("psg_...").base_url(base).max_body_bytes(1024).build().unwrap();
    /// let err = client.links().list().await.unwrap_err();
    /// assert!(matches!(err, Error::BodyTooLarge { limit: 1024, .. }), "{err}");
    /// assert!(err.to_string().contains("1024-byte body limit"));
    /// # }
    /// ```
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Calls `hook` before every retry (for logs and metrics). Retries are also logged with
    /// `tracing` at debug level.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::sync::{Arc, Mutex};
    /// use passage_connect::client::{Client, RetryPolicy, RetryReason};
    /// // A server that answers 503 twice, then a link list.
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let base = format!("http://{}", listener.local_addr().unwrap());
    /// tokio::spawn(async move {
    ///     use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///     for n in 0.. {
    ///         let (mut socket, _) = listener.accept().await.unwrap();
    ///         let _ = socket.read(&mut [0u8; 4096]).await;
    ///         let (status, body) = if n < 2 { ("503 Service Unavailable", "{}") } else { ("200 OK", r#"{"links":[]}"#) };
    ///         let answer = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
    ///         let _ = socket.write_all(answer.as_bytes()).await;
    ///     }
    /// });
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = Arc::clone(&seen);
    /// let client = Client::builder("psg_...")
    ///     .base_url(base)
    ///     .retry_policy(RetryPolicy::default().with_initial_backoff(std::time::Duration::from_millis(1)))
    ///     .on_retry(move |event| log.lock().unwrap().push((event.attempt, event.reason.clone())))
    ///     .build()
    ///     .unwrap();
    /// assert!(client.links().list().await.unwrap().links.is_empty());
    /// assert_eq!(
    ///     *seen.lock().unwrap(),
    ///     [(1, RetryReason::Status(503)), (2, RetryReason::Status(503))]
    /// );
    /// # }
    /// ```
    pub fn on_retry(mut self, hook: impl Fn(&RetryEvent) + Send + Sync + 'static) -> Self {
        self.on_retry = Some(retry::RetryHook(Arc::new(hook)));
        self
    }

    /// Builds the client; fails on a bad base URL or a key that cannot be sent in a header.
    ///
    /// ```
    /// use passage_connect::{client::Client, Error};
    /// assert!(Client::builder("psg_...").base_url("http://127.0.0.1:4010").build().is_ok());
    /// let err = Client::builder("psg_...").base_url("ftp://example.com").build().unwrap_err();
    /// assert!(matches!(err, Error::Config { .. }), "{err}");
    /// ```
    pub fn build(self) -> Result<Client, Error> {
        let base_text = self.environment.base_url();
        let base = Url::parse(base_text).map_err(|err| Error::Config {
            message: format!("base URL `{base_text}` is not a valid URL: {err}"),
        })?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(Error::Config {
                message: format!("base URL `{base_text}` must be an http(s) URL"),
            });
        }
        let auth = self.key.header_value()?;
        let user_agent = HeaderValue::from_str(&self.user_agent).map_err(|_| Error::Config {
            message: "the user agent contains characters that cannot be sent in a header".into(),
        })?;
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .connect_timeout(self.connect_timeout)
                // Redirects are decided per request in `http.rs` (never for a POST body).
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|err| Error::Config {
                    message: format!("cannot build the HTTP client: {err}"),
                })?,
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                key: self.key,
                auth,
                user_agent,
                timeout: self.timeout,
                retry: self.retry,
                on_retry: self.on_retry,
                max_body_bytes: self.max_body_bytes,
            }),
        })
    }
}

/// A Passage Connect API client. Cheap to clone (shared connection pool).
///
/// Its `Debug` shows the base URL and settings, and the key as `ApiKey(****)`.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    key: ApiKey,
    auth: HeaderValue,
    user_agent: HeaderValue,
    timeout: Duration,
    retry: RetryPolicy,
    on_retry: Option<retry::RetryHook>,
    max_body_bytes: usize,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base.as_str())
            .field("api_key", &self.inner.key)
            .field("timeout", &self.inner.timeout)
            .field("retry", &self.inner.retry)
            .field("max_body_bytes", &self.inner.max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A production client with default settings.
    ///
    /// ```
    /// let client = passage_connect::client::Client::new("psg_...")?;
    /// assert_eq!(client.base_url().as_str(), "https://connect.getpassage.ai/");
    /// # Ok::<(), passage_connect::Error>(())
    /// ```
    pub fn new(key: impl Into<ApiKey>) -> Result<Client, Error> {
        Client::builder(key).build()
    }

    /// A client configured like the `passage` CLI: the key from `PASSAGE_API_KEY`, the base URL
    /// from `PASSAGE_BASE_URL` (production when unset or empty).
    ///
    /// ```no_run
    /// // PASSAGE_API_KEY=psg_test_mock PASSAGE_BASE_URL=http://127.0.0.1:4010 (passage mock)
    /// let client = passage_connect::client::Client::from_env()?;
    /// # Ok::<(), passage_connect::Error>(())
    /// ```
    pub fn from_env() -> Result<Client, Error> {
        Client::builder_from_env()?.build()
    }

    /// A builder with the key from `PASSAGE_API_KEY` (fails when it is unset or empty) and the
    /// base URL from `PASSAGE_BASE_URL` when that is set; later builder calls override both.
    ///
    /// ```no_run
    /// let client = passage_connect::client::Client::builder_from_env()?
    ///     .timeout(std::time::Duration::from_secs(5))
    ///     .build()?;
    /// # Ok::<(), passage_connect::Error>(())
    /// ```
    pub fn builder_from_env() -> Result<ClientBuilder, Error> {
        Client::builder_from_vars(|name| std::env::var(name).ok())
    }

    /// [`builder_from_env`](Self::builder_from_env) over any variable lookup (tests read a map
    /// instead of mutating the process environment).
    fn builder_from_vars(var: impl Fn(&str) -> Option<String>) -> Result<ClientBuilder, Error> {
        let key = match var(API_KEY_ENV) {
            Some(key) if !key.trim().is_empty() => key.trim().to_owned(),
            _ => {
                return Err(Error::Config {
                    message: format!("{API_KEY_ENV} is not set (or is empty or not UTF-8)"),
                })
            }
        };
        let builder = Client::builder(key);
        Ok(match var(BASE_URL_ENV) {
            Some(url) if !url.trim().is_empty() => builder.base_url(url.trim()),
            _ => builder,
        })
    }

    /// A builder for a client with this key (see [`ClientBuilder`]).
    pub fn builder(key: impl Into<ApiKey>) -> ClientBuilder {
        ClientBuilder::new(key.into())
    }

    /// The base URL requests go to (examples on [`ClientBuilder`]).
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// The time limit of each HTTP attempt ([`ClientBuilder::timeout`]).
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// The retry policy ([`ClientBuilder::retry_policy`]).
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// The largest answer body read ([`ClientBuilder::max_body_bytes`]).
    pub fn max_body_bytes(&self) -> usize {
        self.inner.max_body_bytes
    }

    /// Links: create, get, wait, list.
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::client::Client) -> Result<(), passage_connect::Error> {
    /// let link = client.links().get("link_abc123").await?;
    /// println!("{}", link.status);
    /// # Ok(()) }
    /// ```
    pub fn links(&self) -> Links<'_> {
        Links::new(self)
    }

    /// The provider catalog.
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::client::Client) -> Result<(), passage_connect::Error> {
    /// let catalog = client.providers().list().await?;
    /// for op in catalog.operations() {
    ///     println!("{} {} {}", op.integration, op.resource, op.action);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn providers(&self) -> Providers<'_> {
        Providers::new(self)
    }

    /// `base` + path segments (each percent-encoded as one segment).
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            path.extend(segments);
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let client = Client::builder("psg_supersecret_123")
            .base_url("http://127.0.0.1:9/prefix/")
            .build()
            .unwrap();
        let text = format!("{client:?}");
        assert!(!text.contains("supersecret"), "{text}");
        assert!(text.contains("ApiKey(****)"), "{text}");
        let builder = format!("{:?}", Client::builder("psg_supersecret_123"));
        assert!(!builder.contains("supersecret"), "{builder}");
    }

    #[test]
    fn urls_keep_a_path_prefix_and_encode_ids() {
        let client = Client::builder("k")
            .base_url("http://127.0.0.1:9/prefix/")
            .build()
            .unwrap();
        assert_eq!(
            client.url(&["v1", "links", "a/b?c"]).as_str(),
            "http://127.0.0.1:9/prefix/v1/links/a%2Fb%3Fc"
        );
        let plain = Client::new("k").unwrap();
        assert_eq!(
            plain.url(&["v1", "providers"]).as_str(),
            "https://connect.getpassage.ai/v1/providers"
        );
    }

    #[test]
    fn from_env_reads_the_base_url_like_the_cli() {
        let vars = |base: Option<&'static str>| {
            move |name: &str| match name {
                API_KEY_ENV => Some(" psg_test_mock ".to_string()),
                BASE_URL_ENV => base.map(str::to_string),
                _ => None,
            }
        };
        let mock = Client::builder_from_vars(vars(Some("http://127.0.0.1:4010")))
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(mock.base_url().as_str(), "http://127.0.0.1:4010/");
        for unset in [None, Some(""), Some("  ")] {
            let client = Client::builder_from_vars(vars(unset))
                .unwrap()
                .build()
                .unwrap();
            assert_eq!(client.base_url().as_str(), "https://connect.getpassage.ai/");
        }
        // A builder call after the environment wins.
        let overridden = Client::builder_from_vars(vars(Some("http://127.0.0.1:4010")))
            .unwrap()
            .environment(Environment::Development)
            .build()
            .unwrap();
        assert_eq!(
            overridden.base_url().as_str(),
            "https://connect.dev.getpassage.ai/"
        );
        let err = Client::builder_from_vars(|_| None).unwrap_err();
        assert!(err.to_string().contains(API_KEY_ENV), "{err}");
    }

    #[test]
    fn bad_configuration_is_a_config_error_without_the_key() {
        let err = Client::builder("psg_secret\n").build().unwrap_err();
        assert!(matches!(err, Error::Config { .. }));
        assert!(!format!("{err:?} {err}").contains("psg_secret"));
        let err = Client::builder("k")
            .base_url("not a url")
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err:?}");
        let err = Client::builder("k")
            .base_url("mailto:x@y")
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err:?}");
    }
}
