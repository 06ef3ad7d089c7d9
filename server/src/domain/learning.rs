//! Real-time learning (IOM manual): activities, the themes a facilitator tags answers
//! with, the findings report's edits, follow-up actions and their reminder marks.
//!
//! An activity is an ordinary round whose instrument is one of the learning sets; the
//! [`Activity`] record holds what the round does not: the activity's type, its concept
//! note (annex 1), the intervention, the facilitator, the period the questions refer to,
//! the cycle it belongs to, the facilitator's theme tags and report edits.
//!
//! Pure types and rules; the use-cases are `service::learning`.

use std::collections::BTreeMap;

use super::answer::{MAX_SHORT_TEXT_CHARS, ValueError, parse_text};
use super::id::{ActionId, OrganisationId, PersonId, QuestionId, RoundId};
use super::response::ResponseKey;
use super::time::Timestamp;

/// At most this many priority actions per organisation and round (the cluster
/// performance monitoring guidance: "up to five priority follow-up actions").
pub const MAX_PRIORITY_ACTIONS: u32 = 5;

/// Most themes on one answer.
pub const MAX_THEMES: usize = 10;

/// Most characters of a theme.
pub const MAX_THEME_CHARS: usize = 100;

/// Most questions a facilitator may add to one activity.
pub const MAX_ADDED_QUESTIONS: usize = 10;

/// Most characters of an added question's text (a question, not prose).
pub const MAX_ADDED_QUESTION_CHARS: usize = MAX_SHORT_TEXT_CHARS;

/// The first part of every added question's id (`added/1`, `added/2`, …). No
/// questionnaire of the catalogue has a section with this id (a test of
/// `service::answers` checks the learning sets), so added ids never collide with the
/// instrument's.
pub const ADDED_QUESTION_SECTION: &str = "added";

/// The heading under which channels show the questions a facilitator added.
pub const ADDED_QUESTIONS_HEADING: &str = "Questions from the facilitator";

/// Whether `id` names a facilitator-added question (`added/<n>`), whatever the activity.
pub fn is_added_question_id(id: &str) -> bool {
    id.strip_prefix(ADDED_QUESTION_SECTION)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A question the facilitator added to an activity, asked after the learning set's own
/// questions. It takes a long text and is optional: a participant may submit without
/// answering it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedQuestion {
    /// `added/<n>`, numbered from 1 in the order added; never reused within the activity.
    pub id: QuestionId,
    /// The question as the facilitator wrote it.
    pub text: String,
    /// When it was added.
    pub added_at: Timestamp,
}

/// Why a question could not be added; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddQuestionError {
    /// The text is empty or too long.
    #[error("question text: {0}")]
    Text(ValueError),
    /// The activity has the most added questions allowed.
    #[error("an activity has at most {MAX_ADDED_QUESTIONS} added questions")]
    TooMany,
    /// The activity already asks this question (same text, ignoring case and spacing).
    #[error("the activity already asks this question as `{0}`")]
    Duplicate(String),
}

/// The kinds of real-time learning activity the manual describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActivityKind {
    /// A lessons-learned workshop.
    LessonsLearned,
    /// An after-action review.
    AfterActionReview,
    /// An adaptive-management review.
    AdaptiveManagementReview,
    /// A real-time review.
    RealTimeReview,
    /// A performance monitoring review (cluster guidance).
    PerformanceMonitoringReview,
}

impl ActivityKind {
    /// Every kind.
    pub const ALL: [Self; 5] = [
        Self::LessonsLearned,
        Self::AfterActionReview,
        Self::AdaptiveManagementReview,
        Self::RealTimeReview,
        Self::PerformanceMonitoringReview,
    ];

