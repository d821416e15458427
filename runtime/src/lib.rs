// The crate docs are the crate README (one intro, not two); its examples are compiled as doc
// tests. It says what the crate is for: the client, webhooks, dedupe, the queue, typed results.
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
#[doc(inline)]
pub use passage_catalog as catalog;
/// The generated per-operation types, registry and decoder (crate `passage-generated`, shown
/// here in full so that `passage_connect::types::...` is browsable from these docs).
#[doc(inline)]
pub use passage_generated as types;
