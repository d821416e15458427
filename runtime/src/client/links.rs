//! `client.links()`: create (with a builder validated locally), get, wait and list links (one
//! answer, or a stream that fetches pages as it is consumed). Each call is a builder: awaited
//! for its value, `.with_response()` for the answer's metadata too, per-call settings before.

use std::collections::HashSet;
use std::future::IntoFuture;
use std::time::Duration;

use futures::{Stream, StreamExt as _, TryStreamExt as _};

use passage_generated::OperationArguments;
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use super::calls::{per_call_options, CallFuture, GetLink, ListLinks};
use super::http::{decode_json, Repeat};
use super::model::{Link, LinkList};
use super::options::RequestOptions;
use super::response::Response;
use super::validate::{validate_request, PendingOperation};
use super::wait::WaitOptions;
use super::Client;
use crate::error::{Error, ValidationSource};
use crate::link::LinkStatus;

/// The links API of a [`Client`] (`client.links()`).
#[derive(Debug, Clone, Copy)]
pub struct Links<'a> {
    client: &'a Client,
}

impl<'a> Links<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    /// Starts a create-link request for an integration (e.g. `tmobile`, `apple-review`).
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::client::Client) -> Result<(), passage_connect::Error> {
    /// let link = client
    ///     .links()
    ///     .create("tmobile")
    ///     .operation("paymentMethod", "read")
    ///     .return_url("myapp://done")
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn create(&self, integration: impl Into<String>) -> CreateLink<'a> {
        CreateLink::new(self.client, integration.into())
    }

    /// `GET /v1/links/{id}`: the link with its status, `error` and raw `result` (see
    /// [`Link::results`]). Retried on 429/5xx/transport errors. Await it, or see [`GetLink`] for
    /// the answer's metadata and per-call settings.
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::client::Client) -> Result<(), passage_connect::Error> {
    /// let link = client.links().get("link_abc123").await?;
    /// if let Some(failure) = &link.error {
    ///     eprintln!("failed: {failure}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn get(&self, id: &str) -> GetLink<'a> {
        GetLink::new(self.client, id)
    }

    /// `GET /v1/links`: the organization's links, with any unknown top-level field (such as a
    /// future cursor) kept in [`LinkList::extra`].
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::client::Client) -> Result<(), passage_connect::Error> {
    /// for link in client.links().list().await?.links {
    ///     println!("{} {} {}", link.id, link.integration_id, link.status);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list(&self) -> ListLinks<'a> {
        ListLinks::new(self.client, None, None)
    }

    /// One page of `GET /v1/links`: `?cursor=<cursor>` when given (a value from
    /// [`LinkList::next_cursor`]) and `?limit=<page_size>` when given. Retried like every GET.
    ///
    /// Both query parameters are **undocumented**: `cursor` is the name this client sends back
    /// whatever field name the cursor came in, and `limit` is what the emulator honours; the real
    /// API may ignore either (then the first answer is the whole list, as without them).
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::client::Client) -> Result<(), passage_connect::Error> {
    /// let first = client.links().list_page(None, Some(100)).await?;
    /// if let Some(cursor) = first.next_cursor() {
    ///     let second = client.links().list_page(Some(&cursor), Some(100)).await?;
    ///     println!("{} more", second.links.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list_page(&self, cursor: Option<&str>, page_size: Option<u32>) -> ListLinks<'a> {
        ListLinks::new(self.client, cursor, page_size)
    }

    /// `GET /v1/links` page after page, each fetched only when the stream is polled for it:
    /// the first without a cursor, then as long as [`LinkList::next_cursor`] names a next page
    /// (sent back as `?cursor=`; see there for the field names read). A server that sends no
    /// cursor gives one page: the whole list. `filter`'s page size is sent as `?limit=`; its
    /// client-side filters do not apply to pages (see [`list_stream`](Self::list_stream)); its
    /// [`request_options`](ListFilter::request_options) apply to every page's request.
    ///
    /// The stream ends after the last page, or after the first error (yielded). A cursor that
    /// repeats an earlier one is an [`Error::Decode`] at the cursor: following it would loop.
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::client::Client) -> Result<(), passage_connect::Error> {
    /// use futures::TryStreamExt as _;
    /// use passage_connect::client::ListFilter;
    /// let mut pages = client.links().list_pages(&ListFilter::new().page_size(100));
    /// while let Some(page) = pages.try_next().await? {
    ///     println!("{} links", page.links.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list_pages(&self, filter: &ListFilter) -> LinkPages {
        let state = PageState {
            client: self.client.clone(),
            page_size: filter.page_size,
            options: filter.options.clone(),
            next: NextPage::First,
            seen: HashSet::new(),
        };
        let pages = futures::stream::try_unfold(state, |mut state| async move {
            let cursor = match std::mem::replace(&mut state.next, NextPage::Done) {
                NextPage::Done => return Ok(None),
                NextPage::First => None,
                NextPage::Cursor(cursor) => Some(cursor),
            };
            let (page, meta) = state
                .client
                .links()
                .list_page(cursor.as_deref(), state.page_size)
                .options(state.options.clone())
                .with_response()
                .await?
                .into_parts();
            if let Some(next) = page.next_cursor() {
                if !state.seen.insert(next.clone()) {
                    return Err(Error::Decode {
                        request: format!("GET /v1/links?cursor={}", cursor.unwrap_or_default()),
                        path: "$.nextCursor".into(),
                        message: format!(
                            "the next-page cursor `{next}` was already followed: paging stopped (it would loop)"
                        ),
                        body: String::new(),
                        meta: Some(Box::new(meta)),
                    });
                }
                state.next = NextPage::Cursor(next);
            }
            Ok(Some((Response::new(page, meta), state)))
        })
        // Polling again after the end (or after an error) answers `None`, never panics.
        .fuse()
        .boxed();
        LinkPages { pages }
    }

    /// Every link of `GET /v1/links` that passes `filter`'s client-side filters, fetched page by
    /// page as the stream is consumed (see [`list_pages`](Self::list_pages)), so a large
    /// organization's links are never all held at once. Links come in the server's order, which
    /// is undocumented: do not rely on it.
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::client::Client) -> Result<(), passage_connect::Error> {
    /// use futures::TryStreamExt as _;
    /// use passage_connect::client::ListFilter;
    /// use passage_connect::link::LinkStatus;
    /// let filter = ListFilter::new().page_size(100).client_side_status(LinkStatus::Complete);
    /// let mut links = client.links().list_stream(filter);
    /// while let Some(link) = links.try_next().await? {
    ///     println!("{} completed", link.id);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list_stream(
        &self,
        filter: ListFilter,
    ) -> impl Stream<Item = Result<Link, Error>> + Send + Unpin + 'static {
        self.list_pages(&filter)
            .map_ok(|page| futures::stream::iter(page.links.into_iter().map(Ok::<_, Error>)))
            .try_flatten()
            .try_filter(move |link| std::future::ready(filter.matches(link)))
            .fuse()
            .boxed()
    }

    /// Polls the link until it is `complete`, `failed` or `expired`, with the default
    /// [`WaitOptions`] (10 minutes at most). Returns the link in that state (a failed link is
    /// returned, not an error: check [`Link::status`] and [`Link::error`]). Cancel by dropping
    /// the future.
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::client::Client) -> Result<(), passage_connect::Error> {
    /// let link = client.links().wait("link_abc123").await?;
    /// println!("{}", link.status);
    /// # Ok(()) }
    /// ```
    pub async fn wait(&self, id: &str) -> Result<Link, Error> {
        self.wait_with(id, &WaitOptions::default()).await
    }

    /// Like [`wait`](Self::wait) with explicit options (deadline, poll intervals, progress
    /// callback).
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::client::Client) -> Result<(), passage_connect::Error> {
    /// use std::time::Duration;
    /// use passage_connect::client::WaitOptions;
    /// let options = WaitOptions::default()
    ///     .timeout(Duration::from_secs(300))
    ///     .on_poll(|link| eprintln!("status: {}", link.status));
    /// let link = client.links().wait_with("link_abc123", &options).await?;
    /// # Ok(()) }
    /// ```
    pub async fn wait_with(&self, id: &str, options: &WaitOptions) -> Result<Link, Error> {
        super::wait::wait(self, id, options)
            .await
            .map(Response::into_inner)
    }

    /// Like [`wait_with`](Self::wait_with), with the metadata of the last poll's answer (its
    /// request id; `attempts` counts that poll's attempts, not the polls).
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::client::Client) -> Result<(), passage_connect::Error> {
    /// use passage_connect::client::WaitOptions;
    /// let done = client.links().wait_with_response("link_abc123", &WaitOptions::default()).await?;
    /// eprintln!("{} (request id {:?})", done.status, done.request_id());
    /// # Ok(()) }
    /// ```
    pub async fn wait_with_response(
        &self,
        id: &str,
        options: &WaitOptions,
    ) -> Result<Response<Link>, Error> {
        super::wait::wait(self, id, options).await
    }
}

