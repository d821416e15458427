//! Runnable examples of `passage-connect`; the code is in `examples/`:
//!
//! ```text
//! cargo run -p passage-examples --example create_and_wait   # create a link, wait, print results
//! cargo run -p passage-examples --example axum_webhook      # a verified webhook receiver on axum
//! ```
//!
//! They live in a crate of their own, with no dev-dependencies, because `cargo run --example`
//! builds the package's dev-dependencies too: in `passage-connect` that meant the emulator and
//! criterion for an example that needs neither.
