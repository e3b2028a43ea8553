//! Counters shared by every replica, in Redis: the sliding windows of requests and tokens per
//! key and the budgets' spend and open reservations. Each operation is one Lua script, so it
//! is atomic across replicas; each call runs under [`CALL_TIMEOUT`]. A failed or late call is
//! an error the caller turns into the local fallback (limits divided by the replica count,
//! budgets closed beyond a small allowance), never a hang.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::Script;

use crate::rate::{RateScope, Refused, Window};

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

/// Requests and tokens of several scopes at once. KEYS: per scope its request set and its
/// token set. ARGV: now, window, member, then per scope rpm and tpm (-1: none). Token members
/// are `id:tokens`. Every scope is checked before the request is counted in any.
/// Returns {1, rlimit, rremaining, rreset, tlimit, tremaining, treset} (limit -1: none; the
/// tightest scope) or {0, scope index, 1 if tokens, wait ms, limit, remaining}.
const ADMIT: &str = r#"
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local n = #KEYS / 2
local out = {1, -1, -1, 0, -1, -1, 0}
local counts = {}
for i = 1, n do
  local rq, tk = KEYS[2 * i - 1], KEYS[2 * i]
  local rpm, tpm = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  if tpm >= 0 then
    redis.call('ZREMRANGEBYSCORE', tk, '-inf', now - window)
    local all = redis.call('ZRANGE', tk, 0, -1, 'WITHSCORES')
    local sum = 0
    for j = 1, #all, 2 do sum = sum + tonumber(string.match(all[j], ':(%d+)$')) end
    if sum >= tpm then
      local wait = window
      for j = 1, #all, 2 do
        sum = sum - tonumber(string.match(all[j], ':(%d+)$'))
        if sum < tpm then wait = tonumber(all[j + 1]) + window - now break end
      end
      return {0, i - 1, 1, wait, tpm, 0}
    end
    local reset = 0
    if #all > 0 then reset = tonumber(all[#all]) + window - now end
    if out[5] < 0 or tpm - sum < out[6] then out[5], out[6], out[7] = tpm, tpm - sum, reset end
  end
  if rpm >= 0 then
    redis.call('ZREMRANGEBYSCORE', rq, '-inf', now - window)
    local count = redis.call('ZCARD', rq)
    if count >= rpm then
      local oldest = redis.call('ZRANGE', rq, 0, 0, 'WITHSCORES')
      return {0, i - 1, 0, tonumber(oldest[2]) + window - now, rpm, 0}
    end
    counts[i] = count
  end
end
for i = 1, n do
  local rpm = tonumber(ARGV[2 + 2 * i])
  if rpm >= 0 then
    redis.call('ZADD', KEYS[2 * i - 1], now, ARGV[3])
    redis.call('PEXPIRE', KEYS[2 * i - 1], window)
    local left = rpm - counts[i] - 1
    if out[2] < 0 or left < out[3] then out[2], out[3], out[4] = rpm, left, window end
  end
end
return out
"#;

/// Charges tokens to several scopes' token sets. ARGV: now, window, member `id:tokens`.
const TOKENS_CHARGE: &str = r#"
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[1], ARGV[3])
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
end
return {1}
"#;

/// Reserves one amount in several budgets at once, or in none. KEYS: per budget its hash
/// (`spent`, `reserved`) and its set of open holds (members `request:amount`, scored by the
/// time they lapse). ARGV: now, amount, hold member, hold deadline, then per budget limit,
/// seed (-1: none) and ttl ms (0: none). Holds past their deadline (a replica that died
/// before settling) are released first. Returns {1} reserved, {0, index, spent} refused, or
/// {2, index...} the budgets whose counters need their seed from the ledger.
const RESERVE: &str = r#"
local now, amount = tonumber(ARGV[1]), tonumber(ARGV[2])
local n = #KEYS / 2
local missing = {2}
for i = 1, n do
  if redis.call('EXISTS', KEYS[2 * i - 1]) == 0 and tonumber(ARGV[3 + 3 * i]) < 0 then
    table.insert(missing, i - 1)
  end
