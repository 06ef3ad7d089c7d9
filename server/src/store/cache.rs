//! Rounds recently read, kept by a backend so that the answer path (which checks the
//! round on every save) does not read and decode the round each time.
//!
//! Coherence: a backend forgets a round when it writes it, after the write is durable
//! and before the write is acknowledged, so within one process a request that starts
//! after a round change is acknowledged never sees the old round. A read that raced with
//! a write cannot put the old round back: every change bumps a generation, and an entry
//! read before the bump is not kept. Between processes (Redis, several instances) an
//! entry lives at most the backend's time to live, and a status change published by
//! another instance makes this one forget the round at once (see
//! [`Store::forget_round`](super::Store::forget_round)).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::domain::{Round, RoundId};

/// Most rounds kept; when full, the cache starts over (deployments have a handful).
pub const CAPACITY: usize = 256;

/// The cache.
#[derive(Debug, Default)]
pub struct RoundCache {
    /// How long an entry is trusted; `None` for a store only this process writes.
    ttl: Option<Duration>,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    generation: u64,
    rounds: HashMap<RoundId, (Instant, Arc<Round>)>,
}

/// A cache miss: the generation to hand back to [`RoundCache::keep`] with what was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Miss(u64);

impl RoundCache {
    /// A cache whose entries are trusted for `ttl` (`None`: until forgotten).
    pub fn new(ttl: Option<Duration>) -> Self {
        Self {
            ttl,
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned lock only means a panic elsewhere; the map is still consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The round if it is cached and fresh; otherwise the token to keep what is read.
    pub fn get(&self, id: &RoundId) -> Result<Arc<Round>, Miss> {
        let inner = self.lock();
        match inner.rounds.get(id) {
            Some((at, round)) if self.ttl.is_none_or(|ttl| at.elapsed() < ttl) => {
                Ok(Arc::clone(round))
            }
            _ => Err(Miss(inner.generation)),
        }
    }

    /// Keeps a round read after `miss`, unless the cache changed since.
    pub fn keep(&self, miss: Miss, round: &Arc<Round>) {
        let mut inner = self.lock();
        if inner.generation != miss.0 {
            return;
        }
        if inner.rounds.len() >= CAPACITY {
            inner.rounds.clear();
        }
        inner
            .rounds
            .insert(round.id.clone(), (Instant::now(), Arc::clone(round)));
    }

    /// Forgets a round (it changed, here or elsewhere).
    pub fn forget(&self, id: &RoundId) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.rounds.remove(id);
    }
}

/// What views derived from stored data (profiles, the matrix) may be cached against: a
/// counter of the changes this process made or heard of, and how long a view may be
/// trusted without hearing of a change (`None`: until the counter moves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation {
    /// Changes made or heard of so far.
    pub count: u64,
    /// How long a view computed at this count may be served.
    pub ttl: Option<Duration>,
}

/// The counter behind [`Generation`]. Backends advance it after every write that a view
/// may depend on has been made durable and before it is acknowledged.
#[derive(Debug, Default)]
pub struct Changes {
    count: AtomicU64,
    ttl: Option<Duration>,
}

impl Changes {
    /// A counter whose views are trusted for `ttl` (`None`: until the next change).
    pub fn new(ttl: Option<Duration>) -> Self {
        Self {
            count: AtomicU64::new(0),
            ttl,
        }
    }

    /// Notes a change.
    pub fn note(&self) {
        self.count.fetch_add(1, Ordering::AcqRel);
    }

    /// The current generation.
    pub fn generation(&self) -> Generation {
        Generation {
            count: self.count.load(Ordering::Acquire),
            ttl: self.ttl,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RoundStatus;

    fn round(id: &str, title: &str) -> Arc<Round> {
        Arc::new(Round {
            id: RoundId::parse(id).expect("id"),
            title: title.to_owned(),
            instruments: Vec::new(),
            organisations: Vec::new(),
            deadline: None,
            status: RoundStatus::Open,
        })
    }

    #[test]
    fn keeps_until_forgotten() {
        let cache = RoundCache::new(None);
        let id = RoundId::parse("r-1").expect("id");
        let miss = cache.get(&id).expect_err("empty");
        cache.keep(miss, &round("r-1", "first"));
        assert_eq!(cache.get(&id).expect("cached").title, "first");
        cache.forget(&id);
        assert!(cache.get(&id).is_err());
    }

    #[test]
    fn a_read_that_raced_with_a_change_is_not_kept() {
        let cache = RoundCache::new(None);
        let id = RoundId::parse("r-1").expect("id");
        let miss = cache.get(&id).expect_err("empty");
        // A write lands (and forgets) between the read and `keep`.
        cache.forget(&id);
        cache.keep(miss, &round("r-1", "stale"));
        assert!(cache.get(&id).is_err(), "the stale read must not be kept");
        // A read after the change is kept.
        let miss = cache.get(&id).expect_err("still empty");
        cache.keep(miss, &round("r-1", "fresh"));
        assert_eq!(cache.get(&id).expect("cached").title, "fresh");
    }

    #[test]
    fn entries_expire_after_their_time_to_live() {
        let cache = RoundCache::new(Some(Duration::ZERO));
        let id = RoundId::parse("r-1").expect("id");
        let miss = cache.get(&id).expect_err("empty");
        cache.keep(miss, &round("r-1", "first"));
        assert!(
            cache.get(&id).is_err(),
            "a zero time to live trusts nothing"
        );
    }

    #[test]
    fn stays_bounded() {
        let cache = RoundCache::new(None);
        for index in 0..CAPACITY + 10 {
            let id = format!("r-{index}");
            let miss = cache
                .get(&RoundId::parse(&id).expect("id"))
                .expect_err("new");
            cache.keep(miss, &round(&id, "x"));
        }
        assert!(cache.lock().rounds.len() <= CAPACITY);
    }
}
