//! The retry policy for idempotent requests: bounded attempts and total time, exponential backoff
//! with full jitter, and `Retry-After` (seconds or an HTTP date) honoured.
//!
//! `POST /v1/links` is outside this policy except for one case: a connection that was never
//! established (the request certainly did not reach the server). See [`crate::client`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rand::Rng;

/// How GET requests (and creates that never connected) are retried.
///
/// A request is retried on `408`, `429`, `500`, `502`, `503`, `504` and on transport errors, at
/// most [`max_retries`](Self::with_max_retries) times, and never past
/// [`max_elapsed`](Self::with_max_elapsed) since the first attempt. The pause before retry `n`
/// (1-based) is the server's `Retry-After` when it sent one, otherwise a random duration in
/// `[0, min(max_backoff, initial_backoff * 2^(n-1))]` ("full jitter"). A `Retry-After` longer than
/// [`max_retry_after`](Self::with_max_retry_after) ends the retries at once (the caller gets
/// [`Error::RateLimited`](crate::Error::RateLimited) with the server's value).
///
/// ```
/// use std::time::Duration;
/// use passage_connect::client::RetryPolicy;
/// let policy = RetryPolicy::default()
///     .with_max_retries(5)
///     .with_initial_backoff(Duration::from_millis(100))
///     .with_max_elapsed(Duration::from_secs(20));
/// assert_eq!(policy.max_retries(), 5);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_elapsed: Duration,
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 3 retries, 250 ms initial backoff, 8 s cap, 30 s in total, `Retry-After` up to 60 s.
    fn default() -> Self {
        Self {
            max_retries: 3,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
            max_elapsed: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    ///
    /// ```
    /// let policy = passage_connect::client::RetryPolicy::none();
    /// assert_eq!(policy.max_retries(), 0);
    /// ```
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// Sets how many times a request may be repeated after its first attempt.
    ///
    /// ```
    /// use passage_connect::client::RetryPolicy;
    /// let policy = RetryPolicy::default().with_max_retries(5);
    /// assert_eq!(policy.max_retries(), 5);
    /// ```
    pub fn with_max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// Sets the backoff ceiling of the first retry (doubled for each next one).
    ///
    /// ```
    /// use std::time::Duration;
    /// use passage_connect::client::RetryPolicy;
    /// let policy = RetryPolicy::default().with_initial_backoff(Duration::from_millis(100));
    /// assert_eq!(policy.initial_backoff(), Duration::from_millis(100));
    /// ```
    pub fn with_initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// Sets the largest backoff ceiling.
    ///
    /// ```
    /// use std::time::Duration;
    /// use passage_connect::client::RetryPolicy;
    /// let policy = RetryPolicy::default().with_max_backoff(Duration::from_secs(2));
    /// assert_eq!(policy.max_backoff(), Duration::from_secs(2));
    /// ```
    pub fn with_max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// Sets the total time budget from the first attempt: no retry starts after it.
    ///
    /// ```
    /// use passage_connect::client::RetryPolicy;
    /// let policy = RetryPolicy::default().with_max_elapsed(std::time::Duration::from_secs(10));
    /// assert_eq!(policy.max_elapsed(), std::time::Duration::from_secs(10));
    /// ```
    pub fn with_max_elapsed(mut self, elapsed: Duration) -> Self {
        self.max_elapsed = elapsed;
        self
    }

    /// Sets the longest `Retry-After` the client is willing to wait.
    ///
    /// ```
    /// use std::time::Duration;
    /// use passage_connect::client::RetryPolicy;
    /// let policy = RetryPolicy::default().with_max_retry_after(Duration::from_secs(5));
    /// assert_eq!(policy.max_retry_after(), Duration::from_secs(5));
    /// ```
    pub fn with_max_retry_after(mut self, wait: Duration) -> Self {
        self.max_retry_after = wait;
        self
    }

    /// How many times a request may be repeated.
    ///
    /// ```
    /// assert_eq!(passage_connect::client::RetryPolicy::default().max_retries(), 3);
    /// ```
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The total time budget.
    ///
    /// ```
    /// let policy = passage_connect::client::RetryPolicy::default();
    /// assert_eq!(policy.max_elapsed(), std::time::Duration::from_secs(30));
    /// ```
    pub fn max_elapsed(&self) -> Duration {
        self.max_elapsed
    }

    /// The backoff ceiling of the first retry.
    ///
    /// ```
    /// let policy = passage_connect::client::RetryPolicy::default();
    /// assert_eq!(policy.initial_backoff(), std::time::Duration::from_millis(250));
    /// ```
    pub fn initial_backoff(&self) -> Duration {
        self.initial_backoff
    }

    /// The largest backoff ceiling.
    ///
    /// ```
    /// let policy = passage_connect::client::RetryPolicy::default();
    /// assert_eq!(policy.max_backoff(), std::time::Duration::from_secs(8));
    /// ```
    pub fn max_backoff(&self) -> Duration {
        self.max_backoff
    }

    /// The longest `Retry-After` the client waits on its own; a longer one ends the retries.
    ///
    /// ```
    /// let policy = passage_connect::client::RetryPolicy::default();
    /// assert_eq!(policy.max_retry_after(), std::time::Duration::from_secs(60));
    /// ```
    pub fn max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    /// The jittered pause before retry number `retry` (1-based).
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        full_jitter(self.initial_backoff, self.max_backoff, retry)
    }

    /// Decides the pause before retry number `retry`, or `None` when the policy says stop.
    pub(crate) fn next_delay(
        &self,
        retry: u32,
        retry_after: Option<Duration>,
        elapsed: Duration,
    ) -> Option<Duration> {
        if retry > self.max_retries {
            return None;
        }
        let delay = match retry_after {
            Some(wait) if wait > self.max_retry_after => return None,
            Some(wait) => wait,
            None => self.backoff(retry),
        };
        if elapsed.saturating_add(delay) > self.max_elapsed {
            return None;
        }
        Some(delay)
    }
}

