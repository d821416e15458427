//! One builder per read call ([`GetLink`], [`ListLinks`], [`ListProviders`]): awaiting it makes
//! the call (`client.links().get(id).await?`), `.with_response()` also returns the
//! [`ResponseMeta`](super::ResponseMeta), and per-call settings ([`RequestOptions`]) chain before
//! either. [`CreateLink`](super::CreateLink) takes the same settings.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Instant;

use passage_catalog::{Catalog, CatalogError};
use reqwest::Method;

use super::http::{json_path, Repeat};
use super::model::{Link, LinkList};
use super::options::RequestOptions;
use super::response::Response;
use super::Client;
use crate::error::{Error, Issue, ValidationSource};

/// The future a call builder turns into when awaited.
pub type CallFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'a>>;

/// The per-call setting methods every call builder has, delegating to its `options` field.
/// `$example` is an expression for one such builder (from a `client`), used in the examples.
macro_rules! per_call_options {
    ($example:literal) => {
        /// Sets the time limit of each HTTP attempt of this call (the client's
        /// [`timeout`](crate::client::ClientBuilder::timeout) otherwise); see
        /// [`RequestOptions::timeout`](crate::client::RequestOptions::timeout).
        ///
        #[doc = concat!(
            "```no_run\n# async fn demo(client: passage_connect::Client) -> Result<(), passage_connect::Error> {\n",
            "let value = ", $example, "\n    .timeout(std::time::Duration::from_secs(5))\n    .await?;\n# Ok(()) }\n```"
        )]
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.options = self.options.timeout(timeout);
            self
        }

        /// Sets how many retries this call may make (`0`: none), the rest of the policy being
        /// the client's; see
        /// [`RequestOptions::max_retries`](crate::client::RequestOptions::max_retries).
        ///
        #[doc = concat!(
            "```no_run\n# async fn demo(client: passage_connect::Client) -> Result<(), passage_connect::Error> {\n",
            "let value = ", $example, ".max_retries(0).await?;\n# Ok(()) }\n```"
        )]
        pub fn max_retries(mut self, retries: u32) -> Self {
            self.options = self.options.max_retries(retries);
            self
        }

        /// Sets the retry policy of this call; see
        /// [`RequestOptions`](crate::client::RequestOptions) for which calls are retried.
        ///
        #[doc = concat!(
            "```no_run\n# async fn demo(client: passage_connect::Client) -> Result<(), passage_connect::Error> {\n",
            "use passage_connect::client::RetryPolicy;\n",
            "let value = ", $example, ".retry(RetryPolicy::none()).await?;\n# Ok(()) }\n```"
        )]
        pub fn retry(mut self, policy: crate::client::RetryPolicy) -> Self {
            self.options = self.options.retry(policy);
            self
        }

        /// Adds a header to this call. `Authorization` and the message headers are refused
        /// with [`Error::Config`](crate::Error::Config) when the call is made; see
        /// [`RequestOptions::header`](crate::client::RequestOptions::header).
        ///
        #[doc = concat!(
            "```no_run\n# async fn demo(client: passage_connect::Client) -> Result<(), passage_connect::Error> {\n",
            "let value = ", $example, ".header(\"x-trace-id\", \"trace-42\").await?;\n# Ok(()) }\n```"
        )]
        pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
            self.options = self.options.header(name, value);
            self
        }

        /// Replaces all per-call settings of this call with `options`.
        ///
        #[doc = concat!(
            "```no_run\n# async fn demo(client: passage_connect::Client) -> Result<(), passage_connect::Error> {\n",
            "use passage_connect::client::RequestOptions;\n",
            "let options = RequestOptions::new().max_retries(1).header(\"x-tenant\", \"acme\");\n",
            "let value = ", $example, ".options(options).await?;\n# Ok(()) }\n```"
        )]
        pub fn options(mut self, options: crate::client::RequestOptions) -> Self {
            self.options = options;
            self
        }
    };
}

pub(crate) use per_call_options;

/// `GET /v1/links/{id}`, from [`Links::get`](super::Links::get): await it for the [`Link`], or
/// call [`with_response`](Self::with_response) for its [`ResponseMeta`](super::ResponseMeta)
/// too. Retried on 408/429/5xx and transport errors.
#[derive(Debug)]
#[must_use = "a call does nothing until it is awaited"]
pub struct GetLink<'a> {
    client: &'a Client,
    id: String,
    deadline: Option<Instant>,
    options: RequestOptions,
}

impl<'a> GetLink<'a> {
    pub(crate) fn new(client: &'a Client, id: &str) -> Self {
        Self {
            client,
            id: id.to_owned(),
            deadline: None,
            options: RequestOptions::new(),
        }
    }

    /// A wait's own deadline (see [`Client::execute`]).
    pub(crate) fn deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    per_call_options!("client.links().get(\"link_abc123\")");

