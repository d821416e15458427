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

pub mod client;
pub mod dedupe;
pub mod error;
pub mod link;
#[cfg(feature = "redis-streams")]
pub mod queue;
pub mod webhook;

pub use client::{Client, WaitOptions};
pub use error::Error;
/// The provider catalog model shared with the code generator.
pub use passage_catalog as catalog;
/// The generated per-operation types, registry and decoder.
pub use passage_generated as types;