/// How [`Links::list_stream`] and [`Links::list_pages`] list: the page size asked of the server,
/// and filters applied **client-side** (after each page arrives), because `GET /v1/links`
/// documents no filter parameter: every link is still transferred.
///
/// ```
/// use passage_connect::client::ListFilter;
/// use passage_connect::link::LinkStatus;
/// let filter = ListFilter::new()
///     .page_size(50)
///     .client_side_status(LinkStatus::Complete)
///     .client_side_status(LinkStatus::Failed)
///     .client_side_updated_since(1_704_067_200_000);
/// assert_eq!(filter.requested_page_size(), Some(50));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    page_size: Option<u32>,
    statuses: Vec<LinkStatus>,
    updated_since: Option<i64>,
    options: RequestOptions,
}

impl ListFilter {
    /// No page size (the server's default) and no filter: every link.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks for pages of at most `size` links (`?limit=<size>`, at least 1). **Undocumented**
    /// upstream: the emulator honours it, the real API may ignore it.
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = Some(size.max(1));
        self
    }

    /// Keeps only links in `status` (call again to keep several statuses). Client-side.
    pub fn client_side_status(mut self, status: LinkStatus) -> Self {
        if !self.statuses.contains(&status) {
            self.statuses.push(status);
        }
        self
    }

    /// Keeps only links whose `updatedAt` (Unix ms) is at or after `unix_ms`. A link without
    /// `updatedAt` is judged by `createdAt`, and kept when it has neither (it cannot be judged;
    /// dropping it could hide a link). Client-side.
    pub fn client_side_updated_since(mut self, unix_ms: i64) -> Self {
        self.updated_since = Some(unix_ms);
        self
    }

    /// Per-call settings (timeout, retry policy, extra headers) for the request of every page.
    ///
    /// ```
    /// use std::time::Duration;
    /// use passage_connect::client::{ListFilter, RequestOptions};
    /// let filter = ListFilter::new()
    ///     .page_size(100)
    ///     .request_options(RequestOptions::new().timeout(Duration::from_secs(10)));
    /// assert_eq!(filter.get_request_options().get_timeout(), Some(Duration::from_secs(10)));
    /// ```
    pub fn request_options(mut self, options: RequestOptions) -> Self {
        self.options = options;
        self
    }

    /// The per-call settings of every page's request.
    pub fn get_request_options(&self) -> &RequestOptions {
        &self.options
    }

    /// The page size sent as `?limit=`, if any.
    pub fn requested_page_size(&self) -> Option<u32> {
        self.page_size
    }

    /// Whether `link` passes the client-side filters.
    ///
    /// ```
    /// use passage_connect::client::{Link, ListFilter};
    /// use passage_connect::link::LinkStatus;
    /// let link: Link = serde_json::from_str(r#"{"id":"l","status":"complete","updatedAt":5}"#).unwrap();
    /// assert!(ListFilter::new().client_side_status(LinkStatus::Complete).matches(&link));
    /// assert!(!ListFilter::new().client_side_updated_since(6).matches(&link));
    /// ```
    pub fn matches(&self, link: &Link) -> bool {
        let status_ok = self.statuses.is_empty() || self.statuses.contains(&link.status);
        let time_ok = match (self.updated_since, link.updated_at.or(link.created_at)) {
            (Some(since), Some(at)) => at >= since,
            _ => true,
        };
        status_ok && time_ok
    }
}