    /// Makes the call; the link and the answer's metadata.
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::Client) -> Result<(), passage_connect::Error> {
    /// let response = client.links().get("link_abc123").with_response().await?;
    /// eprintln!("request id: {}", response.request_id().unwrap_or("-"));
    /// println!("{}", response.status); // the link's status, through Deref
    /// # Ok(()) }
    /// ```
    pub async fn with_response(self) -> Result<Response<Link>, Error> {
        if self.id.trim().is_empty() {
            return Err(Error::Validation {
                issues: vec![Issue::new("linkId", "Required")],
                origin: ValidationSource::Local,
                response: None,
            });
        }
        let url = self.client.url(&["v1", "links", &self.id]);
        self.client
            .get_json(url, self.deadline, &self.options)
            .await
    }
}

impl<'a> IntoFuture for GetLink<'a> {
    type Output = Result<Link, Error>;
    type IntoFuture = CallFuture<'a, Link>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.with_response().await.map(Response::into_inner) })
    }
}

/// `GET /v1/links` (one answer, or one page of it), from [`Links::list`](super::Links::list) or
/// [`Links::list_page`](super::Links::list_page): await it for the [`LinkList`], or call
/// [`with_response`](Self::with_response) for its metadata too. Retried like every GET.
#[derive(Debug)]
#[must_use = "a call does nothing until it is awaited"]
pub struct ListLinks<'a> {
    client: &'a Client,
    cursor: Option<String>,
    page_size: Option<u32>,
    options: RequestOptions,
}

impl<'a> ListLinks<'a> {
    pub(crate) fn new(client: &'a Client, cursor: Option<&str>, page_size: Option<u32>) -> Self {
        Self {
            client,
            cursor: cursor.map(str::to_owned),
            page_size,
            options: RequestOptions::new(),
        }
    }

    per_call_options!("client.links().list()");

    /// Makes the call; the list and the answer's metadata.
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::Client) -> Result<(), passage_connect::Error> {
    /// let response = client.links().list().with_response().await?;
    /// println!("{} links, request id {:?}", response.links.len(), response.request_id());
    /// # Ok(()) }
    /// ```
    pub async fn with_response(self) -> Result<Response<LinkList>, Error> {
        let mut url = self.client.url(&["v1", "links"]);
        if self.cursor.is_some() || self.page_size.is_some() {
            let mut query = url.query_pairs_mut();
            if let Some(limit) = self.page_size {
                query.append_pair("limit", &limit.to_string());
            }
            if let Some(cursor) = &self.cursor {
                query.append_pair("cursor", cursor);
            }
        }
        self.client.get_json(url, None, &self.options).await
    }
}

impl<'a> IntoFuture for ListLinks<'a> {
    type Output = Result<LinkList, Error>;
    type IntoFuture = CallFuture<'a, LinkList>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.with_response().await.map(Response::into_inner) })
    }
}

/// `GET /v1/providers`, from [`Providers::list`](super::Providers::list): await it for the
/// [`Catalog`], or call [`with_response`](Self::with_response) for its metadata too.
#[derive(Debug)]
#[must_use = "a call does nothing until it is awaited"]
pub struct ListProviders<'a> {
    client: &'a Client,
    options: RequestOptions,
}

impl<'a> ListProviders<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self {
            client,
            options: RequestOptions::new(),
        }
    }

    per_call_options!("client.providers().list()");

    /// Makes the call; the catalog and the answer's metadata. A missing or mistyped required
    /// field is [`Error::Decode`] naming its JSON path.
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::Client) -> Result<(), passage_connect::Error> {
    /// let response = client.providers().list().with_response().await?;
    /// println!("{} providers", response.providers.len());
    /// # Ok(()) }
    /// ```
    pub async fn with_response(self) -> Result<Response<Catalog>, Error> {
        let answer = self
            .client
            .execute(
                Method::GET,
                self.client.url(&["v1", "providers"]),
                None,
                Repeat::Idempotent,
                None,
                &self.options,
            )
            .await?;
        match Catalog::from_slice(&answer.body) {
            Ok(catalog) => Ok(Response::new(catalog, answer.meta)),
            Err(err) => {
                let (path, message) = match err {
                    CatalogError::Envelope { path, message }
                    | CatalogError::Invalid { path, message } => (json_path(&path), message),
                    other => ("$".to_string(), other.to_string()),
                };
                Err(Error::Decode {
                    request: answer.request.clone(),
                    path,
                    message,
                    body: super::excerpt(&answer.body),
                    meta: Some(Box::new(answer.meta)),
                })
            }
        }
    }
}

impl<'a> IntoFuture for ListProviders<'a> {
    type Output = Result<Catalog, Error>;
    type IntoFuture = CallFuture<'a, Catalog>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.with_response().await.map(Response::into_inner) })
    }
}
