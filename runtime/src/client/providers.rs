//! `client.providers()`: the catalog (`GET /v1/providers`), parsed into the shared
//! [`passage_catalog::Catalog`] model (the same one the code generator reads).

use passage_catalog::{Catalog, CatalogError};
use reqwest::Method;

use super::http::{json_path, Repeat};
use super::Client;
use crate::error::Error;

/// The catalog API of a [`Client`] (`client.providers()`).
#[derive(Debug, Clone, Copy)]
pub struct Providers<'a> {
    client: &'a Client,
}

impl<'a> Providers<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    /// `GET /v1/providers`: every integration, resource and operation with their JSON Schemas.
    /// A missing or mistyped required field is [`Error::Decode`] naming its JSON path; unknown
    /// keys are kept in the model's `extra` maps.
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::client::Client) -> Result<(), passage_connect::Error> {
    /// let catalog = client.providers().list().await?;
    /// let tmobile = catalog.provider("tmobile");
    /// # Ok(()) }
    /// ```
    pub async fn list(&self) -> Result<Catalog, Error> {
        let answer = self
            .client
            .execute(
                Method::GET,
                self.client.url(&["v1", "providers"]),
                None,
                Repeat::Idempotent,
                None,
            )
            .await?;
        Catalog::from_slice(&answer.body).map_err(|err| {
            let (path, message) = match err {
                CatalogError::Envelope { path, message }
                | CatalogError::Invalid { path, message } => (json_path(&path), message),
                other => ("$".to_string(), other.to_string()),
            };
            Error::Decode {
                request: answer.request.clone(),
                path,
                message,
                body: crate::client::excerpt(&answer.body),
            }
        })
    }
}