/// A random duration in `[0, min(cap, base * 2^(n-1))]`.
pub(crate) fn full_jitter(base: Duration, cap: Duration, n: u32) -> Duration {
    let exp = n.saturating_sub(1).min(30);
    let ceiling = base.saturating_mul(1u32 << exp).min(cap);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(rand::thread_rng().gen_range(0..=nanos))
}

/// Parses a `Retry-After` value: delay seconds (`120`, tolerantly `1.5`) or an HTTP date (a date
/// in the past means "now"). `None` when it is neither.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// let d = passage_connect::client::parse_retry_after("3", SystemTime::now());
/// assert_eq!(d, Some(Duration::from_secs(3)));
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Why a request is being retried.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryReason {
    /// The server answered this status.
    Status(u16),
    /// No answer: connection refused or reset, timeout (the error's text).
    Transport(String),
}

/// One retry about to happen, as reported to a hook set with
/// [`ClientBuilder::on_retry`](crate::client::ClientBuilder::on_retry) (for logs and metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryEvent {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The URL.
    pub url: String,
    /// The attempt that just failed (1 for the first).
    pub attempt: u32,
    /// Why it failed.
    pub reason: RetryReason,
    /// The `Retry-After` the server sent, if any.
    pub retry_after: Option<Duration>,
    /// The pause before the next attempt.
    pub delay: Duration,
}

/// A shared retry hook.
#[derive(Clone)]
pub(crate) struct RetryHook(pub(crate) Arc<dyn Fn(&RetryEvent) + Send + Sync>);

impl fmt::Debug for RetryHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RetryHook(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 2 ", now), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        // 1445412480 is Wed, 21 Oct 2015 07:28:00 GMT.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn full_jitter_stays_under_its_ceiling() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_millis(1000);
        for n in 1..40 {
            let ceiling = (base * 2u32.pow(n.min(20) - 1)).min(cap);
            for _ in 0..50 {
                assert!(full_jitter(base, cap, n) <= ceiling);
            }
        }
    }

    #[test]
    fn policy_bounds_attempts_time_and_retry_after() {
        let policy = RetryPolicy::default()
            .with_max_retries(2)
            .with_max_elapsed(Duration::from_secs(10))
            .with_max_retry_after(Duration::from_secs(5));
        assert!(policy.next_delay(1, None, Duration::ZERO).is_some());
        assert!(policy.next_delay(2, None, Duration::ZERO).is_some());
        assert_eq!(policy.next_delay(3, None, Duration::ZERO), None);
        assert_eq!(
            policy.next_delay(1, Some(Duration::from_secs(4)), Duration::ZERO),
            Some(Duration::from_secs(4))
        );
        assert_eq!(
            policy.next_delay(1, Some(Duration::from_secs(6)), Duration::ZERO),
            None
        );
        assert_eq!(
            policy.next_delay(1, Some(Duration::from_secs(4)), Duration::from_secs(7)),
            None
        );
        assert_eq!(
            RetryPolicy::none().next_delay(1, None, Duration::ZERO),
            None
        );
    }
}