/// The pages of `GET /v1/links`, fetched one at a time as they are asked for (see
/// [`Links::list_pages`]): a [`Stream`] of [`LinkList`]s, also usable without `futures` through
/// [`next_page`](Self::next_page).
pub struct LinkPages {
    pages: futures::stream::BoxStream<'static, Result<Response<LinkList>, Error>>,
}

impl LinkPages {
    /// Fetches the next page; `None` after the last page or after an error.
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::client::Client) -> Result<(), passage_connect::Error> {
    /// use passage_connect::client::ListFilter;
    /// let mut pages = client.links().list_pages(&ListFilter::new());
    /// while let Some(page) = pages.next_page().await {
    ///     println!("{} links", page?.links.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn next_page(&mut self) -> Option<Result<LinkList, Error>> {
        Some(self.pages.next().await?.map(Response::into_inner))
    }

    /// Like [`next_page`](Self::next_page), with the page's answer metadata (its request id).
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::client::Client) -> Result<(), passage_connect::Error> {
    /// use passage_connect::client::ListFilter;
    /// let mut pages = client.links().list_pages(&ListFilter::new());
    /// while let Some(page) = pages.next_page_with_response().await {
    ///     let page = page?;
    ///     println!("{} links (request id {:?})", page.links.len(), page.request_id());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn next_page_with_response(&mut self) -> Option<Result<Response<LinkList>, Error>> {
        self.pages.next().await
    }
}

