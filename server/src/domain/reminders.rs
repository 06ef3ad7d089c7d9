//! Reminders: which reminder day is due before a round's deadline, the record that a
//! person's reminder of one day was claimed (so it goes out once, whichever server
//! instance sends it), and the Telegram notices the bot collects and delivers.
//!
//! Pure rules and types; the scheduler is `service::reminders`, the records live in the
//! store.

use std::fmt;

use super::id::{PersonId, RoundId};
use super::response::ResponseKey;
use super::time::Timestamp;

/// Milliseconds in a day.
pub const DAY_MILLIS: i64 = 24 * 60 * 60 * 1000;

/// The reminder day due at `now` for a round due at `deadline`: of the configured
/// `days_before`, the fewest days whose moment (`deadline` minus that many days) has
/// passed. `None` before the first of them and from the deadline on. A reminder day
/// that was missed (the server was down) is not sent late once a later day is due: only
/// the latest due day counts.
pub fn due_day(deadline: Timestamp, now: Timestamp, days_before: &[u32]) -> Option<u32> {
    if now >= deadline {
        return None;
    }
    days_before
        .iter()
        .copied()
        .filter(|days| now >= deadline.plus_millis(-i64::from(*days).saturating_mul(DAY_MILLIS)))
        .min()
}

/// The record that a person's reminder of one day in one round was claimed for sending.
/// At most one exists per (round, person, day); its existence means the reminder went
/// out or is going out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderMark {
    /// The round.
    pub round: RoundId,
    /// The person reminded.
    pub person: PersonId,
    /// Days before the deadline this reminder is for.
    pub day: u32,
    /// When it was claimed.
    pub claimed_at: Timestamp,
    /// The server instance that claimed it.
    pub holder: String,
}

/// What a claim of a reminder found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReminderClaim {
    /// The mark is ours: send the reminder (or release the mark when sending fails).
    Claimed,
    /// The reminder of this day was already claimed, here or by another instance.
    AlreadyClaimed,
    /// The person already has the most reminders allowed in this round.
    LimitReached,
}

/// The id of a Telegram notice: `<round>/<person>/<day>` for a reminder. Built from
/// validated ids, or parsed from what the bot sends back.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NoticeId(String);

/// A notice id that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a notice id")]
pub struct NoticeIdError;

impl NoticeId {
    /// Most characters of an id (two slugs and a number).
    pub const MAX_CHARS: usize = 200;

    /// The id of the reminder notice of `person` in `round` for `day`.
    pub fn reminder(round: &RoundId, person: &PersonId, day: u32) -> Self {
        Self(format!("{round}/{person}/{day}"))
    }

    /// Parses an id: 1 to [`Self::MAX_CHARS`] characters of `[a-z0-9-/]`.
    ///
    /// # Errors
    /// [`NoticeIdError`] for anything else.
    pub fn parse(text: &str) -> Result<Self, NoticeIdError> {
        let fits = !text.is_empty()
            && text.len() <= Self::MAX_CHARS
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'/');
        if fits {
            Ok(Self(text.to_owned()))
        } else {
            Err(NoticeIdError)
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NoticeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A message due to a linked Telegram chat, queued in the store until the bot claims and
/// delivers it. It names the person, not the chat: the chat is looked up when the bot
/// claims the notice, so a notice never reaches a chat the person has since unlinked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelegramNotice {
    /// Unique per notice; queuing the same id again changes nothing.
    pub id: NoticeId,
    /// Whom it is for.
    pub person: PersonId,
    /// The round it reminds of.
    pub round: RoundId,
    /// Days before the deadline.
    pub day: u32,
    /// The responses that were still open when it was queued.
    pub responses: Vec<ResponseKey>,
    /// When it was queued.
    pub created_at: Timestamp,
    /// When it stops being worth delivering (the round's deadline); the store drops it
    /// then.
    pub expires_at: Timestamp,
}

impl TelegramNotice {
    /// Whether the notice is still worth delivering at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DEADLINE: i64 = 1_900_000_000_000;

    fn at_days_before(days: f64) -> Timestamp {
        Timestamp::from_millis(DEADLINE - (days * DAY_MILLIS as f64) as i64)
    }

    #[test]
    fn the_latest_passed_day_is_due() {
        let deadline = Timestamp::from_millis(DEADLINE);
        let days = [7, 2, 1];
        assert_eq!(due_day(deadline, at_days_before(10.0), &days), None);
        assert_eq!(due_day(deadline, at_days_before(7.0), &days), Some(7));
        assert_eq!(due_day(deadline, at_days_before(6.5), &days), Some(7));
        assert_eq!(due_day(deadline, at_days_before(2.0), &days), Some(2));
        assert_eq!(due_day(deadline, at_days_before(1.5), &days), Some(2));
        assert_eq!(due_day(deadline, at_days_before(0.5), &days), Some(1));
        assert_eq!(
            due_day(deadline, deadline, &days),
            None,
            "not at the deadline"
        );
        assert_eq!(
            due_day(deadline, deadline.plus_millis(1), &days),
            None,
            "nor after it"
        );
        assert_eq!(due_day(deadline, at_days_before(0.5), &[]), None);
    }

    #[test]
    fn notice_ids() {
        let round = RoundId::parse("r-2026").expect("id");
        let person = PersonId::parse("p-ana").expect("id");
        let id = NoticeId::reminder(&round, &person, 7);
        assert_eq!(id.as_str(), "r-2026/p-ana/7");
        assert_eq!(NoticeId::parse(id.as_str()), Ok(id));
        for bad in ["", "A", "a b", "a:b", "{x}", &"a".repeat(201)] {
            assert_eq!(NoticeId::parse(bad), Err(NoticeIdError), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn a_due_day_is_configured_and_has_passed(
            before in 0i64..(40 * DAY_MILLIS),
            days in proptest::collection::vec(1u32..30, 0..5),
        ) {
            let deadline = Timestamp::from_millis(DEADLINE);
            let now = Timestamp::from_millis(DEADLINE - before);
            if let Some(day) = due_day(deadline, now, &days) {
                prop_assert!(days.contains(&day));
                prop_assert!(before <= i64::from(day) * DAY_MILLIS);
                prop_assert!(before > 0);
                // No configured day with fewer days has passed.
                for other in &days {
                    if *other < day {
                        prop_assert!(before > i64::from(*other) * DAY_MILLIS);
                    }
                }
            }
        }

        #[test]
        fn parsed_notice_ids_are_safe_in_keys(text in "\\PC{0,60}") {
            if let Ok(id) = NoticeId::parse(&text) {
                let safe = !id.as_str().contains(['{', '}', ':', ' ']);
                prop_assert!(safe);
            }
        }
    }
}
