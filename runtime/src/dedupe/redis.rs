//! The Redis dedupe store (cargo feature `redis`), for receivers and workers on several machines.
//!
//! Each key is one Redis string under the store's prefix: `p:<token>` with a millisecond expiry
//! (the lease) while a caller processes the event, `d` with the TTL once it is done. Claims and
//! releases are Lua scripts, so each is atomic. The connection is a redis
//! [`ConnectionManager`], which reconnects after Redis restarts; every call is bounded by the
//! store's timeout. A claim carries the caller's deadline (this host's clock, Unix ms) and the
//! script compares it with Redis's `TIME`, so a claim that reaches Redis after the caller gave up
//! (Redis was paused, the network stalled) is not written: it cannot make the caller's retry look
//! like a duplicate. This assumes this host's clock and the Redis server's agree to well within
//! the timeout; if they do not, claims fail with [`DedupeError::ClockSkew`] rather than
//! misbehave.

use std::fmt;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Script, Value};

use super::{Claim, ClaimToken, DedupeError, DedupeFuture, DedupeKey, DedupeState, DedupeStore};

/// Default prefix of the Redis keys this store writes.
pub const DEFAULT_PREFIX: &str = "passage:webhook:";
/// Default bound on every Redis call (connecting included).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// `KEYS[1]` the record; `ARGV` token, lease (ms), the caller's deadline (Unix ms).
/// Answers `{state, pttl}`. Any value but `p:...` counts as done (older versions wrote `1`).
const CLAIM_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now > tonumber(ARGV[3]) then return {'late', 0} end
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], 'p:' .. ARGV[1], 'PX', ARGV[2])
  return {'acquired', 0}
end
if string.sub(v, 1, 2) == 'p:' then return {'busy', redis.call('PTTL', KEYS[1])} end
return {'done', 0}
";

/// `KEYS[1]` the record; `ARGV[1]` the token. Deletes the record only if it is this claim.
const RELEASE_LUA: &str = r"
if redis.call('GET', KEYS[1]) == 'p:' .. ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// A [`DedupeStore`] backed by Redis, shared by every receiver and worker that uses the same
/// Redis and prefix. See the [module docs](super) for the processing/done rule.
///
/// Cloning is cheap; clones share one connection manager.
#[derive(Clone)]
pub struct RedisDedupeStore {
    conn: ConnectionManager,
    prefix: String,
    ttl: Duration,
    lease: Duration,
    timeout: Duration,
    claim_script: Script,
    release_script: Script,
}

impl fmt::Debug for RedisDedupeStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The connection holds the server address and maybe credentials: leave it out.
        f.debug_struct("RedisDedupeStore")
            .field("prefix", &self.prefix)
            .field("ttl", &self.ttl)
            .field("lease", &self.lease)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Opens a [`ConnectionManager`] to `url` whose connects and commands time out after `timeout`
/// and which reconnects with a short backoff. Errors never contain the URL (it may hold a
/// password).
pub(crate) async fn connect_manager(
    url: &str,
    timeout: Duration,
) -> Result<ConnectionManager, ::redis::RedisError> {
    let client = ::redis::Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(timeout)
        .set_response_timeout(timeout)
        .set_number_of_retries(3)
        .set_factor(50)
        .set_max_delay(1_000);
    match tokio::time::timeout(
        timeout.saturating_mul(4),
        ConnectionManager::new_with_config(client, config),
    )
    .await
    {
        Ok(result) => result,
        Err(_) => Err(::redis::RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "connecting to redis timed out",
        ))),
    }
}

impl RedisDedupeStore {
    /// Connects to the Redis server at `url` (`redis://[:password@]host:port[/db]`), with
    /// [`DEFAULT_TIMEOUT`]. The store reconnects by itself after Redis restarts.
    ///
    /// Errors never contain the URL (it may hold a password).
    pub async fn connect(url: &str) -> Result<Self, DedupeError> {
        Self::connect_with_timeout(url, DEFAULT_TIMEOUT).await
    }

    /// [`connect`](Self::connect) with `timeout` on every call instead of [`DEFAULT_TIMEOUT`].
    pub async fn connect_with_timeout(url: &str, timeout: Duration) -> Result<Self, DedupeError> {
        let conn = connect_manager(url, timeout)
            .await
            .map_err(|source| DedupeError::Redis {
                operation: "connect",
                source,
            })?;
        Ok(Self::from_manager(conn).with_timeout(timeout))
    }

    /// Uses an existing connection manager, with [`DEFAULT_PREFIX`], [`DEFAULT_TIMEOUT`] and the
    /// memory store's default TTL and lease.
    pub fn from_manager(conn: ConnectionManager) -> Self {
        Self {
            conn,
            prefix: DEFAULT_PREFIX.to_owned(),
            ttl: super::memory::DEFAULT_TTL,
            lease: super::memory::DEFAULT_LEASE,
            timeout: DEFAULT_TIMEOUT,
            claim_script: Script::new(CLAIM_LUA),
            release_script: Script::new(RELEASE_LUA),
        }
    }

