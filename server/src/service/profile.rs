//! Profiles, flags and the round matrix read from the store: this module only loads the
//! round, its assignments and the responses a computation needs, then calls the pure
//! functions of `crate::profile`. Access is checked by the caller (administrators and
//! validators with the round in scope); nothing here writes.
//!
//! What is read, once per round ([`load_round`]): the round's stage-questionnaire
//! responses (consolidated — the peers, for `PEER_OUTLIER` — and raters'), its
//! outcome-protocol responses, and each organisation's consolidated stage response in its
//! previous round, and the validation records of its organisations.
//! [`crate::service::views`] keeps the loaded round until the store
//! changes, so the profiles of one round share one load.

use futures_util::future::{try_join_all, try_join3};

use crate::catalogue::{Catalogue, InstrumentRef};
use crate::domain::{
    Assignment, OrganisationId, Respondent, Response, ResponseKey, Round, RoundId, ValidationRecord,
};
use crate::profile::{
    self, Flag, Instruments, PillarRule, PreviousRound, Profile, ProfileError, RoundData,
    RoundMatrix,
};
use crate::store::{Store, StoreError};

/// Why a profile, the flags or the matrix could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// No round has this id.
    #[error("there is no round `{0}`")]
    UnknownRound(RoundId),
    /// The round has no profile for the organisation (no stage questionnaire, or the
    /// organisation does not take part).
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

async fn existing_round(store: &dyn Store, id: &RoundId) -> Result<Round, LoadError> {
    store
        .round(id)
        .await?
        .ok_or_else(|| LoadError::UnknownRound(id.clone()))
}

/// The validation records of `organisations` in `round`, each organisation's oldest
/// first.
async fn validations_of(
    store: &dyn Store,
    round: &RoundId,
    organisations: &[OrganisationId],
) -> Result<Vec<ValidationRecord>, StoreError> {
    let reads = organisations
        .iter()
        .map(|organisation| store.validations(round, organisation));
    Ok(try_join_all(reads).await?.into_iter().flatten().collect())
}

/// Reads the responses of `keys` that exist.
async fn read(store: &dyn Store, keys: Vec<ResponseKey>) -> Result<Vec<Response>, StoreError> {
    let reads = keys.iter().map(|key| store.response(key));
    Ok(try_join_all(reads).await?.into_iter().flatten().collect())
}

/// The previous round of `organisation` (see [`profile::previous_round`]) and the key of
/// its consolidated stage response there.
fn previous_of<'r>(
    rounds: &'r [Round],
    round: &Round,
    organisation: &OrganisationId,
    stages: &InstrumentRef,
) -> Option<(&'r Round, ResponseKey)> {
    let previous = profile::previous_round(rounds, round, organisation, &stages.id)?;
    let instrument = previous
        .instruments
        .iter()
        .find(|i| i.id == stages.id)?
        .clone();
    let key = ResponseKey {
        round: previous.id.clone(),
        organisation: organisation.clone(),
        instrument,
        respondent: Respondent::Organisation,
    };
    Some((previous, key))
}

/// Everything the profiles and the matrix of one round read, loaded once: the round, its
/// assignments, its stage-questionnaire responses (consolidated and raters') and
/// outcome-protocol responses, and each organisation's previous round with its
/// consolidated stage response there.
#[derive(Debug)]
pub struct RoundSnapshot {
    round: Round,
    stages: InstrumentRef,
    assignments: Vec<Assignment>,
    responses: Vec<Response>,
    /// The validation records of the round's organisations, each one's oldest first.
    validations: Vec<ValidationRecord>,
    /// Per organisation of the round, in its order.
    previous: Vec<Option<(Round, Option<Response>)>>,
}

/// Loads what the profiles and the matrix of round `round` read.
///
/// # Errors
/// [`LoadError::UnknownRound`]; [`LoadError::Profile`] when the round has no stage
/// questionnaire; a store failure.
pub async fn load_round(
    store: &dyn Store,
    catalogue: &Catalogue,
    round: &RoundId,
) -> Result<RoundSnapshot, LoadError> {
    let round = existing_round(store, round).await?;
    let instruments = Instruments::resolve(catalogue, &round)?;
    let stages = instruments.stages.reference();
    let outcomes = instruments.outcomes.map(|i| i.reference());
    let (assignments, keys, rounds) = try_join3(
        store.assignments(&round.id),
        store.responses(&round.id),
        store.rounds(),
    )
    .await?;
    let keys: Vec<ResponseKey> = keys
        .into_iter()
        .filter(|key| key.instrument == stages || Some(&key.instrument) == outcomes.as_ref())
        .collect();
    let previous: Vec<Option<(&Round, ResponseKey)>> = round
        .organisations
        .iter()
        .map(|organisation| previous_of(&rounds, &round, organisation, &stages))
        .collect();
    let previous_reads = previous.iter().map(|previous| async move {
        match previous {
            Some((_, key)) => store.response(key).await,
            None => Ok(None),
        }
    });
    let (responses, previous_responses, validations) = try_join3(
        read(store, keys),
        try_join_all(previous_reads),
        validations_of(store, &round.id, &round.organisations),
    )
    .await?;
    let previous = previous
        .into_iter()
        .zip(previous_responses)
        .map(|(previous, response)| previous.map(|(round, _)| (round.clone(), response)))
        .collect();
    Ok(RoundSnapshot {
        round,
        stages,
        assignments,
        responses,
        validations,
        previous,
    })
}

