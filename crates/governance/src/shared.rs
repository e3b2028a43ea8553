//! Counters shared by every replica, in Redis: the sliding windows of requests and tokens per
//! key and the budgets' spend and open reservations. Each operation is one Lua script, so it
//! is atomic across replicas; each call runs under [`CALL_TIMEOUT`]. A failed or late call is
//! an error the caller turns into the local fallback (limits divided by the replica count,
//! budgets closed beyond a small allowance), never a hang.

use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::Script;

use crate::rate::{Refused, Window};

/// The longest one Redis call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(250);
const WINDOW_MS: i64 = 60_000;

#[derive(Debug, thiserror::Error)]
#[error("redis: {0}")]
pub struct SharedError(pub String);

impl From<redis::RedisError> for SharedError {
    fn from(e: redis::RedisError) -> Self {
        SharedError(e.to_string())
    }
}

const REQUESTS: &str = r#"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
local n = redis.call('ZCARD', KEYS[1])
local limit = tonumber(ARGV[3])
if n < limit then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, limit - n - 1, tonumber(ARGV[2])}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, 0, tonumber(oldest[2]) + tonumber(ARGV[2]) - tonumber(ARGV[1])}
"#;

/// Tokens: members `id:tokens` scored by time; admitted while the window's sum is under the
/// limit; otherwise the wait until enough old charges leave.
const TOKENS_ROOM: &str = r#"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
local all = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local limit = tonumber(ARGV[3])
local sum = 0
for i = 1, #all, 2 do sum = sum + tonumber(string.match(all[i], ':(%d+)$')) end
if sum < limit then return {1, limit - sum, 0} end
for i = 1, #all, 2 do
  sum = sum - tonumber(string.match(all[i], ':(%d+)$'))
  if sum < limit then return {0, 0, tonumber(all[i + 1]) + tonumber(ARGV[2]) - tonumber(ARGV[1])} end
end
return {0, 0, tonumber(ARGV[2])}
"#;

const TOKENS_CHARGE: &str = r#"
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1}
"#;

/// Budget hash `spent`, `reserved`. ARGV: limit, amount, seed (-1: none), ttl ms (0: none).
/// Returns {1, spent} reserved; {0, spent} refused; {2, 0} the hash needs its seed.
const RESERVE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then
  if tonumber(ARGV[3]) < 0 then return {2, 0} end
  redis.call('HSET', KEYS[1], 'spent', ARGV[3], 'reserved', 0)
end
if tonumber(ARGV[4]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent'))
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved'))
if spent + reserved + tonumber(ARGV[2]) > tonumber(ARGV[1]) then return {0, spent} end
redis.call('HINCRBY', KEYS[1], 'reserved', ARGV[2])
return {1, spent}
"#;

const SETTLE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
redis.call('HINCRBY', KEYS[1], 'reserved', -tonumber(ARGV[1]))
redis.call('HINCRBY', KEYS[1], 'spent', ARGV[2])
return {1}
"#;

/// The outcome of a shared reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserved {
    Yes,
    /// Refused; the spend so far.
    No {
        spent: i64,
    },
    /// The period's counter does not exist yet: call again with the ledger's spend.
    NeedsSeed,
}

#[derive(Clone)]
pub struct Shared {
    conn: ConnectionManager,
    prefix: String,
    requests: Script,
    tokens_room: Script,
    tokens_charge: Script,
    reserve: Script,
    settle: Script,
}