    /// Prefixes every Redis key with `prefix` (to share a database with other uses).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Remembers each *done* key for `ttl`, rounded up to whole seconds (at least one second).
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
        self.ttl = Duration::from_secs(secs.max(1));
        self
    }

    /// Holds each claim as *processing* for `lease` (whole milliseconds, at least one).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(1));
        self
    }

    /// Bounds every call by `timeout` (a call past it fails with [`DedupeError::Timeout`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The lease of a claim.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// The Redis key for `key`: the prefix followed by [`DedupeKey::to_storage_key`].
    pub fn redis_key(&self, key: &DedupeKey) -> String {
        format!("{}{}", self.prefix, key.to_storage_key())
    }

    /// What the store holds for `key`, read with one `GET` and without claiming it (a
    /// reconciler deciding whether an event still needs to be queued). The answer may be stale
    /// by the time it is used: it is a hint, the claim rule stays the guarantee.
    pub async fn state(&self, key: &DedupeKey) -> Result<DedupeState, DedupeError> {
        let mut conn = self.conn.clone();
        let cmd = ::redis::cmd("GET").arg(self.redis_key(key)).clone();
        let value: Option<String> = self.bounded("GET", cmd.query_async(&mut conn)).await?;
        Ok(match value {
            None => DedupeState::Absent,
            // The claim script's `p:<token>`; anything else counts as done, as in `claim`.
            Some(v) if v.starts_with("p:") => DedupeState::Processing,
            Some(_) => DedupeState::Done,
        })
    }

    async fn bounded<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, ::redis::RedisError>>,
    ) -> Result<T, DedupeError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            // The connection's own response timeout (the same duration) may fire first.
            Ok(Err(source)) if source.is_timeout() => Err(DedupeError::Timeout {
                operation,
                after: self.timeout,
            }),
            Ok(Err(source)) => Err(DedupeError::Redis { operation, source }),
            Err(_) => Err(DedupeError::Timeout {
                operation,
                after: self.timeout,
            }),
        }
    }
}

fn unix_millis_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl DedupeStore for RedisDedupeStore {
    fn claim<'a>(&'a self, key: &'a DedupeKey) -> DedupeFuture<'a, Claim> {
        Box::pin(async move {
            let token = ClaimToken::random();
            let deadline = unix_millis_now().saturating_add(millis(self.timeout));
            let mut conn = self.conn.clone();
            let mut invocation = self.claim_script.key(self.redis_key(key));
            invocation
                .arg(token.as_str())
                .arg(millis(self.lease))
                .arg(deadline);
            let (state, pttl): (String, i64) = self
                .bounded("claim", invocation.invoke_async(&mut conn))
                .await?;
            match state.as_str() {
                "acquired" => Ok(Claim::Acquired(token)),
                "done" => Ok(Claim::Done),
                "busy" => Ok(Claim::InProgress {
                    retry_after: Duration::from_millis(u64::try_from(pttl).unwrap_or(0)),
                }),
                "late" => Err(DedupeError::ClockSkew {
                    timeout: self.timeout,
                }),
                other => Err(DedupeError::UnexpectedReply {
                    operation: "claim",
                    reply: other.to_owned(),
                }),
            }
        })
    }

    fn complete<'a>(&'a self, key: &'a DedupeKey) -> DedupeFuture<'a, ()> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let cmd = ::redis::cmd("SET")
                .arg(self.redis_key(key))
                .arg("d")
                .arg("EX")
                .arg(self.ttl.as_secs().max(1))
                .clone();
            let reply: Value = self.bounded("SET done", cmd.query_async(&mut conn)).await?;
            match reply {
                Value::Okay => Ok(()),
                Value::SimpleString(s) if s == "OK" => Ok(()),
                other => Err(DedupeError::UnexpectedReply {
                    operation: "SET done",
                    reply: format!("{other:?}"),
                }),
            }
        })
    }

    fn release<'a>(&'a self, key: &'a DedupeKey, token: &'a ClaimToken) -> DedupeFuture<'a, ()> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let mut invocation = self.release_script.key(self.redis_key(key));
            invocation.arg(token.as_str());
            let _released: i64 = self
                .bounded("release", invocation.invoke_async(&mut conn))
                .await?;
            Ok(())
        })
    }

    fn forget<'a>(&'a self, key: &'a DedupeKey) -> DedupeFuture<'a, ()> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let cmd = ::redis::cmd("DEL").arg(self.redis_key(key)).clone();
            let _removed: i64 = self.bounded("DEL", cmd.query_async(&mut conn)).await?;
            Ok(())
        })
    }
}