impl RoundSnapshot {
    /// The round.
    pub fn round(&self) -> &Round {
        &self.round
    }

    fn data(&self) -> RoundData<'_> {
        RoundData {
            round: &self.round,
            assignments: &self.assignments,
            responses: &self.responses,
            validations: &self.validations,
        }
    }

    /// The configuration profile of `organisation`, with pillar stages by `rule`.
    ///
    /// # Errors
    /// [`ProfileError`] when the organisation is not in the round.
    pub fn profile(
        &self,
        catalogue: &Catalogue,
        organisation: &OrganisationId,
        rule: PillarRule,
    ) -> Result<Profile, ProfileError> {
        let Some(index) = self
            .round
            .organisations
            .iter()
            .position(|o| o == organisation)
        else {
            return Err(ProfileError::NotInRound {
                organisation: organisation.clone(),
                round: self.round.id.clone(),
            });
        };
        let previous = self.previous[index]
            .as_ref()
            .map(|(round, response)| PreviousRound {
                round,
                response: response.as_ref(),
            });
        profile::profile(
            catalogue,
            &self.data(),
            organisation,
            previous.as_ref(),
            rule,
        )
    }

    /// The profiles of every organisation, in the round's order.
    ///
    /// # Errors
    /// As [`RoundSnapshot::profile`].
    pub fn profiles(
        &self,
        catalogue: &Catalogue,
        rule: PillarRule,
    ) -> Result<Vec<Profile>, ProfileError> {
        self.round
            .organisations
            .iter()
            .map(|organisation| self.profile(catalogue, organisation, rule))
            .collect()
    }

    /// The matrix of organisations × components, from the consolidated responses.
    ///
    /// # Errors
    /// [`ProfileError`] when the round has no stage questionnaire.
    pub fn matrix(
        &self,
        catalogue: &Catalogue,
        rule: PillarRule,
    ) -> Result<RoundMatrix, ProfileError> {
        let consolidated: Vec<Response> = self
            .responses
            .iter()
            .filter(|response| {
                let key = &response.key;
                key.instrument == self.stages
                    && key.respondent == Respondent::Organisation
                    && self.round.organisations.contains(&key.organisation)
            })
            .cloned()
            .collect();
        let data = RoundData {
            round: &self.round,
            assignments: &[],
            responses: &consolidated,
            validations: &self.validations,
        };
        profile::round_matrix(catalogue, &data, rule)
    }
}

/// The configuration profile of `organisation` in round `round`, with pillar stages by
/// `rule`.
///
/// # Errors
/// [`LoadError::UnknownRound`]; [`LoadError::Profile`] when the round has no stage
/// questionnaire or the organisation is not in it; a store failure.
pub async fn profile(
    store: &dyn Store,
    catalogue: &Catalogue,
    round: &RoundId,
    organisation: &OrganisationId,
    rule: PillarRule,
) -> Result<Profile, LoadError> {
    let snapshot = load_round(store, catalogue, round).await?;
    Ok(snapshot.profile(catalogue, organisation, rule)?)
}

/// The profiles of every organisation of round `round`, in the round's order, reading the
/// round's responses once (for exports and validation packs of a whole round).
///
/// # Errors
/// [`LoadError::UnknownRound`]; [`LoadError::Profile`] when the round has no stage
/// questionnaire; a store failure.
pub async fn round_profiles(
    store: &dyn Store,
    catalogue: &Catalogue,
    round: &RoundId,
    rule: PillarRule,
) -> Result<Vec<Profile>, LoadError> {
    let snapshot = load_round(store, catalogue, round).await?;
    Ok(snapshot.profiles(catalogue, rule)?)
}

/// The consistency flags of `organisation` in round `round` (they do not depend on the
/// pillar rule).
///
/// # Errors
/// As [`profile`].
pub async fn flags(
    store: &dyn Store,
    catalogue: &Catalogue,
    round: &RoundId,
    organisation: &OrganisationId,
) -> Result<Vec<Flag>, LoadError> {
    Ok(
        profile(store, catalogue, round, organisation, PillarRule::default())
            .await?
            .flags,
    )
}

/// The matrix of organisations × components of round `round`, pillar stages by `rule`.
///
/// # Errors
/// [`LoadError::UnknownRound`]; [`LoadError::Profile`] when the round has no stage
/// questionnaire; a store failure.
pub async fn round_matrix(
    store: &dyn Store,
    catalogue: &Catalogue,
    round: &RoundId,
    rule: PillarRule,
) -> Result<RoundMatrix, LoadError> {
    let snapshot = load_round(store, catalogue, round).await?;
    Ok(snapshot.matrix(catalogue, rule)?)
}