    /// The kind's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LessonsLearned => "lessons-learned",
            Self::AfterActionReview => "after-action-review",
            Self::AdaptiveManagementReview => "adaptive-management-review",
            Self::RealTimeReview => "real-time-review",
            Self::PerformanceMonitoringReview => "performance-monitoring-review",
        }
    }

    /// Parses a kind's name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// The catalogue instrument whose questions an activity of this kind asks.
    pub fn instrument_id(self) -> &'static str {
        match self {
            Self::LessonsLearned => "iom-rtl-lessons-learned",
            Self::AfterActionReview => "iom-rtl-after-action-review",
            Self::AdaptiveManagementReview => "iom-rtl-adaptive-management-review",
            Self::RealTimeReview => "iom-rtl-real-time-review",
            Self::PerformanceMonitoringReview => "iom-pmr",
        }
    }

    /// The kind as people read it.
    pub fn label(self) -> &'static str {
        match self {
            Self::LessonsLearned => "Lessons-learned workshop",
            Self::AfterActionReview => "After-action review",
            Self::AdaptiveManagementReview => "Adaptive-management review",
            Self::RealTimeReview => "Real-time review",
            Self::PerformanceMonitoringReview => "Performance monitoring review",
        }
    }
}

/// The themes a facilitator tagged one answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeTag {
    /// The response the answer belongs to.
    pub response: ResponseKey,
    /// The question answered.
    pub question: String,
    /// The themes, in the order given, without duplicates.
    pub themes: Vec<String>,
}

/// A real-time learning activity: the metadata of a round that asks a learning set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// The round (the activity's id).
    pub round: RoundId,
    /// Which kind of activity.
    pub kind: ActivityKind,
    /// The intervention it concerns.
    pub intervention: String,
    /// Who facilitates.
    pub facilitator: PersonId,
    /// The participants' roles in the intervention (e.g. "Protection officer"), by
    /// person; the participants themselves are the round's learning-participant
    /// assignments.
    pub participant_roles: BTreeMap<PersonId, String>,
    /// The period the questions refer to (e.g. "March 2026").
    pub period: String,
    /// The concept note: question id of the concept-note instrument → text.
    pub concept_note: BTreeMap<String, String>,
    /// The activity this one repeats (the previous cycle), if any.
    pub previous: Option<RoundId>,
    /// Which cycle this is, from 1.
    pub cycle: u32,
    /// The facilitator's theme tags, by response id and question.
    pub themes: Vec<ThemeTag>,
    /// The facilitator's edits of the findings report: question id of the
    /// findings-report instrument → text. A section without an edit is prefilled.
    pub report: BTreeMap<String, String>,
    /// The questions the facilitator added, in the order added (asked after the
    /// learning set's own).
    pub added: Vec<AddedQuestion>,
    /// When it was created.
    pub created_at: Timestamp,
}

impl Activity {
    /// The themes of one answer (empty when untagged).
    pub fn themes_of(&self, response: &ResponseKey, question: &str) -> &[String] {
        self.themes
            .iter()
            .find(|t| &t.response == response && t.question == question)
            .map_or(&[], |t| t.themes.as_slice())
    }

    /// The added question with `id`, if the facilitator added it to this activity.
    pub fn added_question(&self, id: &str) -> Option<&AddedQuestion> {
        self.added.iter().find(|q| q.id.as_str() == id)
    }

    /// Adds a question: the text trimmed, non-empty, at most
    /// [`MAX_ADDED_QUESTION_CHARS`] characters, not a question the activity already
    /// added, and at most [`MAX_ADDED_QUESTIONS`] in all. Its id is `added/<n>`, one more
    /// than the highest number so far, so an id always means the same question.
    ///
    /// # Errors
    /// [`AddQuestionError`]; the activity is unchanged then.
    pub fn add_question(
        &mut self,
        text: &str,
        at: Timestamp,
    ) -> Result<&AddedQuestion, AddQuestionError> {
        let text = parse_text(text, MAX_ADDED_QUESTION_CHARS).map_err(AddQuestionError::Text)?;
        if self.added.len() >= MAX_ADDED_QUESTIONS {
            return Err(AddQuestionError::TooMany);
        }
        let folded = |t: &str| {
            t.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        };
        if let Some(same) = self.added.iter().find(|q| folded(&q.text) == folded(&text)) {
            return Err(AddQuestionError::Duplicate(same.id.to_string()));
        }
        let number = self
            .added
            .iter()
            .filter_map(|q| q.id.as_str().rsplit('/').next()?.parse::<u32>().ok())
            .max()
            .unwrap_or(0)
            .saturating_add(1);
        let id = QuestionId::parse(&format!("{ADDED_QUESTION_SECTION}/{number}"))
            .map_err(|_| AddQuestionError::TooMany)?;
        self.added.push(AddedQuestion {
            id,
            text,
            added_at: at,
        });
        self.added.last().ok_or(AddQuestionError::TooMany)
    }

