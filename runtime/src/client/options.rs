//! Per-call settings: [`RequestOptions`] (a timeout, a retry policy, extra headers) set on one
//! call without building a second client; unset ones fall back to the client's.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::retry::RetryPolicy;
use crate::error::Error;

/// Headers an extra header may not set. `authorization` carries the client's API key: letting a
/// per-call header replace it would silently send a request under another key (or none). The
/// others describe the message itself and are the HTTP stack's to write.
const RESERVED: [&str; 5] = [
    "authorization",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
];

/// Settings of one call that override the client's: the per-attempt timeout, the retry policy,
/// and extra headers. What is not set here is the client's
/// ([`ClientBuilder`](crate::client::ClientBuilder)). Every call builder takes the same settings
/// one by one (`.timeout(..)`, `.max_retries(..)`, `.retry(..)`, `.header(..)`) or all at once
/// with `.options(..)`.
///
/// Which calls are retried: `GET`s (get, list, a page of the list, the catalog, each poll of a
/// wait) on 408/429/5xx and transport errors, per the retry policy. A create (`POST /v1/links`)
/// is sent again only when the connection was never established: the API has no idempotency
/// key, so repeating a create that may have reached the server could make a second link; such a
/// failure is [`Error::Indeterminate`]. A per-call policy changes how often and how long,
/// never that rule.
///
/// Extra headers are sent after the client's own, replacing a client header of the same name
/// (`user-agent`, `accept`); several values of one name are all sent. `Authorization` (the API
/// key), `Host`, `Content-Length`, `Transfer-Encoding` and `Connection` are refused with
/// [`Error::Config`] when the call is made, as is a name or value that cannot be sent; nothing
/// is sent then. Values are marked sensitive: `Debug` prints `Sensitive`, and errors never quote
/// them.
///
/// ```
/// use std::time::Duration;
/// use passage_connect::client::{RequestOptions, RetryPolicy};
/// let options = RequestOptions::new()
///     .timeout(Duration::from_secs(5))
///     .retry(RetryPolicy::none())
///     .header("x-trace-id", "trace-42");
/// assert_eq!(options.get_timeout(), Some(Duration::from_secs(5)));
/// assert_eq!(options.get_retry(), Some(&RetryPolicy::none()));
/// assert!(!format!("{options:?}").contains("trace-42"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestOptions {
    timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
    max_retries: Option<u32>,
    headers: HeaderMap,
    /// The first header that cannot be sent, reported when the call is made (the builder methods
    /// stay infallible so that calls chain).
    refused: Option<String>,
}

