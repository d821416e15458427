//! The one error type of the emulator: what went wrong starting it or driving a link by hand.

use std::net::SocketAddr;

/// Errors from [`MockServer`](crate::MockServer) and its control operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MockError {
    /// The listening socket could not be bound (address in use, no permission...).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for in [`MockConfig::addr`](crate::MockConfig::addr).
        addr: SocketAddr,
        /// The I/O error from the operating system.
        #[source]
        source: std::io::Error,
    },
    /// The configuration cannot be used; `field` names the [`MockConfig`](crate::MockConfig) field.
    #[error("invalid mock configuration: `{field}`: {message}")]
    Config {
        /// The configuration field at fault, e.g. `api_keys`.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A JSON Schema in the catalog does not compile, so its operation cannot be emulated.
    #[error(
        "catalog schema `{integration}/{resource}/{action}` ({which}) does not compile: {message}"
    )]
    Schema {
        /// Integration id.
        integration: String,
        /// Resource name.
        resource: String,
        /// Action name.
        action: String,
        /// `arguments` or `result`.
        which: &'static str,
        /// The compiler's message.
        message: String,
    },
    /// No link has this id.
    #[error("link `{link_id}` not found")]
    LinkNotFound {
        /// The id asked for.
        link_id: String,
    },
    /// The link is in a state that does not allow the operation (e.g. completing a completed link).
    #[error("link `{link_id}` is {status}: cannot {operation} it")]
    InvalidState {
        /// The link's id.
        link_id: String,
        /// Its current (effective) status, e.g. `complete` or `expired`.
        status: String,
        /// What was attempted: `complete`, `fail` or `expire`.
        operation: &'static str,
    },
    /// Sample data could not be generated for an operation, or does not match its result schema.
    #[error("cannot generate sample data for `{integration}/{resource}/{action}`: {message}")]
    Sample {
        /// Integration id.
        integration: String,
        /// Resource name.
        resource: String,
        /// Action name.
        action: String,
        /// What went wrong (generator error, or the schema violation with its JSON path).
        message: String,
    },
}