    /// Sets the themes of one answer; an empty list removes the tag.
    pub fn set_themes(&mut self, response: &ResponseKey, question: &str, themes: Vec<String>) {
        self.themes
            .retain(|t| !(&t.response == response && t.question == question));
        if !themes.is_empty() {
            self.themes.push(ThemeTag {
                response: response.clone(),
                question: question.to_owned(),
                themes,
            });
        }
    }
}

/// Where an action is in its life: open → in progress → done, or dropped; a done or
/// dropped action may be opened again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionStatus {
    /// Agreed, not started.
    Open,
    /// Being worked on.
    InProgress,
    /// Done.
    Done,
    /// Given up.
    Dropped,
}

impl ActionStatus {
    /// Every status.
    pub const ALL: [Self; 4] = [Self::Open, Self::InProgress, Self::Done, Self::Dropped];

    /// The status's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::InProgress => "in-progress",
            Self::Done => "done",
            Self::Dropped => "dropped",
        }
    }

    /// Parses a status name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether an action may move from `self` to `next`: forward from open or in
    /// progress to any other status, back from in progress to open, and from done or
    /// dropped back to open (reopening). Staying put is not a move.
    pub fn can_become(self, next: Self) -> bool {
        use ActionStatus::{Done, Dropped, InProgress, Open};
        matches!(
            (self, next),
            (Open, InProgress | Done | Dropped)
                | (InProgress, Open | Done | Dropped)
                | (Done | Dropped, Open)
        )
    }

    /// Whether an action in this status is still to be done (and so can be overdue).
    pub fn is_pending(self) -> bool {
        matches!(self, Self::Open | Self::InProgress)
    }
}

/// What an action follows up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ActionLink {
    /// The learning activity that is the action's round.
    Activity,
    /// A component of the organisation's profile in the round, e.g. `2.3`.
    Component(String),
    /// A pillar of the organisation's profile in the round, e.g. `2`.
    Pillar(String),
}

/// A follow-up action of an organisation in a round (an activity's or an RBM round's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// Unique within the round.
    pub id: ActionId,
    /// The round.
    pub round: RoundId,
    /// The organisation whose action it is.
    pub organisation: OrganisationId,
    /// What it follows up.
    pub link: ActionLink,
    /// What is to be done.
    pub text: String,
    /// Who is responsible.
    pub owner: PersonId,
    /// When it is due.
    pub due: Timestamp,
    /// Where it is.
    pub status: ActionStatus,
    /// One of the organisation's (at most five) priority actions in the round.
    pub priority: bool,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl Action {
    /// Whether it is overdue at `now`: still pending and past its due moment.
    pub fn is_overdue(&self, now: Timestamp) -> bool {
        self.status.is_pending() && now >= self.due
    }
}

/// Whether `action` may be written beside `existing` (the actions of its round): when it
/// is a priority action, the other priority actions of its organisation (itself
/// excepted, so editing one of the five is allowed) must number fewer than `max`.
pub fn priority_allows(action: &Action, existing: &[Action], max: u32) -> bool {
    if !action.priority {
        return true;
    }
    let others = existing
        .iter()
        .filter(|a| a.priority && a.organisation == action.organisation && a.id != action.id)
        .count();
    u32::try_from(others).is_ok_and(|n| n < max)
}

/// What writing an action did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionWrite {
    /// Stored.
    Written,
    /// Refused: the organisation has the most priority actions allowed in the round;
    /// nothing was written.
    PriorityLimitReached,
}

/// Which reminder of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActionReminderKind {
    /// Before the due date.
    Due,
    /// After the due date passed with the action still pending.
    Overdue,
}