impl Shared {
    pub async fn connect(url: &str) -> Result<Shared, SharedError> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(CALL_TIMEOUT)
            .set_number_of_retries(1);
        let conn = tokio::time::timeout(
            Duration::from_secs(3),
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| SharedError("connecting timed out".into()))??;
        Ok(Shared {
            conn,
            prefix: "sy:".to_owned(),
            requests: Script::new(REQUESTS),
            tokens_room: Script::new(TOKENS_ROOM),
            tokens_charge: Script::new(TOKENS_CHARGE),
            reserve: Script::new(RESERVE),
            settle: Script::new(SETTLE),
        })
    }

    /// The same counters under another key prefix (tests run side by side in one Redis).
    pub fn with_prefix(mut self, prefix: &str) -> Shared {
        self.prefix = prefix.to_owned();
        self
    }

    async fn run(&self, invocation: redis::ScriptInvocation<'_>) -> Result<Vec<i64>, SharedError> {
        let mut conn = self.conn.clone();
        match tokio::time::timeout(CALL_TIMEOUT, invocation.invoke_async(&mut conn)).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(SharedError("call timed out".into())),
        }
    }

    /// One request against `limit` per minute for `key`.
    pub async fn admit_request(
        &self,
        key: &str,
        limit: u32,
        now_ms: i64,
        member: &str,
    ) -> Result<Result<Window, Refused>, SharedError> {
        let mut call = self.requests.prepare_invoke();
        call.key(format!("{}rq:{key}", self.prefix))
            .arg(now_ms)
            .arg(WINDOW_MS)
            .arg(limit)
            .arg(member);
        let out = self.run(call).await?;
        Ok(window_outcome(&out, limit, false))
    }

    /// Whether `key` has token room left this minute.
    pub async fn tokens_room(
        &self,
        key: &str,
        limit: u32,
        now_ms: i64,
    ) -> Result<Result<Window, Refused>, SharedError> {
        let mut call = self.tokens_room.prepare_invoke();
        call.key(format!("{}tk:{key}", self.prefix))
            .arg(now_ms)
            .arg(WINDOW_MS)
            .arg(limit);
        let out = self.run(call).await?;
        Ok(window_outcome(&out, limit, true))
    }

    pub async fn charge_tokens(
        &self,
        key: &str,
        tokens: u64,
        now_ms: i64,
        member: &str,
    ) -> Result<(), SharedError> {
        let mut call = self.tokens_charge.prepare_invoke();
        call.key(format!("{}tk:{key}", self.prefix))
            .arg(now_ms)
            .arg(WINDOW_MS)
            .arg(format!("{member}:{tokens}"));
        self.run(call).await.map(|_| ())
    }

    /// Reserves `amount` of `key`'s budget for the period starting at `period_start`.
    pub async fn reserve(
        &self,
        key: &str,
        period_start: i64,
        limit: i64,
        amount: i64,
        seed: Option<i64>,
        ttl_ms: i64,
    ) -> Result<Reserved, SharedError> {
        let mut call = self.reserve.prepare_invoke();
        call.key(budget_key(&self.prefix, key, period_start))
            .arg(limit)
            .arg(amount)
            .arg(seed.unwrap_or(-1))
            .arg(ttl_ms.max(0));
        let out = self.run(call).await?;
        let (status, spent, _) = triple(&out);
        Ok(match status {
            1 => Reserved::Yes,
            2 => Reserved::NeedsSeed,
            _ => Reserved::No { spent },
        })
    }

    pub async fn settle(
        &self,
        key: &str,
        period_start: i64,
        amount: i64,
        actual: i64,
    ) -> Result<(), SharedError> {
        let mut call = self.settle.prepare_invoke();
        call.key(budget_key(&self.prefix, key, period_start))
            .arg(amount)
            .arg(actual);
        self.run(call).await.map(|_| ())
    }

    /// `(spent, reserved)` of a budget (reports and tests).
    pub async fn standing(&self, key: &str, period_start: i64) -> Result<(i64, i64), SharedError> {
        let mut conn = self.conn.clone();
        let (spent, reserved): (Option<i64>, Option<i64>) = redis::cmd("HMGET")
            .arg(budget_key(&self.prefix, key, period_start))
            .arg("spent")
            .arg("reserved")
            .query_async(&mut conn)
            .await?;
        Ok((spent.unwrap_or(0), reserved.unwrap_or(0)))
    }
}

/// A window script's `{admitted, remaining, ms}` as an admission or a refusal.
fn window_outcome(out: &[i64], limit: u32, tokens: bool) -> Result<Window, Refused> {
    let (ok, remaining, ms) = triple(out);
    let window = Window {
        limit,
        remaining: u32::try_from(remaining.max(0)).unwrap_or(0),
        reset_ns: ns(ms),
    };
    if ok == 1 {
        Ok(window)
    } else {
        Err(Refused {
            tokens,
            retry_after_ns: ns(ms),
            window,
        })
    }
}

fn budget_key(prefix: &str, key: &str, period_start: i64) -> String {
    format!("{prefix}bu:{key}:{period_start}")
}

fn triple(values: &[i64]) -> (i64, i64, i64) {
    (
        values.first().copied().unwrap_or(0),
        values.get(1).copied().unwrap_or(0),
        values.get(2).copied().unwrap_or(0),
    )
}

fn ns(ms: i64) -> u64 {
    u64::try_from(ms.max(0)).unwrap_or(0) * 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every script against a real Redis (`SWITCHYARD_TEST_REDIS_URL`; skipped without).
    #[tokio::test]
    async fn every_script_runs_against_redis() {
        let Ok(url) = std::env::var("SWITCHYARD_TEST_REDIS_URL") else {
            eprintln!("SWITCHYARD_TEST_REDIS_URL not set: skipped");
            return;
        };
        let prefix = format!("unit{}:", std::process::id());
        let shared = Shared::connect(&url).await.unwrap().with_prefix(&prefix);
        for i in 0..3 {
            let w = shared
                .admit_request("k", 3, 1_000 + i, &format!("r{i}"))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(w.remaining, 2 - i as u32);
        }
        let refused = shared
            .admit_request("k", 3, 2_000, "r4")
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(refused.retry_after_ns, 59_000 * 1_000_000);
        assert!(shared
            .admit_request("k", 3, 61_000, "r5")
            .await
            .unwrap()
            .is_ok());

        assert!(shared.tokens_room("k", 100, 0).await.unwrap().is_ok());
        shared.charge_tokens("k", 60, 0, "a").await.unwrap();
        shared.charge_tokens("k", 60, 1_000, "b").await.unwrap();
        let refused = shared
            .tokens_room("k", 100, 2_000)
            .await
            .unwrap()
            .unwrap_err();
        assert!(refused.tokens);
        assert_eq!(refused.retry_after_ns, 58_000 * 1_000_000);

        assert_eq!(
            shared.reserve("k", 0, 1_000, 400, None, 0).await.unwrap(),
            Reserved::NeedsSeed
        );
        assert_eq!(
            shared
                .reserve("k", 0, 1_000, 400, Some(100), 0)
                .await
                .unwrap(),
            Reserved::Yes
        );
        assert_eq!(
            shared.reserve("k", 0, 1_000, 600, None, 0).await.unwrap(),
            Reserved::No { spent: 100 }
        );
        shared.settle("k", 0, 400, 250).await.unwrap();
        assert_eq!(shared.standing("k", 0).await.unwrap(), (350, 0));
    }
}
