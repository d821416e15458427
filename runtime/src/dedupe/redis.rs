//! The Redis dedupe store (cargo feature `redis`), for receivers running on several machines.

use std::fmt;
use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::Value;

use super::{DedupeError, DedupeFuture, DedupeKey, DedupeStore};

/// Default prefix of the Redis keys this store writes.
pub const DEFAULT_PREFIX: &str = "passage:webhook:";

/// A [`DedupeStore`] backed by Redis: each key is recorded with `SET <prefix><key> 1 NX EX <ttl>`,
/// which is atomic, so among receivers sharing one Redis exactly one sees an event as first.
///
/// Keys expire on their own after the TTL (whole seconds, at least 1). Cloning is cheap; clones
/// share one multiplexed connection.
#[derive(Clone)]
pub struct RedisDedupeStore {
    conn: MultiplexedConnection,
    prefix: String,
    ttl_secs: u64,
}

impl fmt::Debug for RedisDedupeStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The connection holds the server address and maybe credentials: leave it out.
        f.debug_struct("RedisDedupeStore")
            .field("prefix", &self.prefix)
            .field("ttl_secs", &self.ttl_secs)
            .finish_non_exhaustive()
    }
}

impl RedisDedupeStore {
    /// Connects to the Redis server at `url` (`redis://[:password@]host:port[/db]`).
    ///
    /// Errors never contain the URL (it may hold a password).
    pub async fn connect(url: &str) -> Result<Self, DedupeError> {
        let client = ::redis::Client::open(url).map_err(|source| DedupeError::Redis {
            operation: "open (parse URL)",
            source,
        })?;
        let conn = client
            .get_multiplexed_async_connection()
            .await
            .map_err(|source| DedupeError::Redis {
                operation: "connect",
                source,
            })?;
        Ok(Self::from_connection(conn))
    }

    /// Uses an existing connection, with the default key prefix (`passage:webhook:`) and the memory
    /// store's default TTL.
    pub fn from_connection(conn: MultiplexedConnection) -> Self {
        Self {
            conn,
            prefix: DEFAULT_PREFIX.to_owned(),
            ttl_secs: super::memory::DEFAULT_TTL.as_secs(),
        }
    }

    /// Prefixes every Redis key with `prefix` (to share a database with other uses).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Remembers each key for `ttl`, rounded up to whole seconds (at least one second).
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
        self.ttl_secs = secs.max(1);
        self
    }

    /// The Redis key for `key`: the prefix followed by [`DedupeKey::to_storage_key`].
    pub fn redis_key(&self, key: &DedupeKey) -> String {
        format!("{}{}", self.prefix, key.to_storage_key())
    }
}

impl DedupeStore for RedisDedupeStore {
    fn first_seen<'a>(&'a self, key: &'a DedupeKey) -> DedupeFuture<'a, bool> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let reply: Value = ::redis::cmd("SET")
                .arg(self.redis_key(key))
                .arg(1)
                .arg("NX")
                .arg("EX")
                .arg(self.ttl_secs)
                .query_async(&mut conn)
                .await
                .map_err(|source| DedupeError::Redis {
                    operation: "SET NX",
                    source,
                })?;
            match reply {
                Value::Okay => Ok(true),
                Value::Nil => Ok(false),
                Value::SimpleString(s) if s == "OK" => Ok(true),
                other => Err(DedupeError::UnexpectedReply {
                    operation: "SET NX",
                    reply: format!("{other:?}"),
                }),
            }
        })
    }

    fn forget<'a>(&'a self, key: &'a DedupeKey) -> DedupeFuture<'a, ()> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let _removed: i64 = ::redis::cmd("DEL")
                .arg(self.redis_key(key))
                .query_async(&mut conn)
                .await
                .map_err(|source| DedupeError::Redis {
                    operation: "DEL",
                    source,
                })?;
            Ok(())
        })
    }
}