impl Stream for LinkPages {
    type Item = Result<LinkList, Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.pages
            .poll_next_unpin(cx)
            .map(|page| page.map(|page| page.map(Response::into_inner)))
    }
}

impl std::fmt::Debug for LinkPages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkPages").finish_non_exhaustive()
    }
}

/// Where [`Links::list_pages`] is.
enum NextPage {
    First,
    Cursor(String),
    Done,
}

struct PageState {
    client: Client,
    page_size: Option<u32>,
    options: RequestOptions,
    next: NextPage,
    /// Every cursor followed so far: a server handing one out twice would make paging loop.
    seen: HashSet<String>,
}

/// A `POST /v1/links` request being built. Always sent in the `operations` form.
///
/// Validated locally by [`send`](Self::send) before anything is sent: each operation must be in
/// the generated registry (`passage_generated::find_operation`; opt out with
/// [`allow_unknown_operations`](Self::allow_unknown_operations)), typed arguments must be for this
/// integration, arguments must validate against the operation's JSON Schema (absent arguments are
/// checked as `{}`, as the server does), URLs must parse and `expires_in` must be whole seconds.
///
/// Await it (or call [`send`](Self::send)) for the created link;
/// [`with_response`](Self::with_response) gives the answer's metadata too. Per-call settings
/// chain like on every call; a per-call retry policy still never repeats a create that may have
/// reached the server (see [`RequestOptions`]).
#[derive(Debug)]
#[must_use = "a create request does nothing until `.send().await`"]
pub struct CreateLink<'a> {
    client: &'a Client,
    options: RequestOptions,
    integration: String,
    operations: Vec<PendingOperation>,
    webhook_url: Option<String>,
    return_url: Option<String>,
    external_user_id: Option<String>,
    debug: Option<bool>,
    expires_in: Option<Duration>,
    allow_unknown_operations: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateLinkBody<'a> {
    integration_id: &'a str,
    operations: Vec<OperationBody<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    webhook_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    return_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_user_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    debug: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in: Option<u64>,
}

#[derive(Serialize)]
struct OperationBody<'a> {
    resource: &'a str,
    action: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    arguments: Option<&'a Value>,
}

impl<'a> CreateLink<'a> {
    fn new(client: &'a Client, integration: String) -> Self {
        Self {
            client,
            options: RequestOptions::new(),
            integration,
            operations: Vec::new(),
            webhook_url: None,
            return_url: None,
            external_user_id: None,
            debug: None,
            expires_in: None,
            allow_unknown_operations: false,
        }
    }

    per_call_options!("client.links().create(\"tmobile\").operation(\"paymentMethod\", \"read\")");