end
if #missing > 1 then return missing end
for i = 1, n do
  local b, h = KEYS[2 * i - 1], KEYS[2 * i]
  local limit, seed, ttl = tonumber(ARGV[2 + 3 * i]), ARGV[3 + 3 * i], tonumber(ARGV[4 + 3 * i])
  if redis.call('EXISTS', b) == 0 then redis.call('HSET', b, 'spent', seed, 'reserved', 0) end
  local lapsed = redis.call('ZRANGEBYSCORE', h, '-inf', now)
  if #lapsed > 0 then
    for _, m in ipairs(lapsed) do
      redis.call('HINCRBY', b, 'reserved', -tonumber(string.match(m, ':(%d+)$')))
    end
    redis.call('ZREMRANGEBYSCORE', h, '-inf', now)
  end
  if ttl > 0 then redis.call('PEXPIRE', b, ttl) end
  local spent = tonumber(redis.call('HGET', b, 'spent'))
  local reserved = tonumber(redis.call('HGET', b, 'reserved'))
  if spent + reserved + amount > limit then return {0, i - 1, spent} end
end
for i = 1, n do
  local b, h, ttl = KEYS[2 * i - 1], KEYS[2 * i], tonumber(ARGV[4 + 3 * i])
  redis.call('HINCRBY', b, 'reserved', amount)
  redis.call('ZADD', h, ARGV[4], ARGV[3])
  if ttl > 0 then redis.call('PEXPIRE', h, ttl) end
end
return {1}
"#;

/// Settles a hold in each budget. ARGV: hold member, amount, actual cost. A hold that
/// already lapsed was released; the cost still counts.
const SETTLE: &str = r#"
for i = 1, #KEYS / 2 do
  local b, h = KEYS[2 * i - 1], KEYS[2 * i]
  if redis.call('EXISTS', b) == 1 then
    if redis.call('ZREM', h, ARGV[1]) == 1 then
      redis.call('HINCRBY', b, 'reserved', -tonumber(ARGV[2]))
    end
    redis.call('HINCRBY', b, 'spent', ARGV[3])
  end
end
return {1}
"#;

/// The outcome of a shared reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reserved {
    Yes,
    /// Refused by the budget at `index`; its spend so far.
    No {
        index: usize,
        spent: i64,
    },
    /// These budgets' period counters do not exist yet: call again with their ledger spend.
    NeedsSeed(Vec<usize>),
}

/// One budget as a shared reservation names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedBudget {
    /// The scope's counter id.
    pub id: String,
    /// When the budget's current period began (Unix ms).
    pub period_start: i64,
    pub limit: i64,
    /// The spend so far from the ledger, when the counter needs seeding.
    pub seed: Option<i64>,
    /// How long the counter outlives its period (0: for ever).
    pub ttl_ms: i64,
}

/// The windows after a shared admission (requests, tokens).
pub type SharedWindows = (Option<Window>, Option<Window>);

#[derive(Clone)]
pub struct Shared {
    /// `None` until Redis first answers (then the manager reconnects on its own).
    conn: Arc<RwLock<Option<ConnectionManager>>>,
    prefix: String,
    admit: Script,
    tokens_charge: Script,
    reserve: Script,
    settle: Script,
}

/// How often a replica that started without Redis tries to reach it again.
const RECONNECT: Duration = Duration::from_secs(2);

async fn manager(client: &redis::Client) -> Result<ConnectionManager, SharedError> {
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Duration::from_secs(2))
        .set_response_timeout(CALL_TIMEOUT)
        .set_number_of_retries(1);
    tokio::time::timeout(
        Duration::from_secs(3),
        ConnectionManager::new_with_config(client.clone(), config),
    )
    .await
    .map_err(|_| SharedError("connecting timed out".into()))?
    .map_err(SharedError::from)
}

impl Shared {
    /// Connects now; an error if Redis does not answer.
    pub async fn connect(url: &str) -> Result<Shared, SharedError> {
        let client = redis::Client::open(url)?;
        let conn = manager(&client).await?;
        Ok(Shared::with_connection(Some(conn)))
    }

