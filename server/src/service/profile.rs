//! Profiles, flags and the round matrix read from the store: this module only loads the
//! round, its assignments and the responses a computation needs, then calls the pure
//! functions of `crate::profile`. Access is checked by the caller (administrators and
//! validators with the round in scope); nothing here writes.
//!
//! What is read: for a profile, the consolidated stage responses of every organisation
//! of the round (peers, for `PEER_OUTLIER`), the organisation's own rater and
//! senior-manager responses, and its consolidated stage response in its previous round;
//! for the matrix, the consolidated stage responses only; and the validation records of
//! the organisations concerned.

use futures_util::future::{try_join, try_join_all, try_join3};

use crate::catalogue::{Catalogue, InstrumentRef};
use crate::domain::{
    OrganisationId, Respondent, Response, ResponseKey, Round, RoundId, ValidationRecord,
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
    let round = existing_round(store, round).await?;
    let instruments = Instruments::resolve(catalogue, &round)?;
    if !round.organisations.contains(organisation) {
        return Err(ProfileError::NotInRound {
            organisation: organisation.clone(),
            round: round.id.clone(),
        }
        .into());
    }
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
        .filter(|key| {
            let peer = key.instrument == stages && key.respondent == Respondent::Organisation;
            let own = &key.organisation == organisation
                && (key.instrument == stages || Some(&key.instrument) == outcomes.as_ref());
            peer || own
        })
        .collect();
    let previous = previous_of(&rounds, &round, organisation, &stages);
    let (responses, previous_response, validations) = try_join3(
        read(store, keys),
        async {
            match &previous {
                Some((_, key)) => store.response(key).await,
                None => Ok(None),
            }
        },
        store.validations(&round.id, organisation),
    )
    .await?;
    let data = RoundData {
        round: &round,
        assignments: &assignments,
        responses: &responses,
        validations: &validations,
    };
    let previous = previous.map(|(round, _)| PreviousRound {
        round,
        response: previous_response.as_ref(),
    });
    Ok(profile::profile(
        catalogue,
        &data,
        organisation,
        previous.as_ref(),
        rule,
    )?)
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
    let data = RoundData {
        round: &round,
        assignments: &assignments,
        responses: &responses,
        validations: &validations,
    };
    let mut profiles = Vec::with_capacity(round.organisations.len());
    for ((organisation, previous), response) in round
        .organisations
        .iter()
        .zip(&previous)
        .zip(&previous_responses)
    {
        let previous = previous.as_ref().map(|(round, _)| PreviousRound {
            round,
            response: response.as_ref(),
        });
        profiles.push(profile::profile(
            catalogue,
            &data,
            organisation,
            previous.as_ref(),
            rule,
        )?);
    }
    Ok(profiles)
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
    let round = existing_round(store, round).await?;
    let stages = Instruments::resolve(catalogue, &round)?.stages.reference();
    let keys: Vec<ResponseKey> = store
        .responses(&round.id)
        .await?
        .into_iter()
        .filter(|key| {
            key.instrument == stages
                && key.respondent == Respondent::Organisation
                && round.organisations.contains(&key.organisation)
        })
        .collect();
    let (responses, validations) = try_join(
        read(store, keys),
        validations_of(store, &round.id, &round.organisations),
    )
    .await?;
    let data = RoundData {
        round: &round,
        assignments: &[],
        responses: &responses,
        validations: &validations,
    };
    Ok(profile::round_matrix(catalogue, &data, rule)?)
}
