//! # passage-connect
//!
//! The Rust SDK for the Passage Connect API: an HTTP client for links and the provider catalog
//! ([`client`]), webhook verification and typed webhook events ([`webhook`]), redelivery dedupe
//! ([`dedupe`]), and dispatch of link results into the generated per-operation types
//! ([`link`], re-exported from `passage-generated` as [`types`]).
//!
//! The crate README follows; its examples are compiled as doc tests.
//!
#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
// docs.rs builds with `--cfg docsrs` (see `[package.metadata.docs.rs]`): feature-gated items then
// show the feature they need.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod client;
pub mod dedupe;
pub mod error;
pub mod link;
#[cfg(feature = "redis-streams")]
pub mod queue;
pub mod webhook;

pub use client::{Client, WaitOptions};

/// The repository's `README.md`, compiled as doc tests (only under `cargo test --doc`) so that
/// every Rust block in it builds as pasted, `use` lines and runtime included.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct RepositoryReadmeDoctests;
pub use error::Error;
/// The provider catalog model shared with the code generator.
pub use passage_catalog as catalog;
/// The generated per-operation types, registry and decoder.
pub use passage_generated as types;