impl RequestOptions {
    /// No overrides: the client's settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the time limit of each HTTP attempt of this call, connection to last body byte (the
    /// client's is 30 s unless set with
    /// [`ClientBuilder::timeout`](crate::client::ClientBuilder::timeout)). A timed-out attempt
    /// is retried like any transport error; with [`RetryPolicy::none`] it is the call's error
    /// ([`Error::is_timeout`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// let options = passage_connect::client::RequestOptions::new().timeout(Duration::from_secs(2));
    /// assert_eq!(options.get_timeout(), Some(Duration::from_secs(2)));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the retry policy of this call (see the type's docs for which calls are retried).
    ///
    /// ```
    /// use passage_connect::client::{RequestOptions, RetryPolicy};
    /// let options = RequestOptions::new().retry(RetryPolicy::none());
    /// assert_eq!(options.get_retry().map(RetryPolicy::max_retries), Some(0));
    /// ```
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        // The whole policy is the caller's latest word: an earlier `max_retries` no longer holds.
        self.max_retries = None;
        self
    }

    /// Sets how many retries this call may make, keeping the rest of the policy in force (this
    /// call's [`retry`](Self::retry) policy, else the client's). `0` means no retry.
    ///
    /// ```
    /// use passage_connect::client::RequestOptions;
    /// let options = RequestOptions::new().max_retries(0);
    /// assert_eq!(options.get_max_retries(), Some(0));
    /// ```
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = Some(retries);
        self
    }

    /// Adds a header to this call (see the type's docs for precedence and refused names).
    ///
    /// ```
    /// let options = passage_connect::client::RequestOptions::new()
    ///     .header("x-trace-id", "trace-42")
    ///     .header("x-tenant", "acme");
    /// assert_eq!(options.headers().len(), 2);
    /// ```
    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        let name = name.as_ref();
        let parsed_name = HeaderName::from_bytes(name.trim().as_bytes());
        let parsed_value = HeaderValue::from_str(value.as_ref());
        match (parsed_name, parsed_value) {
            (Ok(name), _) if RESERVED.contains(&name.as_str()) => {
                let why = if name == reqwest::header::AUTHORIZATION {
                    "the API key is the client's (build another client for another key)"
                } else {
                    "the HTTP stack writes it"
                };
                self.refuse(format!("the extra header `{name}` cannot be set: {why}"));
            }
            (Ok(name), Ok(mut value)) => {
                value.set_sensitive(true);
                self.headers.append(name, value);
            }
            (Err(_), _) => {
                self.refuse(format!("`{name}` is not a valid HTTP header name"));
            }
            // The value is never quoted: it may be a secret.
            (Ok(name), Err(_)) => {
                self.refuse(format!(
                    "the value of the extra header `{name}` cannot be sent in an HTTP header"
                ));
            }
        }
        self
    }

    fn refuse(&mut self, message: String) {
        self.refused.get_or_insert(message);
    }

    /// The per-attempt timeout of this call, if set.
    pub fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The retry policy of this call, if set.
    pub fn get_retry(&self) -> Option<&RetryPolicy> {
        self.retry.as_ref()
    }

    /// The retry count of this call set with [`max_retries`](Self::max_retries), if any.
    pub fn get_max_retries(&self) -> Option<u32> {
        self.max_retries
    }

    /// The policy this call runs with, given the client's.
    pub(crate) fn resolve_retry(&self, client: &RetryPolicy) -> RetryPolicy {
        let policy = self.retry.as_ref().unwrap_or(client).clone();
        match self.max_retries {
            Some(retries) => policy.with_max_retries(retries),
            None => policy,
        }
    }

    /// The extra headers accepted so far.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The extra headers, or [`Error::Config`] naming the first that was refused.
    pub(crate) fn checked_headers(&self) -> Result<&HeaderMap, Error> {
        match &self.refused {
            Some(message) => Err(Error::Config {
                message: message.clone(),
            }),
            None => Ok(&self.headers),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_and_message_headers_are_refused_whatever_their_case() {
        for name in ["Authorization", " authorization", "HOST", "content-length"] {
            let options = RequestOptions::new().header(name, "Bearer psg_other");
            let err = options.checked_headers().unwrap_err();
            assert!(matches!(err, Error::Config { .. }), "{name}: {err:?}");
            assert!(!err.to_string().contains("psg_other"), "{err}");
            assert!(options.headers().is_empty());
        }
        // The first refusal is the one reported; later valid headers do not clear it.
        let options = RequestOptions::new()
            .header("authorization", "x")
            .header("x-ok", "1");
        assert!(options
            .checked_headers()
            .unwrap_err()
            .to_string()
            .contains("API key"));
    }

    #[test]
    fn bad_names_and_values_are_refused_without_quoting_the_value() {
        let err = RequestOptions::new()
            .header("x-token", "secret\nvalue")
            .checked_headers()
            .unwrap_err();
        assert!(err.to_string().contains("x-token"), "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");
        let err = RequestOptions::new()
            .header("bad name", "v")
            .checked_headers()
            .unwrap_err();
        assert!(err.to_string().contains("bad name"), "{err}");
    }

    #[test]
    fn values_are_sensitive_and_repeated_names_kept() {
        let options = RequestOptions::new()
            .header("x-tenant", "acme-secret")
            .header("x-tenant", "beta");
        assert_eq!(
            options
                .checked_headers()
                .unwrap()
                .get_all("x-tenant")
                .iter()
                .count(),
            2
        );
        assert!(!format!("{options:?}").contains("acme-secret"));
    }

    #[test]
    fn max_retries_applies_to_the_call_policy_or_the_clients() {
        let client = RetryPolicy::default().with_initial_backoff(Duration::from_millis(7));
        let resolved = RequestOptions::new().max_retries(0).resolve_retry(&client);
        assert_eq!(resolved.max_retries(), 0);
        assert_eq!(resolved.initial_backoff(), Duration::from_millis(7));
        let own = RetryPolicy::default().with_max_elapsed(Duration::from_secs(3));
        let resolved = RequestOptions::new()
            .retry(own.clone())
            .max_retries(1)
            .resolve_retry(&client);
        assert_eq!(resolved, own.with_max_retries(1));
        // A whole policy set after `max_retries` replaces it.
        let resolved = RequestOptions::new()
            .max_retries(1)
            .retry(RetryPolicy::none())
            .resolve_retry(&client);
        assert_eq!(resolved, RetryPolicy::none());
        assert_eq!(RequestOptions::new().resolve_retry(&client), client);
    }
}