    /// Connects now if Redis answers; otherwise starts without it (every call is an error,
    /// so limits fall back to this replica's share, loudly) and keeps trying every
    /// [`RECONNECT`] in the background. Only a malformed URL is an error.
    pub async fn start(url: &str) -> Result<Shared, SharedError> {
        let client = redis::Client::open(url)?;
        match manager(&client).await {
            Ok(conn) => Ok(Shared::with_connection(Some(conn))),
            Err(err) => {
                tracing::warn!(error = %err, "Redis does not answer: starting with this replica's share of every limit until it does");
                let shared = Shared::with_connection(None);
                let slot = shared.conn.clone();
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(RECONNECT).await;
                        if let Ok(conn) = manager(&client).await {
                            if let Ok(mut held) = slot.write() {
                                *held = Some(conn);
                            }
                            tracing::info!(
                                "Redis answers: budgets and rate limits are shared again"
                            );
                            return;
                        }
                    }
                });
                Ok(shared)
            }
        }
    }

    fn with_connection(conn: Option<ConnectionManager>) -> Shared {
        Shared {
            conn: Arc::new(RwLock::new(conn)),
            prefix: "sy:".to_owned(),
            admit: Script::new(ADMIT),
            tokens_charge: Script::new(TOKENS_CHARGE),
            reserve: Script::new(RESERVE),
            settle: Script::new(SETTLE),
        }
    }

    /// The connection, or the error that sends callers to the local fallback.
    fn connection(&self) -> Result<ConnectionManager, SharedError> {
        self.conn
            .read()
            .ok()
            .and_then(|held| held.clone())
            .ok_or_else(|| SharedError("not connected".into()))
    }

    /// The same counters under another key prefix (tests run side by side in one Redis).
    pub fn with_prefix(mut self, prefix: &str) -> Shared {
        self.prefix = prefix.to_owned();
        self
    }

    async fn run(&self, invocation: redis::ScriptInvocation<'_>) -> Result<Vec<i64>, SharedError> {
        let mut conn = self.connection()?;
        match tokio::time::timeout(CALL_TIMEOUT, invocation.invoke_async(&mut conn)).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(SharedError("call timed out".into())),
        }
    }

    /// One request against every scope's requests and tokens per minute, atomically: it is
    /// counted in all of them or in none.
    pub async fn admit_all(
        &self,
        scopes: &[RateScope<'_>],
        now_ms: i64,
        member: &str,
    ) -> Result<Result<SharedWindows, (usize, Refused)>, SharedError> {
        let mut call = self.admit.prepare_invoke();
        call.arg(now_ms).arg(WINDOW_MS).arg(member);
        for scope in scopes {
            call.key(format!("{}rq:{}", self.prefix, scope.id))
                .key(format!("{}tk:{}", self.prefix, scope.id))
                .arg(scope.rpm.map_or(-1, i64::from))
                .arg(scope.tpm.map_or(-1, i64::from));
        }
        let out = self.run(call).await?;
        let at = |i: usize| out.get(i).copied().unwrap_or(0);
        if at(0) != 1 {
            let limit = u32::try_from(at(4).max(0)).unwrap_or(u32::MAX);
            let index = usize::try_from(at(1).max(0)).unwrap_or(0);
            return Ok(Err((
                index,
                Refused {
                    tokens: at(2) == 1,
                    retry_after_ns: ns(at(3)),
                    window: Window {
                        limit,
                        remaining: 0,
                        reset_ns: ns(at(3)),
                    },
                },
            )));
        }
        let window = |limit: i64, remaining: i64, reset: i64| {
            (limit >= 0).then(|| Window {
                limit: u32::try_from(limit).unwrap_or(u32::MAX),
                remaining: u32::try_from(remaining.max(0)).unwrap_or(u32::MAX),
                reset_ns: ns(reset),
            })
        };
        Ok(Ok((
            window(at(1), at(2), at(3)),
            window(at(4), at(5), at(6)),
        )))
    }

    /// Charges a finished request's tokens to each of these scopes.
    pub async fn charge_tokens(
        &self,
        ids: &[String],
        tokens: u64,
        now_ms: i64,
        member: &str,
    ) -> Result<(), SharedError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut call = self.tokens_charge.prepare_invoke();
        for id in ids {
            call.key(format!("{}tk:{id}", self.prefix));
        }
        call.arg(now_ms)
            .arg(WINDOW_MS)
            .arg(format!("{member}:{tokens}"));
        self.run(call).await.map(|_| ())
    }

    /// Reserves `amount` in every budget at once (or in none), held under `member` until
    /// settled or until `deadline_ms`, when any later reservation releases it.
    pub async fn reserve(
        &self,
        budgets: &[SharedBudget],
        amount: i64,
        member: &str,
        now_ms: i64,
        deadline_ms: i64,
    ) -> Result<Reserved, SharedError> {
        let mut call = self.reserve.prepare_invoke();
        call.arg(now_ms)
            .arg(amount)
            .arg(hold_member(member, amount))
            .arg(deadline_ms);
        for b in budgets {
            call.key(budget_key(&self.prefix, &b.id, b.period_start))
                .key(holds_key(&self.prefix, &b.id, b.period_start))
                .arg(b.limit)
                .arg(b.seed.unwrap_or(-1))
                .arg(b.ttl_ms.max(0));
        }
        let out = self.run(call).await?;
        let index = |v: i64| usize::try_from(v.max(0)).unwrap_or(0);
        Ok(match out.first().copied().unwrap_or(0) {
            1 => Reserved::Yes,
            2 => Reserved::NeedsSeed(out[1..].iter().map(|&v| index(v)).collect()),
            _ => Reserved::No {
                index: index(out.get(1).copied().unwrap_or(0)),
                spent: out.get(2).copied().unwrap_or(0),
            },
        })
    }

    /// Settles a reservation made by [`Shared::reserve`] in each of its budgets
    /// (`(id, period_start)`).
    pub async fn settle(
        &self,
        budgets: &[(String, i64)],
        member: &str,
        amount: i64,
        actual: i64,
    ) -> Result<(), SharedError> {
        let mut call = self.settle.prepare_invoke();
        for (id, start) in budgets {
            call.key(budget_key(&self.prefix, id, *start))
                .key(holds_key(&self.prefix, id, *start));
        }
        call.arg(hold_member(member, amount))
            .arg(amount)
            .arg(actual);
        self.run(call).await.map(|_| ())
    }

    /// Open holds of a budget (tests).
    pub async fn holds(&self, id: &str, period_start: i64) -> Result<i64, SharedError> {
        let mut conn = self.connection()?;
        Ok(redis::cmd("ZCARD")
            .arg(holds_key(&self.prefix, id, period_start))
            .query_async(&mut conn)
            .await?)
    }

    /// `(spent, reserved)` of a budget (reports and tests).
    pub async fn standing(&self, key: &str, period_start: i64) -> Result<(i64, i64), SharedError> {
        let mut conn = self.connection()?;
        let (spent, reserved): (Option<i64>, Option<i64>) = redis::cmd("HMGET")
            .arg(budget_key(&self.prefix, key, period_start))
            .arg("spent")
            .arg("reserved")
            .query_async(&mut conn)
            .await?;
        Ok((spent.unwrap_or(0), reserved.unwrap_or(0)))
    }
}

