//! Waiting for a link to finish: polling `GET /v1/links/{id}` with exponential backoff and full
//! jitter under an overall deadline. Transient failures (429, 5xx, transport) while waiting are
//! retried, not surfaced, and a server's `Retry-After` is honoured: the next poll waits at least
//! that long, and a `Retry-After` past the deadline ends the wait at once with
//! [`Error::RetryAfterPastDeadline`]. Dropping the future cancels the wait.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::links::Links;
use super::model::Link;
use super::options::RequestOptions;
use super::response::Response;
use super::retry::full_jitter;
use crate::error::Error;
use crate::link::LinkStatus;

/// How [`Links::wait_with`] polls.
///
/// The pause before poll `n` is a random duration in
/// `[min_interval, max(min_interval, min(max_interval, initial_interval * 2^(n-1)))]` (full
/// jitter with a floor, so polls never bunch up). The wait ends when the link is `complete`,
/// `failed` or `expired` (see [`LinkStatus::ends_wait`]), or with
/// [`Error::Timeout`] once `timeout` has passed.
///
/// ```
/// use std::time::Duration;
/// use passage_connect::client::WaitOptions;
/// let options = WaitOptions::default()
///     .timeout(Duration::from_secs(120))
///     .initial_interval(Duration::from_millis(500))
///     .max_interval(Duration::from_secs(5));
/// assert_eq!(options.get_timeout(), Duration::from_secs(120));
/// ```
#[derive(Clone)]
pub struct WaitOptions {
    timeout: Duration,
    initial_interval: Duration,
    max_interval: Duration,
    min_interval: Duration,
    on_poll: Option<PollHook>,
    request: RequestOptions,
}

/// The progress callback of [`WaitOptions::on_poll`].
type PollHook = Arc<dyn Fn(&Link) + Send + Sync>;

impl fmt::Debug for WaitOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitOptions")
            .field("timeout", &self.timeout)
            .field("initial_interval", &self.initial_interval)
            .field("max_interval", &self.max_interval)
            .field("min_interval", &self.min_interval)
            .field("on_poll", &self.on_poll.as_ref().map(|_| ".."))
            .field("request", &self.request)
            .finish()
    }
}

impl Default for WaitOptions {
    /// 10 minutes in total; intervals from 1 s doubling up to 15 s, never under 200 ms.
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(600),
            initial_interval: Duration::from_secs(1),
            max_interval: Duration::from_secs(15),
            min_interval: Duration::from_millis(200),
            on_poll: None,
            request: RequestOptions::new(),
        }
    }
}

impl WaitOptions {
    /// Sets the overall deadline.
    ///
    /// ```
    /// use std::time::Duration;
    /// let options = passage_connect::client::WaitOptions::default().timeout(Duration::from_secs(60));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the ceiling of the first pause (doubled for each next one).
    ///
    /// ```
    /// use std::time::Duration;
    /// let options = passage_connect::client::WaitOptions::default().initial_interval(Duration::from_millis(500));
    /// ```
    pub fn initial_interval(mut self, interval: Duration) -> Self {
        self.initial_interval = interval;
        self
    }

    /// Sets the largest pause ceiling.
    ///
    /// ```
    /// use std::time::Duration;
    /// let options = passage_connect::client::WaitOptions::default().max_interval(Duration::from_secs(5));
    /// ```
    pub fn max_interval(mut self, interval: Duration) -> Self {
        self.max_interval = interval;
        self
    }

    /// Sets the shortest pause.
    ///
    /// ```
    /// use std::time::Duration;
    /// let options = passage_connect::client::WaitOptions::default().min_interval(Duration::from_millis(100));
    /// ```
    pub fn min_interval(mut self, interval: Duration) -> Self {
        self.min_interval = interval;
        self
    }

    /// Calls `hook` with the link after every successful poll (progress display, logs).
    ///
    /// ```
    /// let options = passage_connect::client::WaitOptions::default()
    ///     .on_poll(|link| eprintln!("{}: {}", link.id, link.status));
    /// ```
    pub fn on_poll(mut self, hook: impl Fn(&Link) + Send + Sync + 'static) -> Self {
        self.on_poll = Some(Arc::new(hook));
        self
    }

    /// Per-call settings (per-attempt timeout, retry policy, extra headers) for every poll's
    /// `GET /v1/links/{id}`. Transient failures of a poll are polled through either way; the
    /// retry policy decides how hard each single poll tries.
    ///
    /// ```
    /// use passage_connect::client::{RequestOptions, WaitOptions};
    /// let options = WaitOptions::default().request_options(RequestOptions::new().max_retries(0));
    /// assert_eq!(options.get_request_options().get_max_retries(), Some(0));
    /// ```
    pub fn request_options(mut self, options: RequestOptions) -> Self {
        self.request = options;
        self
    }

    /// The per-call settings of every poll.
    pub fn get_request_options(&self) -> &RequestOptions {
        &self.request
    }

    /// The overall deadline.
    ///
    /// ```
    /// let options = passage_connect::client::WaitOptions::default();
    /// assert_eq!(options.get_timeout(), std::time::Duration::from_secs(600));
    /// ```
    pub fn get_timeout(&self) -> Duration {
        self.timeout
    }

    pub(crate) fn poll_hook(&self) -> Option<&(dyn Fn(&Link) + Send + Sync)> {
        self.on_poll.as_deref()
    }

    pub(crate) fn pause(&self, poll: u32) -> Duration {
        full_jitter(self.initial_interval, self.max_interval, poll).max(self.min_interval)
    }
}

pub(crate) async fn wait(
    links: &Links<'_>,
    id: &str,
    options: &WaitOptions,
) -> Result<Response<Link>, Error> {
    let started = Instant::now();
    let deadline = started + options.timeout;
    let mut last_status: Option<LinkStatus> = None;
    let polling = poll_until_done(links, id, options, deadline, &mut last_status);
    match tokio::time::timeout_at(deadline.into(), polling).await {
        Ok(outcome) => outcome,
        Err(_elapsed) => Err(Error::Timeout {
            link_id: id.to_string(),
            waited: started.elapsed(),
            last_status,
        }),
    }
}

async fn poll_until_done(
    links: &Links<'_>,
    id: &str,
    options: &WaitOptions,
    deadline: Instant,
    last_status: &mut Option<LinkStatus>,
) -> Result<Response<Link>, Error> {
    let mut poll: u32 = 0;
    loop {
        poll = poll.saturating_add(1);
        let mut pause = options.pause(poll);
        let poll_request = links
            .get(id)
            .deadline(deadline)
            .options(options.request.clone());
        match poll_request.with_response().await {
            Ok(link) => {
                if let Some(hook) = &options.on_poll {
                    hook(link.value());
                }
                *last_status = Some(link.status.clone());
                if link.status.ends_wait() {
                    return Ok(link);
                }
            }
            Err(err) if err.is_transient() => {
                // The server's `Retry-After` (longer than the client's retry policy waits on its
                // own) sets the next poll: polling sooner only earns more 429s.
                if let Error::RateLimited {
                    retry_after: Some(wait),
                    response,
                } = &err
                {
                    let remaining = deadline.saturating_duration_since(Instant::now());
                    if *wait > remaining {
                        return Err(Error::RetryAfterPastDeadline {
                            request: response.request.clone(),
                            retry_after: *wait,
                            remaining,
                        });
                    }
                    pause = pause.max(*wait);
                }
                tracing::debug!(link_id = id, error = %err, pause_ms = pause.as_millis() as u64, "transient failure while waiting for a link; polling again");
            }
            Err(err) => return Err(err),
        }
        tokio::time::sleep(pause).await;
    }
}