impl ActionReminderKind {
    /// The kind's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Due => "due",
            Self::Overdue => "overdue",
        }
    }

    /// Parses a kind's name.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Due, Self::Overdue]
            .into_iter()
            .find(|k| k.as_str() == text)
    }

    /// The reminder due at `now` for an action due at `due`, reminded `days_before`
    /// days ahead: overdue from the due moment on, due within the days before, none
    /// earlier. Only a pending action is reminded.
    pub fn at(action: &Action, now: Timestamp, days_before: u32) -> Option<Self> {
        if !action.status.is_pending() {
            return None;
        }
        if now >= action.due {
            return Some(Self::Overdue);
        }
        let window = i64::from(days_before).saturating_mul(super::reminders::DAY_MILLIS);
        (now >= action.due.plus_millis(-window)).then_some(Self::Due)
    }
}

/// The record that the owner of an action was reminded (of one kind); at most one
/// exists per (round, action, kind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionReminderMark {
    /// The round.
    pub round: RoundId,
    /// The action.
    pub action: ActionId,
    /// Which reminder.
    pub kind: ActionReminderKind,
    /// Who was reminded (the owner when it was claimed).
    pub owner: PersonId,
    /// When it was claimed.
    pub claimed_at: Timestamp,
    /// The server instance that claimed it.
    pub holder: String,
}

