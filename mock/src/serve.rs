//! The emulator's connections are served by `passage-serve`, the serving layer it shares with
//! the webhook receiver (timeouts, connection and body caps, JSON errors). What the rest of the
//! crate names from it is re-exported here: the `DropConnection` fault closes its connection
//! with a [`ConnectionControl`], and webhook retries stop with [`stopped`].

pub(crate) use passage_serve::{stopped, ConnectionControl};