fn budget_key(prefix: &str, key: &str, period_start: i64) -> String {
    format!("{prefix}bu:{key}:{period_start}")
}

fn holds_key(prefix: &str, key: &str, period_start: i64) -> String {
    format!("{prefix}bh:{key}:{period_start}")
}

fn hold_member(member: &str, amount: i64) -> String {
    format!("{member}:{amount}")
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
        let one = |rpm: Option<u32>, tpm: Option<u32>| [RateScope { id: "k", rpm, tpm }];
        for i in 0..3 {
            let (w, _) = shared
                .admit_all(&one(Some(3), None), 1_000 + i, &format!("r{i}"))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(w.unwrap().remaining, 2 - i as u32);
        }
        let (_, refused) = shared
            .admit_all(&one(Some(3), None), 2_000, "r4")
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(refused.retry_after_ns, 59_000 * 1_000_000);
        assert!(shared
            .admit_all(&one(Some(3), None), 61_000, "r5")
            .await
            .unwrap()
            .is_ok());
        // Two scopes: the second refuses, and the first does not count the request.
        let both = [
            RateScope {
                id: "a",
                rpm: Some(5),
                tpm: None,
            },
            RateScope {
                id: "team",
                rpm: Some(1),
                tpm: None,
            },
        ];
        assert!(shared.admit_all(&both, 0, "x1").await.unwrap().is_ok());
        let (index, _) = shared.admit_all(&both, 0, "x2").await.unwrap().unwrap_err();
        assert_eq!(index, 1);
        let (w, _) = shared
            .admit_all(&[both[0]], 0, "x3")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(w.unwrap().remaining, 3, "x2 was not counted in `a`");

        assert!(shared
            .admit_all(&one(None, Some(100)), 0, "t0")
            .await
            .unwrap()
            .is_ok());
        let ids = ["k".to_owned()];
        shared.charge_tokens(&ids, 60, 0, "a").await.unwrap();
        shared.charge_tokens(&ids, 60, 1_000, "b").await.unwrap();
        let (_, refused) = shared
            .admit_all(&one(None, Some(100)), 2_000, "t1")
            .await
            .unwrap()
            .unwrap_err();
        assert!(refused.tokens);
        assert_eq!(refused.retry_after_ns, 58_000 * 1_000_000);

        let budget = |id: &str, limit: i64, seed: Option<i64>| SharedBudget {
            id: id.into(),
            period_start: 0,
            limit,
            seed,
            ttl_ms: 0,
        };
        assert_eq!(
            shared
                .reserve(
                    &[budget("k", 1_000, None), budget("t", 500, None)],
                    400,
                    "q1",
                    0,
                    10
                )
                .await
                .unwrap(),
            Reserved::NeedsSeed(vec![0, 1])
        );
        assert_eq!(
            shared
                .reserve(
                    &[budget("k", 1_000, Some(100)), budget("t", 500, Some(0))],
                    400,
                    "q1",
                    0,
                    10
                )
                .await
                .unwrap(),
            Reserved::Yes
        );
        // The tenant's budget (index 1) refuses; the key's is left as it was.
        assert_eq!(
            shared
                .reserve(
                    &[budget("k", 1_000, None), budget("t", 500, None)],
                    200,
                    "q2",
                    1,
                    10
                )
                .await
                .unwrap(),
            Reserved::No { index: 1, spent: 0 }
        );
        assert_eq!(shared.standing("k", 0).await.unwrap(), (100, 400));
        shared
            .settle(&[("k".into(), 0), ("t".into(), 0)], "q1", 400, 250)
            .await
            .unwrap();
        assert_eq!(shared.standing("k", 0).await.unwrap(), (350, 0));
        assert_eq!(shared.standing("t", 0).await.unwrap(), (250, 0));
        // A hold never settled (its replica died) lapses at its deadline.
        assert_eq!(
            shared
                .reserve(&[budget("t", 500, None)], 250, "q3", 2, 100)
                .await
                .unwrap(),
            Reserved::Yes
        );
        assert_eq!(
            shared
                .reserve(&[budget("t", 500, None)], 1, "q4", 50, 200)
                .await
                .unwrap(),
            Reserved::No {
                index: 0,
                spent: 250
            }
        );
        assert_eq!(
            shared
                .reserve(&[budget("t", 500, None)], 200, "q5", 101, 300)
                .await
                .unwrap(),
            Reserved::Yes,
            "q3's hold lapsed at 100"
        );
        assert_eq!(shared.holds("t", 0).await.unwrap(), 1);
        // Settling a lapsed hold still counts its cost, and releases nothing twice.
        shared
            .settle(&[("t".into(), 0)], "q3", 250, 50)
            .await
            .unwrap();
        assert_eq!(shared.standing("t", 0).await.unwrap(), (300, 200));
    }
}
