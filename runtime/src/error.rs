//! (being written)
/// Placeholder until the client lands.
#[derive(Debug)]
pub struct Error;