    /// Adds an operation without arguments (run in the order added).
    ///
    /// ```no_run
    /// # fn demo(client: passage_connect::client::Client) {
    /// let request = client.links().create("att").operation("mobileBillingStatement", "read");
    /// # }
    /// ```
    pub fn operation(mut self, resource: impl Into<String>, action: impl Into<String>) -> Self {
        self.operations.push(PendingOperation {
            resource: resource.into(),
            action: action.into(),
            arguments: None,
            typed_for: None,
            serialize_error: None,
        });
        self
    }

    /// Adds an operation with typed arguments: the operation is the type's `RESOURCE`/`ACTION`,
    /// and the integration must be one of its `INTEGRATIONS`.
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use passage_connect::types::tmobile::PaymentMethodWriteArguments;
    /// let card: PaymentMethodWriteArguments = serde_json::from_value(serde_json::json!({
    ///     "cardNumber": "4111111111111111", "expirationDate": "12/28", "cvv": "123",
    ///     "nameOnCard": "John Doe", "billingZip": "10001"
    /// }))?;
    /// let link = client
    ///     .links()
    ///     .create("tmobile")
    ///     .operation("paymentMethod", "read")
    ///     .operation_with_arguments(&card)
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn operation_with_arguments<A: OperationArguments>(mut self, arguments: &A) -> Self {
        let (arguments, serialize_error) = match serde_json::to_value(arguments) {
            Ok(value) => (Some(value), None),
            Err(err) => (None, Some(err.to_string())),
        };
        self.operations.push(PendingOperation {
            resource: A::RESOURCE.to_string(),
            action: A::ACTION.to_string(),
            arguments,
            typed_for: Some(A::INTEGRATIONS),
            serialize_error,
        });
        self
    }

    /// Adds an operation with arguments as raw JSON (still validated against the schema when
    /// the operation is known).
    ///
    /// ```no_run
    /// # fn demo(client: passage_connect::client::Client) {
    /// let request = client
    ///     .links()
    ///     .create("tmobile")
    ///     .operation_with_json_arguments("mobileBillingStatement", "read", serde_json::json!({"limit": 3}));
    /// # }
    /// ```
    pub fn operation_with_json_arguments(
        mut self,
        resource: impl Into<String>,
        action: impl Into<String>,
        arguments: Value,
    ) -> Self {
        self.operations.push(PendingOperation {
            resource: resource.into(),
            action: action.into(),
            arguments: Some(arguments),
            typed_for: None,
            serialize_error: None,
        });
        self
    }

    /// Sets where the completion webhook is POSTed (an http(s) URL).
    ///
    /// ```no_run
    /// # fn demo(r: passage_connect::client::CreateLink<'_>) {
    /// let r = r.webhook_url("https://your-server.com/webhook");
    /// # }
    /// ```
    pub fn webhook_url(mut self, url: impl Into<String>) -> Self {
        self.webhook_url = Some(url.into());
        self
    }

    /// Sets where the user goes after the session (`https://` or a custom scheme such as
    /// `myapp://done`); the server appends `linkId`.
    ///
    /// ```no_run
    /// # fn demo(r: passage_connect::client::CreateLink<'_>) {
    /// let r = r.return_url("myapp://done");
    /// # }
    /// ```
    pub fn return_url(mut self, url: impl Into<String>) -> Self {
        self.return_url = Some(url.into());
        self
    }

    /// Sets your own id for the end user (also useful to find the link again).
    ///
    /// ```no_run
    /// # fn demo(r: passage_connect::client::CreateLink<'_>) {
    /// let r = r.external_user_id("user_456");
    /// # }
    /// ```
    pub fn external_user_id(mut self, id: impl Into<String>) -> Self {
        self.external_user_id = Some(id.into());
        self
    }

    /// Turns debug mode on or off for this link.
    ///
    /// ```no_run
    /// # fn demo(r: passage_connect::client::CreateLink<'_>) {
    /// let r = r.debug(true);
    /// # }
    /// ```
    pub fn debug(mut self, debug: bool) -> Self {
        self.debug = Some(debug);
        self
    }

