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
//! after sending is reported as [`Error::Indeterminate`](crate::Error::Indeterminate).

mod http;
mod links;
mod model;
mod notify;
mod providers;
mod retry;
mod validate;
mod wait;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;
use url::Url;

use crate::error::Error;

pub use links::{CreateLink, Links};
pub use model::{Link, LinkList, LinkSummary};
pub use notify::LinkNotifier;
pub use providers::Providers;
pub use retry::{parse_retry_after, RetryEvent, RetryPolicy, RetryReason};
pub use wait::WaitOptions;

/// The environment variable [`Client::from_env`] reads the key from.
pub const API_KEY_ENV: &str = "PASSAGE_API_KEY";

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
/// ```no_run
/// use std::time::Duration;
/// use passage_connect::client::{Client, Environment, RetryPolicy};
/// let client = Client::builder("psg_...")
///     .environment(Environment::Development)
///     .timeout(Duration::from_secs(20))
///     .retry_policy(RetryPolicy::default().with_max_retries(5))
///     .build()?;
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
        }
    }

    /// Sets the environment (default [`Environment::Production`]).
    ///
    /// ```no_run
    /// use passage_connect::client::Client;
    /// let client = Client::builder("psg_...").environment(passage_connect::client::Environment::Development).build()?;
    /// # Ok::<(), passage_connect::Error>(())
    /// ```
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }

    /// Sets a custom base URL, e.g. `http://127.0.0.1:4010` for `passage mock`.
    ///
    /// ```no_run
    /// use passage_connect::client::Client;
    /// let client = Client::builder("psg_...").base_url("http://127.0.0.1:4010").build()?;
    /// # Ok::<(), passage_connect::Error>(())
    /// ```
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.environment = Environment::Custom(url.into());
        self
    }

    /// Sets the time limit of each HTTP attempt, connection to last body byte (default 30 s).
    /// Applies with a custom HTTP client too.
    ///
    /// ```no_run
    /// use passage_connect::client::Client;
    /// let client = Client::builder("psg_...").timeout(std::time::Duration::from_secs(20)).build()?;
    /// # Ok::<(), passage_connect::Error>(())
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the connect time limit (default 10 s). Ignored with [`http_client`](Self::http_client)
    /// (configure it on that client).
    ///
    /// ```no_run
    /// use passage_connect::client::Client;
    /// let client = Client::builder("psg_...").connect_timeout(std::time::Duration::from_secs(5)).build()?;
    /// # Ok::<(), passage_connect::Error>(())
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the `User-Agent` (default `passage-connect-rust/<version>`).
    ///
    /// ```no_run
    /// use passage_connect::client::Client;
    /// let client = Client::builder("psg_...").user_agent("my-app/1.0").build()?;
    /// # Ok::<(), passage_connect::Error>(())
    /// ```
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Uses this `reqwest::Client` (proxies, custom TLS roots, connection pool settings).
    ///
    /// ```no_run
    /// use passage_connect::client::Client;
    /// let client = Client::builder("psg_...").http_client(reqwest::Client::new()).build()?;
    /// # Ok::<(), passage_connect::Error>(())
    /// ```
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Sets the retry policy for GETs (default [`RetryPolicy::default`]).
    ///
    /// ```no_run
    /// use passage_connect::client::Client;
    /// let client = Client::builder("psg_...").retry_policy(passage_connect::client::RetryPolicy::none()).build()?;
    /// # Ok::<(), passage_connect::Error>(())
    /// ```
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Calls `hook` before every retry (for logs and metrics). Retries are also logged with
    /// `tracing` at debug level.
    ///
    /// ```no_run
    /// use passage_connect::client::Client;
    /// let client = Client::builder("psg_...").on_retry(|event| eprintln!("retry #{} in {:?}", event.attempt, event.delay)).build()?;
    /// # Ok::<(), passage_connect::Error>(())
    /// ```
    pub fn on_retry(mut self, hook: impl Fn(&RetryEvent) + Send + Sync + 'static) -> Self {
        self.on_retry = Some(retry::RetryHook(Arc::new(hook)));
        self
    }

    /// Builds the client; fails on a bad base URL or a key that cannot be sent in a header.
    ///
    /// ```no_run
    /// use passage_connect::client::Client;
    /// let client = Client::builder("psg_...").base_url("http://127.0.0.1:4010").build()?;
    /// # Ok::<(), passage_connect::Error>(())
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
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base.as_str())
            .field("api_key", &self.inner.key)
            .field("timeout", &self.inner.timeout)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A production client with default settings.
    ///
    /// ```no_run
    /// let client = passage_connect::client::Client::new("psg_...")?;
    /// # Ok::<(), passage_connect::Error>(())
    /// ```
    pub fn new(key: impl Into<ApiKey>) -> Result<Client, Error> {
        Client::builder(key).build()
    }

    /// A production client with the key from `PASSAGE_API_KEY`.
    ///
    /// ```no_run
    /// let client = passage_connect::client::Client::from_env()?;
    /// # Ok::<(), passage_connect::Error>(())
    /// ```
    pub fn from_env() -> Result<Client, Error> {
        Client::builder_from_env()?.build()
    }

    /// A builder with the key from `PASSAGE_API_KEY` (fails when it is unset or empty).
    ///
    /// ```no_run
    /// let client = passage_connect::client::Client::builder_from_env()?
    ///     .base_url("http://127.0.0.1:4010")
    ///     .build()?;
    /// # Ok::<(), passage_connect::Error>(())
    /// ```
    pub fn builder_from_env() -> Result<ClientBuilder, Error> {
        match std::env::var(API_KEY_ENV) {
            Ok(key) if !key.trim().is_empty() => Ok(Client::builder(key.trim().to_owned())),
            _ => Err(Error::Config {
                message: format!("{API_KEY_ENV} is not set (or is empty or not UTF-8)"),
            }),
        }
    }

    /// A builder for a client with this key.
    ///
    /// ```no_run
    /// let client = passage_connect::client::Client::builder("psg_...")
    ///     .base_url("http://127.0.0.1:4010")
    ///     .build()?;
    /// # Ok::<(), passage_connect::Error>(())
    /// ```
    pub fn builder(key: impl Into<ApiKey>) -> ClientBuilder {
        ClientBuilder::new(key.into())
    }

    /// The base URL requests go to.
    ///
    /// ```no_run
    /// let client = passage_connect::client::Client::new("psg_...")?;
    /// assert_eq!(client.base_url().as_str(), "https://connect.getpassage.ai/");
    /// # Ok::<(), passage_connect::Error>(())
    /// ```
    pub fn base_url(&self) -> &Url {
        &self.inner.base
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