#[cfg(test)]
impl Activity {
    /// An activity of `kind` in round `aar-1`, facilitated by `p-fac`, with nothing
    /// added, tagged or edited: the unit tests' starting point.
    pub(crate) fn for_tests(kind: ActivityKind) -> Self {
        Self {
            round: RoundId::parse("aar-1").expect("id"),
            kind,
            intervention: "Flood response".to_owned(),
            facilitator: PersonId::parse("p-fac").expect("id"),
            participant_roles: BTreeMap::new(),
            period: "March".to_owned(),
            concept_note: BTreeMap::new(),
            previous: None,
            cycle: 1,
            themes: Vec::new(),
            report: BTreeMap::new(),
            added: Vec::new(),
            created_at: Timestamp::from_millis(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(id: &str, organisation: &str, priority: bool) -> Action {
        Action {
            id: ActionId::parse(id).expect("id"),
            round: RoundId::parse("aar-1").expect("id"),
            organisation: OrganisationId::parse(organisation).expect("id"),
            link: ActionLink::Activity,
            text: "Do it".to_owned(),
            owner: PersonId::parse("p-ana").expect("id"),
            due: Timestamp::from_millis(1_000_000),
            status: ActionStatus::Open,
            priority,
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn at_most_five_priority_actions_per_organisation() {
        let five: Vec<Action> = (1..=5)
            .map(|n| action(&format!("a-{n}"), "iom", true))
            .collect();
        assert!(!priority_allows(&action("a-6", "iom", true), &five, 5));
        assert!(
            priority_allows(&action("a-6", "iom", false), &five, 5),
            "not a priority"
        );
        assert!(
            priority_allows(&action("a-6", "unhcr", true), &five, 5),
            "another organisation"
        );
        assert!(
            priority_allows(&action("a-3", "iom", true), &five, 5),
            "editing one of the five"
        );
        assert!(priority_allows(
            &action("a-5", "iom", true),
            &five[..4],
            MAX_PRIORITY_ACTIONS
        ));
    }

    #[test]
    fn status_transitions() {
        use ActionStatus::*;
        assert!(Open.can_become(InProgress));
        assert!(Open.can_become(Done));
        assert!(InProgress.can_become(Done));
        assert!(InProgress.can_become(Open));
        assert!(Done.can_become(Open));
        assert!(Dropped.can_become(Open));
        assert!(!Done.can_become(InProgress));
        assert!(!Done.can_become(Dropped));
        assert!(!Dropped.can_become(Done));
        for status in ActionStatus::ALL {
            assert!(!status.can_become(status), "{status:?} stays");
            assert_eq!(ActionStatus::parse(status.as_str()), Some(status));
        }
        assert!(Open.is_pending() && InProgress.is_pending());
        assert!(!Done.is_pending() && !Dropped.is_pending());
    }

    #[test]
    fn reminder_kinds_by_time() {
        let day = super::super::reminders::DAY_MILLIS;
        let mut a = action("a-1", "iom", false);
        a.due = Timestamp::from_millis(10 * day);
        let at = |d: i64| Timestamp::from_millis(d);
        assert_eq!(ActionReminderKind::at(&a, at(6 * day), 3), None);
        assert_eq!(
            ActionReminderKind::at(&a, at(7 * day), 3),
            Some(ActionReminderKind::Due)
        );
        assert_eq!(
            ActionReminderKind::at(&a, at(10 * day), 3),
            Some(ActionReminderKind::Overdue)
        );
        assert!(a.is_overdue(at(10 * day)) && !a.is_overdue(at(10 * day - 1)));
        a.status = ActionStatus::Done;
        assert_eq!(ActionReminderKind::at(&a, at(11 * day), 3), None);
        assert!(!a.is_overdue(at(11 * day)));
    }

    fn activity() -> Activity {
        Activity::for_tests(ActivityKind::AfterActionReview)
    }

    #[test]
    fn added_questions_are_numbered_in_their_own_namespace() {
        let mut a = activity();
        let first = a
            .add_question("  How did the hotline work?  ", Timestamp::from_millis(5))
            .expect("added")
            .clone();
        assert_eq!(first.id.as_str(), "added/1");
        assert_eq!(first.text, "How did the hotline work?");
        assert_eq!(first.added_at, Timestamp::from_millis(5));
        let second = a.add_question("Was the map used?", Timestamp::from_millis(6));
        assert_eq!(
            second.map(|q| q.id.as_str().to_owned()),
            Ok("added/2".to_owned())
        );
        assert_eq!(
            a.added_question("added/2").map(|q| q.text.as_str()),
            Some("Was the map used?")
        );
        assert_eq!(a.added_question("added/3"), None);
        assert_eq!(a.added_question("questions/expected"), None);
        for id in ["added/1", "added/10", "added/123"] {
            assert!(is_added_question_id(id), "{id}");
        }
        for id in [
            "added",
            "added/",
            "added/x",
            "added/1/2",
            "questions/added",
            "addedx/1",
        ] {
            assert!(!is_added_question_id(id), "{id}");
        }
    }

    #[test]
    fn added_questions_are_refused_when_empty_too_long_repeated_or_too_many() {
        let mut a = activity();
        assert_eq!(
            a.add_question("  ", Timestamp::from_millis(1))
                .map(|q| q.id.clone()),
            Err(AddQuestionError::Text(ValueError::Empty))
        );
        let long = "x".repeat(MAX_ADDED_QUESTION_CHARS + 1);
        assert!(matches!(
            a.add_question(&long, Timestamp::from_millis(1)),
            Err(AddQuestionError::Text(ValueError::TooLong { .. }))
        ));
        assert!(a.added.is_empty(), "nothing added");
        a.add_question("What changed?", Timestamp::from_millis(1))
            .expect("added");
        assert_eq!(
            a.add_question("what  CHANGED?", Timestamp::from_millis(2))
                .map(|q| q.id.clone()),
            Err(AddQuestionError::Duplicate("added/1".to_owned()))
        );
        for n in 2..=MAX_ADDED_QUESTIONS {
            a.add_question(&format!("Question {n}?"), Timestamp::from_millis(3))
                .expect("within the limit");
        }
        assert_eq!(a.added.len(), MAX_ADDED_QUESTIONS);
        assert_eq!(a.added.last().map(|q| q.id.as_str()), Some("added/10"));
        let before = a.clone();
        assert_eq!(
            a.add_question("One more?", Timestamp::from_millis(4))
                .map(|q| q.id.clone()),
            Err(AddQuestionError::TooMany)
        );
        assert_eq!(a, before, "nothing changed");
    }

    #[test]
    fn names_round_trip() {
        for kind in ActivityKind::ALL {
            assert_eq!(ActivityKind::parse(kind.as_str()), Some(kind));
        }
        for kind in [ActionReminderKind::Due, ActionReminderKind::Overdue] {
            assert_eq!(ActionReminderKind::parse(kind.as_str()), Some(kind));
        }
    }
}