    /// Sets the link's lifetime (whole seconds, > 0; the server's default is 4 hours).
    ///
    /// ```no_run
    /// # fn demo(r: passage_connect::client::CreateLink<'_>) {
    /// let r = r.expires_in(std::time::Duration::from_secs(3600));
    /// # }
    /// ```
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.expires_in = Some(lifetime);
        self
    }

    /// Sends operations this SDK's generated registry does not know (a newer catalog) instead of
    /// refusing them locally; the server still validates them.
    ///
    /// ```no_run
    /// # fn demo(r: passage_connect::client::CreateLink<'_>) {
    /// let r = r.operation("brandNewResource", "read").allow_unknown_operations();
    /// # }
    /// ```
    pub fn allow_unknown_operations(mut self) -> Self {
        self.allow_unknown_operations = true;
        self
    }

    /// The JSON body that [`send`](Self::send) posts, after local validation.
    ///
    /// ```no_run
    /// # fn demo(client: passage_connect::client::Client) -> Result<(), passage_connect::Error> {
    /// let body = client.links().create("tmobile").operation("paymentMethod", "read").to_json()?;
    /// assert_eq!(body["operations"][0]["resource"], "paymentMethod");
    /// # Ok(()) }
    /// ```
    pub fn to_json(&self) -> Result<Value, Error> {
        let issues = validate_request(
            &self.integration,
            &self.operations,
            self.allow_unknown_operations,
            self.webhook_url.as_deref(),
            self.return_url.as_deref(),
            self.expires_in,
        );
        if !issues.is_empty() {
            return Err(Error::Validation {
                issues,
                origin: ValidationSource::Local,
                response: None,
            });
        }
        let body = CreateLinkBody {
            integration_id: &self.integration,
            operations: self
                .operations
                .iter()
                .map(|op| OperationBody {
                    resource: &op.resource,
                    action: &op.action,
                    arguments: op.arguments.as_ref(),
                })
                .collect(),
            webhook_url: self.webhook_url.as_deref(),
            return_url: self.return_url.as_deref(),
            external_user_id: self.external_user_id.as_deref(),
            debug: self.debug,
            expires_in: self.expires_in.map(|d| d.as_secs()),
        };
        serde_json::to_value(&body).map_err(|err| Error::Config {
            message: format!("cannot serialize the request: {err}"),
        })
    }

    /// Validates locally, then sends `POST /v1/links` once (repeated only if the connection was
    /// never established, so no duplicate link is made) and returns the created link.
    ///
    /// When the request may have reached the server but no answer came back, the error is
    /// [`Error::Indeterminate`]: the link may exist.
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::client::Client) -> Result<(), passage_connect::Error> {
    /// let link = client.links().create("ubereats").operation("orderHistory", "read").send().await?;
    /// println!("{}", link.app_clip_url.unwrap_or_default());
    /// # Ok(()) }
    /// ```
    pub async fn send(self) -> Result<Link, Error> {
        self.with_response().await.map(Response::into_inner)
    }

    /// Like [`send`](Self::send), with the answer's metadata (request id, attempts).
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::client::Client) -> Result<(), passage_connect::Error> {
    /// let created = client
    ///     .links()
    ///     .create("ubereats")
    ///     .operation("orderHistory", "read")
    ///     .with_response()
    ///     .await?;
    /// eprintln!("created {} (request id {:?})", created.id, created.request_id());
    /// # Ok(()) }
    /// ```
    pub async fn with_response(self) -> Result<Response<Link>, Error> {
        let body = self.to_json()?;
        let bytes = serde_json::to_vec(&body).map_err(|err| Error::Config {
            message: format!("cannot serialize the request: {err}"),
        })?;
        let answer = self
            .client
            .execute(
                Method::POST,
                self.client.url(&["v1", "links"]),
                Some(bytes),
                Repeat::OnlyIfNotSent,
                None,
                &self.options,
            )
            .await?;
        let mut link: Link = decode_json(&answer)?;
        if link.integration_id.is_empty() {
            link.integration_id = self.integration;
        }
        if link.operations.is_empty() {
            link.operations = self
                .operations
                .iter()
                .map(|op| crate::link::OperationRef::new(&op.resource, &op.action))
                .collect();
        }
        Ok(Response::new(link, answer.meta))
    }
}

impl<'a> IntoFuture for CreateLink<'a> {
    type Output = Result<Link, Error>;
    type IntoFuture = CallFuture<'a, Link>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}
