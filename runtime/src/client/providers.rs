//! `client.providers()`: the catalog (`GET /v1/providers`), parsed into the shared
//! [`passage_catalog::Catalog`] model (the same one the code generator reads).

use super::calls::ListProviders;
use super::Client;

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
    /// A missing or mistyped required field is [`Error::Decode`](crate::Error::Decode) naming
    /// its JSON path; unknown keys are kept in the model's `extra` maps. Await it, or see
    /// [`ListProviders`] for the answer's metadata and per-call settings.
    ///
    /// ```no_run
    /// # async fn demo(client: passage_connect::client::Client) -> Result<(), passage_connect::Error> {
    /// let catalog = client.providers().list().await?;
    /// let tmobile = catalog.provider("tmobile");
    /// # Ok(()) }
    /// ```
    pub fn list(&self) -> ListProviders<'a> {
        ListProviders::new(self.client)
    }
}
