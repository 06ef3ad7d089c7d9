//! Profiles and round matrices, kept once computed until the store changes.
//!
//! A profile reads every organisation's response of its round (its peers' stages feed
//! `PEER_OUTLIER`), so computing one costs about a hundred reads in a large round, while
//! validators read the same profiles again and again as they prepare interviews, mostly
//! after answering has ended. Views are therefore cached against the store's
//! [`Generation`]: a counter the backend advances after every durable write a view may
//! depend on (and, on Redis, whenever another instance announces a change in a round),
//! so a view is never served after a change this process made or heard of. On Redis,
//! where not every change made by another instance is announced (assignments, for
//! example), a view is also trusted for at most the backend's time to live.
//!
//! The generation is read *before* the view is computed, so a write that lands during
//! the computation leaves an entry that is already stale. The loaded round
//! ([`RoundSnapshot`]) is kept too, so the profiles of one round share one load.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crate::catalogue::Catalogue;
use crate::domain::{OrganisationId, RoundId};
use crate::profile::{PillarRule, Profile, RoundMatrix};
use crate::service::profile::{self, LoadError, RoundSnapshot};
use crate::store::Store;
use crate::store::cache::Generation;

/// Most views kept; when full, the cache starts over.
pub const CAPACITY: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Round(RoundId),
    Profile(RoundId, OrganisationId, PillarRule),
    Matrix(RoundId, PillarRule),
}

#[derive(Debug, Clone)]
enum View {
    Round(Arc<RoundSnapshot>),
    Profile(Arc<Profile>),
    Matrix(Arc<RoundMatrix>),
}

#[derive(Debug)]
struct Entry {
    generation: u64,
    at: Instant,
    view: View,
}

/// The cache of computed views.
#[derive(Debug, Default)]
pub struct Views {
    entries: Mutex<HashMap<Key, Entry>>,
    /// Held while a round is loaded.
    loading: tokio::sync::Mutex<()>,
}

impl Views {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        // A poisoned lock only means a panic elsewhere; every entry is still whole.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fresh(&self, key: &Key, generation: Generation) -> Option<View> {
        let entries = self.lock();
        let entry = entries.get(key)?;
        let current = entry.generation == generation.count
            && generation.ttl.is_none_or(|ttl| entry.at.elapsed() < ttl);
        current.then(|| entry.view.clone())
    }

    fn keep(&self, key: Key, generation: Generation, view: View) {
        let mut entries = self.lock();
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(
            key,
            Entry {
                generation: generation.count,
                at: Instant::now(),
                view,
            },
        );
    }

    /// How many views are kept (for tests and metrics).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no view is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What the views of `round` read, loaded once per generation.
    async fn snapshot(
        &self,
        store: &dyn Store,
        catalogue: &Catalogue,
        round: &RoundId,
        generation: Generation,
    ) -> Result<Arc<RoundSnapshot>, LoadError> {
        let key = Key::Round(round.clone());
        if let Some(View::Round(snapshot)) = self.fresh(&key, generation) {
            return Ok(snapshot);
        }
        // One load at a time: when a round's views expire under load, the requests that
        // find them missing wait for one load instead of each reading the whole round.
        let _loading = self.loading.lock().await;
        if let Some(View::Round(snapshot)) = self.fresh(&key, generation) {
            return Ok(snapshot);
        }
        let loaded = Arc::new(profile::load_round(store, catalogue, round).await?);
        self.keep(key, generation, View::Round(Arc::clone(&loaded)));
        Ok(loaded)
    }

    /// The profile of `organisation` in `round` (see [`profile::profile`]).
    ///
    /// # Errors
    /// As [`profile::profile`]; errors are not kept.
    pub async fn profile(
        &self,
        store: &dyn Store,
        catalogue: &Catalogue,
        round: &RoundId,
        organisation: &OrganisationId,
        rule: PillarRule,
    ) -> Result<Arc<Profile>, LoadError> {
        let Some(generation) = store.generation() else {
            let computed = profile::profile(store, catalogue, round, organisation, rule).await?;
            return Ok(Arc::new(computed));
        };
        let key = Key::Profile(round.clone(), organisation.clone(), rule);
        if let Some(View::Profile(profile)) = self.fresh(&key, generation) {
            return Ok(profile);
        }
        let snapshot = self.snapshot(store, catalogue, round, generation).await?;
        let computed = Arc::new(snapshot.profile(catalogue, organisation, rule)?);
        self.keep(key, generation, View::Profile(Arc::clone(&computed)));
        Ok(computed)
    }

    /// The matrix of `round` (see [`profile::round_matrix`]).
    ///
    /// # Errors
    /// As [`profile::round_matrix`]; errors are not kept.
    pub async fn round_matrix(
        &self,
        store: &dyn Store,
        catalogue: &Catalogue,
        round: &RoundId,
        rule: PillarRule,
    ) -> Result<Arc<RoundMatrix>, LoadError> {
        let Some(generation) = store.generation() else {
            let computed = profile::round_matrix(store, catalogue, round, rule).await?;
            return Ok(Arc::new(computed));
        };
        let key = Key::Matrix(round.clone(), rule);
        if let Some(View::Matrix(matrix)) = self.fresh(&key, generation) {
            return Ok(matrix);
        }
        let snapshot = self.snapshot(store, catalogue, round, generation).await?;
        let computed = Arc::new(snapshot.matrix(catalogue, rule)?);
        self.keep(key, generation, View::Matrix(Arc::clone(&computed)));
        Ok(computed)
    }
}
