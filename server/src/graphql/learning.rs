//! Real-time learning over GraphQL: activities, their compiled findings and theme tags,
//! the findings report (annex 2), follow-up actions and repeating cycles.
//!
//! Transport only: rules are `service::learning`'s. Access: administrators do everything
//! (a facilitator acts with an administrator's token; see ARCHITECTURE.md, "Real-time
//! learning"); validators with the round in scope read an activity, its findings, report
//! and actions. Participants answer through the existing answering paths (bot, web form).
//! Live updates: the activity is a round, so `roundEvents(roundId)` announces each answer.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};

use super::error::{Code, GqlError};
use super::request;
use crate::domain::{self, ActionLink, RoundId};
use crate::service::learning::{self as service, LearningError, ReportFormat};

impl From<LearningError> for GqlError {
    fn from(error: LearningError) -> Self {
        if let LearningError::Render(_) = &error {
            return Self::internal(&error);
        }
        let message = error.to_string();
        match error {
            LearningError::Invalid(_) => Self::bad_input(message),
            LearningError::NotFound(_) => Self::not_found(message),
            LearningError::Conflict(_) => Self::new(Code::Conflict, message),
            LearningError::PriorityLimit { .. } => Self::new(Code::Conflict, message)
                .with_details(vec!["PRIORITY_ACTION_LIMIT".to_owned()]),
            LearningError::Admin(admin) => admin.into(),
            LearningError::Store(store) => store.into(),
            LearningError::Render(_) => Self::new(Code::Internal, "internal error"),
        }
    }
}

fn admin(ctx: &Context<'_>) -> async_graphql::Result<domain::Actor> {
    let token = request(ctx)?
        .identity
        .require_admin()
        .map_err(GqlError::from)?;
    Ok(domain::Actor::Token(token))
}

fn reader(ctx: &Context<'_>, round: &str) -> async_graphql::Result<()> {
    let round = RoundId::parse(round.trim()).map_err(|e| GqlError::bad_input(e.to_string()))?;
    request(ctx)?
        .identity
        .require_round_reader(&round)
        .map_err(GqlError::from)?;
    Ok(())
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn day(at: domain::Timestamp) -> String {
    at.to_rfc3339()
}

// --- enums ---------------------------------------------------------------------------

/// The kinds of real-time learning activity (IOM manual).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivityKind {
    /// A lessons-learned workshop (asks `iom-rtl-lessons-learned`).
    LessonsLearned,
    /// An after-action review (asks `iom-rtl-after-action-review`).
    AfterActionReview,
    /// An adaptive-management review (asks `iom-rtl-adaptive-management-review`).
    AdaptiveManagementReview,
    /// A real-time review (asks `iom-rtl-real-time-review`).
    RealTimeReview,
    /// A performance monitoring review (asks `iom-pmr`).
    PerformanceMonitoringReview,
}

impl From<ActivityKind> for domain::ActivityKind {
    fn from(kind: ActivityKind) -> Self {
        match kind {
            ActivityKind::LessonsLearned => Self::LessonsLearned,
            ActivityKind::AfterActionReview => Self::AfterActionReview,
            ActivityKind::AdaptiveManagementReview => Self::AdaptiveManagementReview,
            ActivityKind::RealTimeReview => Self::RealTimeReview,
            ActivityKind::PerformanceMonitoringReview => Self::PerformanceMonitoringReview,
        }
    }
}

impl From<domain::ActivityKind> for ActivityKind {
    fn from(kind: domain::ActivityKind) -> Self {
        match kind {
            domain::ActivityKind::LessonsLearned => Self::LessonsLearned,
            domain::ActivityKind::AfterActionReview => Self::AfterActionReview,
            domain::ActivityKind::AdaptiveManagementReview => Self::AdaptiveManagementReview,
            domain::ActivityKind::RealTimeReview => Self::RealTimeReview,
            domain::ActivityKind::PerformanceMonitoringReview => Self::PerformanceMonitoringReview,
        }
    }
}

/// Where a follow-up action is: open → in progress → done, or dropped; done or dropped may be opened again.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
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

impl From<ActionStatus> for domain::ActionStatus {
    fn from(status: ActionStatus) -> Self {
        match status {
            ActionStatus::Open => Self::Open,
            ActionStatus::InProgress => Self::InProgress,
            ActionStatus::Done => Self::Done,
            ActionStatus::Dropped => Self::Dropped,
        }
    }
}

impl From<domain::ActionStatus> for ActionStatus {
    fn from(status: domain::ActionStatus) -> Self {
        match status {
            domain::ActionStatus::Open => Self::Open,
            domain::ActionStatus::InProgress => Self::InProgress,
            domain::ActionStatus::Done => Self::Done,
            domain::ActionStatus::Dropped => Self::Dropped,
        }
    }
}

/// What a follow-up action follows up.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionLinkKind {
    /// The learning activity that is the action's round.
    Activity,
    /// A component of the organisation's profile in the round (`target`, e.g. `2.3`).
    Component,
    /// A pillar of the organisation's profile in the round (`target`, e.g. `2`).
    Pillar,
}

/// The renderings of a findings report.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FindingsReportFormat {
    /// A standalone HTML page.
    #[default]
    Html,
    /// Markdown.
    Markdown,
}

// --- outputs -------------------------------------------------------------------------

/// One field of an activity's concept note (annex 1).
#[derive(SimpleObject, Debug, Clone)]
pub struct ConceptNoteField {
    /// The question id of the concept-note instrument, e.g. `context/context`.
    pub question_id: String,
    /// The text.
    pub text: String,
}

/// A participant's role in the intervention.
#[derive(SimpleObject, Debug, Clone)]
pub struct ParticipantRole {
    /// The person.
    pub person_id: String,
    /// Their role, e.g. `Field officer`.
    pub role: String,
}

/// A question the facilitator added to an activity.
#[derive(SimpleObject, Debug, Clone)]
pub struct AddedActivityQuestion {
    /// Its id, `added/<n>` (numbered from 1, never reused): answers are saved under it, and `question(..., questionId, response:)` renders it for a response of the activity.
    pub question_id: String,
    /// The question as the facilitator wrote it.
    pub text: String,
    /// When it was added, RFC 3339.
    pub added_at: String,
}

/// A real-time learning activity: a round that asks a learning set, with its metadata.
#[derive(Debug, Clone)]
pub struct Activity(pub domain::Activity);

/// A real-time learning activity: a round that asks a learning set, with its metadata.
#[Object(name = "LearningActivity")]
impl Activity {
    /// The round (the activity's id). Its deadline, status and participants (learning-participant assignments) are the round's.
    async fn round_id(&self) -> &str {
        self.0.round.as_str()
    }
    /// The kind.
    async fn kind(&self) -> ActivityKind {
        self.0.kind.into()
    }
    /// The intervention it concerns.
    async fn intervention(&self) -> &str {
        &self.0.intervention
    }
    /// The facilitator's person id.
    async fn facilitator_id(&self) -> &str {
        self.0.facilitator.as_str()
    }
    /// The period the questions refer to.
    async fn period(&self) -> &str {
        &self.0.period
    }
    /// Which cycle, from 1.
    async fn cycle(&self) -> i32 {
        i32::try_from(self.0.cycle).unwrap_or(i32::MAX)
    }
    /// The activity this one repeats, if any.
    async fn previous_round_id(&self) -> Option<&str> {
        self.0.previous.as_ref().map(RoundId::as_str)
    }
    /// The concept note's fields, by question id.
    async fn concept_note(&self) -> Vec<ConceptNoteField> {
        self.0
            .concept_note
            .iter()
            .map(|(q, t)| ConceptNoteField {
                question_id: q.clone(),
                text: t.clone(),
            })
            .collect()
    }
    /// The participants' roles, by person.
    async fn participant_roles(&self) -> Vec<ParticipantRole> {
        self.0
            .participant_roles
            .iter()
            .map(|(p, r)| ParticipantRole {
                person_id: p.to_string(),
                role: r.clone(),
            })
            .collect()
    }
    /// The questions the facilitator added, asked after the learning set's own (long text, optional), in the order added.
    async fn added_questions(&self) -> Vec<AddedActivityQuestion> {
        self.0
            .added
            .iter()
            .map(|q| AddedActivityQuestion {
                question_id: q.id.to_string(),
                text: q.text.clone(),
                added_at: day(q.added_at),
            })
            .collect()
    }
    /// When it was created, RFC 3339.
    async fn created_at(&self) -> String {
        day(self.0.created_at)
    }
}

/// One answer in the compiled findings.
#[derive(SimpleObject, Debug, Clone)]
pub struct FindingAnswer {
    /// The response it belongs to (for `tagAnswer`).
    pub response_id: String,
    /// The participant.
    pub person_id: String,
    /// Their name.
    pub name: String,
    /// Their role in the intervention.
    pub role: String,
    /// Their organisation.
    pub organisation_id: String,
    /// The answer as text.
    pub text: String,
    /// The channel it came through: `telegram`, `web`, `graphql` or `import`.
    pub channel: String,
    /// When it was given, RFC 3339.
    pub at: String,
    /// Whether the participant submitted.
    pub submitted: bool,
    /// The facilitator's themes.
    pub themes: Vec<String>,
}

/// How many answers of a question carry a theme.
#[derive(SimpleObject, Debug, Clone)]
pub struct ThemeCount {
    /// The theme.
    pub theme: String,
    /// Answers tagged with it.
    pub count: i32,
}

/// The findings of one learning question.
#[derive(SimpleObject, Debug, Clone)]
pub struct QuestionFindings {
    /// The question id, e.g. `questions/expected`.
    pub question_id: String,
    /// The question as asked (the period filled in).
    pub text: String,
    /// Answers given.
    pub count: i32,
    /// The answers, by organisation and person.
    pub answers: Vec<FindingAnswer>,
    /// Themes, most frequent first.
    pub themes: Vec<ThemeCount>,
}

/// The findings of an activity, compiled from the answers stored now.
#[derive(SimpleObject, Debug, Clone)]
pub struct ActivityFindings {
    /// The round.
    pub round_id: String,
    /// Which cycle.
    pub cycle: i32,
    /// The period the questions refer to.
    pub period: String,
    /// Participants assigned.
    pub participants: i32,
    /// Participants who answered at least one question.
    pub responded: i32,
    /// Participants who submitted.
    pub submitted: i32,
    /// Per question, in the instrument's order.
    pub questions: Vec<QuestionFindings>,
}

impl From<service::Findings> for ActivityFindings {
    fn from(f: service::Findings) -> Self {
        Self {
            round_id: f.round,
            cycle: i32::try_from(f.cycle).unwrap_or(i32::MAX),
            period: f.period,
            participants: count(f.participants),
            responded: count(f.responded),
            submitted: count(f.submitted),
            questions: f
                .questions
                .into_iter()
                .map(|q| QuestionFindings {
                    question_id: q.id,
                    text: q.text,
                    count: count(q.count),
                    answers: q
                        .answers
                        .into_iter()
                        .map(|a| FindingAnswer {
                            response_id: a.response,
                            person_id: a.person,
                            name: a.name,
                            role: a.role,
                            organisation_id: a.organisation,
                            text: a.text,
                            channel: a.channel,
                            at: a.at,
                            submitted: a.submitted,
                            themes: a.themes,
                        })
                        .collect(),
                    themes: q
                        .themes
                        .into_iter()
                        .map(|t| ThemeCount {
                            theme: t.theme,
                            count: count(t.count),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// One section of a findings report.
#[derive(SimpleObject, Debug, Clone)]
pub struct FindingsReportSection {
    /// The question id of the findings-report template, e.g. `findings/findings` (for `editFindingsReport`).
    pub section_id: String,
    /// The section's title in annex 2.
    pub heading: String,
    /// The item's label.
    pub label: String,
    /// The text: the facilitator's edit, else the prefill.
    pub text: String,
    /// Whether the facilitator edited it.
    pub edited: bool,
}

/// The findings report of an activity (IOM manual, annex 2).
#[derive(Debug, Clone)]
pub struct FindingsReport(pub service::FindingsReport);

/// The findings report of an activity (IOM manual, annex 2): context, objectives, methodology and process, findings, conclusions, recommendations, action plan, more information.
#[Object]
impl FindingsReport {
    /// The template's title.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// The round.
    async fn round_id(&self) -> &str {
        &self.0.round
    }
    /// The sections in the template's order.
    async fn sections(&self) -> Vec<FindingsReportSection> {
        self.0
            .sections
            .iter()
            .map(|s| FindingsReportSection {
                section_id: s.id.clone(),
                heading: s.heading.clone(),
                label: s.label.clone(),
                text: s.text.clone(),
                edited: s.edited,
            })
            .collect()
    }
    /// The report rendered as a document.
    async fn rendered(
        &self,
        #[graphql(default, desc = "The format (default: HTML).")] format: FindingsReportFormat,
    ) -> async_graphql::Result<String> {
        let format = match format {
            FindingsReportFormat::Html => ReportFormat::Html,
            FindingsReportFormat::Markdown => ReportFormat::Markdown,
        };
        Ok(self.0.render(format).map_err(GqlError::from)?)
    }
}

/// A follow-up action of an organisation in a round.
#[derive(Debug, Clone)]
pub struct Action(pub domain::Action);

/// A follow-up action of an organisation in a round.
#[Object]
impl Action {
    /// Its id, unique in the round.
    async fn id(&self) -> &str {
        self.0.id.as_str()
    }
    /// The round.
    async fn round_id(&self) -> &str {
        self.0.round.as_str()
    }
    /// The organisation.
    async fn organisation_id(&self) -> &str {
        self.0.organisation.as_str()
    }
    /// What it follows up.
    async fn link(&self) -> ActionLinkKind {
        match self.0.link {
            ActionLink::Activity => ActionLinkKind::Activity,
            ActionLink::Component(_) => ActionLinkKind::Component,
            ActionLink::Pillar(_) => ActionLinkKind::Pillar,
        }
    }
    /// The component or pillar followed up; null for an activity.
    async fn target(&self) -> Option<&str> {
        match &self.0.link {
            ActionLink::Activity => None,
            ActionLink::Component(t) | ActionLink::Pillar(t) => Some(t),
        }
    }
    /// What is to be done.
    async fn text(&self) -> &str {
        &self.0.text
    }
    /// The owner's person id.
    async fn owner_id(&self) -> &str {
        self.0.owner.as_str()
    }
    /// When it is due, RFC 3339.
    async fn due(&self) -> String {
        day(self.0.due)
    }
    /// Where it is.
    async fn status(&self) -> ActionStatus {
        self.0.status.into()
    }
    /// One of the organisation's (at most five) priority actions in the round.
    async fn priority(&self) -> bool {
        self.0.priority
    }
    /// When it was created, RFC 3339.
    async fn created_at(&self) -> String {
        day(self.0.created_at)
    }
    /// When it last changed, RFC 3339.
    async fn updated_at(&self) -> String {
        day(self.0.updated_at)
    }
}

// --- inputs --------------------------------------------------------------------------

/// A concept-note field as given.
#[derive(InputObject, Debug, Clone)]
pub struct ConceptNoteFieldInput {
    /// A question id of the concept-note instrument (`iom-rtl-concept-note`), e.g. `context/context`.
    pub question_id: String,
    /// The text.
    pub text: String,
}

/// A participant as given.
#[derive(InputObject, Debug, Clone)]
pub struct ParticipantInput {
    /// The person.
    pub person_id: String,
    /// Their organisation (one of the round's).
    pub organisation_id: String,
    /// Their role in the intervention, e.g. `Field officer`.
    pub role: String,
}

/// A new activity: the metadata of an existing round that asks the kind's learning set.
#[derive(InputObject, Debug, Clone)]
pub struct CreateActivityInput {
    /// The round (created before with `createRound`, in draft or open); its deadline is the activity's.
    pub round_id: String,
    /// The kind.
    pub kind: ActivityKind,
    /// The intervention it concerns.
    pub intervention: String,
    /// The facilitator's person id.
    pub facilitator_id: String,
    /// The period the questions refer to, e.g. `March 2026`.
    pub period: String,
    /// Concept-note fields (annex 1).
    #[graphql(default)]
    pub concept_note: Vec<ConceptNoteFieldInput>,
    /// Participants: each is assigned to the round as a learning participant.
    #[graphql(default)]
    pub participants: Vec<ParticipantInput>,
}

/// A new follow-up action.
#[derive(InputObject, Debug, Clone)]
pub struct CreateActionInput {
    /// Its id, a slug unique in the round.
    pub id: String,
    /// The round: an activity, or any round of the RBM side.
    pub round_id: String,
    /// The organisation (one of the round's).
    pub organisation_id: String,
    /// What it follows up.
    pub link: ActionLinkKind,
    /// The component (e.g. `2.3`) or pillar (e.g. `2`) for those links.
    pub target: Option<String>,
    /// What is to be done.
    pub text: String,
    /// The owner's person id.
    pub owner_id: String,
    /// When it is due, RFC 3339 (e.g. `2026-04-30T17:00:00Z`).
    pub due: String,
    /// A priority action: at most five per organisation and round.
    #[graphql(default)]
    pub priority: bool,
}

/// A change of a follow-up action; omitted fields stay.
#[derive(InputObject, Debug, Clone)]
pub struct UpdateActionInput {
    /// The round.
    pub round_id: String,
    /// The action.
    pub id: String,
    /// New text.
    pub text: Option<String>,
    /// New owner.
    pub owner_id: Option<String>,
    /// New due date-time, RFC 3339.
    pub due: Option<String>,
    /// New status.
    pub status: Option<ActionStatus>,
    /// Priority or not.
    pub priority: Option<bool>,
}

/// The next cycle of a repeating activity.
#[derive(InputObject, Debug, Clone)]
pub struct CreateNextCycleInput {
    /// The activity repeated.
    pub round_id: String,
    /// The new round's id.
    pub id: String,
    /// The new round's title.
    pub title: String,
    /// The period the new cycle's questions refer to.
    pub period: String,
    /// The new round's deadline, RFC 3339.
    pub deadline: Option<String>,
}

// --- roots ---------------------------------------------------------------------------

/// The learning part of `Query`.
#[derive(Debug, Default)]
pub struct LearningQuery;

#[Object]
impl LearningQuery {
    /// The activity of a round. Administrators, and validators with the round in scope; NOT_FOUND when the round is not an activity.
    async fn activity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The round's slug.")] round_id: String,
    ) -> async_graphql::Result<Activity> {
        reader(ctx, &round_id)?;
        let state = &request(ctx)?.state;
        let activity = service::existing_activity(state.store.as_ref(), &round_id)
            .await
            .map_err(GqlError::from)?;
        Ok(Activity(activity))
    }

    /// Every activity, by round id. Administrators only.
    async fn activities(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Activity>> {
        admin(ctx)?;
        let state = &request(ctx)?.state;
        let activities = state.store.activities().await.map_err(GqlError::from)?;
        Ok(activities.into_iter().map(Activity).collect())
    }

    /// The findings of an activity compiled per question from the answers stored now: counts, answers with the participants' roles, themes. Subscribe to `roundEvents(roundId)` to know when to read again.
    async fn activity_findings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The activity's round.")] round_id: String,
    ) -> async_graphql::Result<ActivityFindings> {
        reader(ctx, &round_id)?;
        let state = &request(ctx)?.state;
        let findings = service::findings(state.store.as_ref(), &state.catalogue, &round_id)
            .await
            .map_err(GqlError::from)?;
        Ok(findings.into())
    }

    /// The findings of every cycle of a repeating activity up to this one, oldest first, to compare answers across cycles.
    async fn activity_cycles(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The latest cycle's round.")] round_id: String,
    ) -> async_graphql::Result<Vec<ActivityFindings>> {
        reader(ctx, &round_id)?;
        let state = &request(ctx)?.state;
        let cycles = service::cycles(state.store.as_ref(), &state.catalogue, &round_id)
            .await
            .map_err(GqlError::from)?;
        Ok(cycles.into_iter().map(Into::into).collect())
    }

    /// The findings report of an activity (annex 2), prefilled from the activity, its findings and actions where the facilitator has not edited it.
    async fn findings_report(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The activity's round.")] round_id: String,
    ) -> async_graphql::Result<FindingsReport> {
        reader(ctx, &round_id)?;
        let state = &request(ctx)?.state;
        let report = service::report(state.store.as_ref(), &state.catalogue, &round_id)
            .await
            .map_err(GqlError::from)?;
        Ok(FindingsReport(report))
    }

    /// The follow-up actions of a round, by id.
    async fn actions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The round's slug.")] round_id: String,
    ) -> async_graphql::Result<Vec<Action>> {
        reader(ctx, &round_id)?;
        let state = &request(ctx)?.state;
        let actions = service::actions(state.store.as_ref(), &round_id)
            .await
            .map_err(GqlError::from)?;
        Ok(actions.into_iter().map(Action).collect())
    }

    /// The actions still open or in progress whose due date has passed, by due date: of one round (its readers), or of every round (administrators).
    async fn overdue_actions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "One round only; omitted: every round (administrators).")]
        round_id: Option<String>,
    ) -> async_graphql::Result<Vec<Action>> {
        match &round_id {
            Some(round) => reader(ctx, round)?,
            None => {
                admin(ctx)?;
            }
        }
        let state = &request(ctx)?.state;
        let actions =
            service::overdue(state.store.as_ref(), round_id.as_deref(), state.clock.now())
                .await
                .map_err(GqlError::from)?;
        Ok(actions.into_iter().map(Action).collect())
    }
}

/// The learning part of `Mutation`.
#[derive(Debug, Default)]
pub struct LearningMutation;

#[Object]
impl LearningMutation {
    /// Makes an existing round (which asks the kind's learning set) an activity and assigns its participants. Administrators (facilitators act with an administrator's token). BAD_USER_INPUT lists every problem and changes nothing; CONFLICT when the round is an activity already.
    async fn create_activity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The activity.")] input: CreateActivityInput,
    ) -> async_graphql::Result<Activity> {
        let actor = admin(ctx)?;
        let state = &request(ctx)?.state;
        let activity = service::create_activity(
            state.store.as_ref(),
            &state.catalogue,
            &actor,
            state.clock.now(),
            service::NewActivity {
                round: input.round_id,
                kind: input.kind.into(),
                intervention: input.intervention,
                facilitator: input.facilitator_id,
                period: input.period,
                concept_note: input
                    .concept_note
                    .into_iter()
                    .map(|f| (f.question_id, f.text))
                    .collect(),
                participants: input
                    .participants
                    .into_iter()
                    .map(|p| service::NewParticipant {
                        person: p.person_id,
                        organisation: p.organisation_id,
                        role: p.role,
                    })
                    .collect(),
            },
        )
        .await
        .map_err(GqlError::from)?;
        Ok(Activity(activity))
    }

    /// Adds a question of the facilitator's to an activity, asked after the learning set's own questions as a long text that participants may leave unanswered; its id is `added/<n>`. Allowed while the round is in draft or open, also once answers have started. Administrators. BAD_USER_INPUT (nothing changes) for an empty text, one over 500 characters, a question the activity already asks, or an eleventh; CONFLICT when the round is closed or later; NOT_FOUND when the round is not an activity.
    async fn add_activity_question(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The activity's round.")] round_id: String,
        #[graphql(desc = "The question (at most 500 characters).")] text: String,
    ) -> async_graphql::Result<Activity> {
        admin(ctx)?;
        let state = &request(ctx)?.state;
        let activity =
            service::add_question(state.store.as_ref(), &round_id, &text, state.clock.now())
                .await
                .map_err(GqlError::from)?;
        Ok(Activity(activity))
    }

    /// Tags a participant's answer with themes, replacing its earlier themes (an empty list removes them).
    async fn tag_answer(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The activity's round.")] round_id: String,
        #[graphql(desc = "The response, as `FindingAnswer.responseId` gives it.")]
        response_id: String,
        #[graphql(desc = "The question answered.")] question_id: String,
        #[graphql(desc = "The themes (at most 10, each at most 100 characters).")] themes: Vec<
            String,
        >,
    ) -> async_graphql::Result<ActivityFindings> {
        admin(ctx)?;
        let state = &request(ctx)?.state;
        service::tag_answer(
            state.store.as_ref(),
            &round_id,
            &response_id,
            &question_id,
            &themes,
        )
        .await
        .map_err(GqlError::from)?;
        let findings = service::findings(state.store.as_ref(), &state.catalogue, &round_id)
            .await
            .map_err(GqlError::from)?;
        Ok(findings.into())
    }

    /// Edits one section of the findings report; an empty text goes back to the prefill.
    async fn edit_findings_report(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The activity's round.")] round_id: String,
        #[graphql(desc = "The section, as `FindingsReportSection.sectionId` gives it.")]
        section_id: String,
        #[graphql(desc = "The text (at most 10,000 characters).")] text: String,
    ) -> async_graphql::Result<FindingsReport> {
        admin(ctx)?;
        let state = &request(ctx)?.state;
        service::edit_report(
            state.store.as_ref(),
            &state.catalogue,
            &round_id,
            &section_id,
            &text,
        )
        .await
        .map_err(GqlError::from)?;
        let report = service::report(state.store.as_ref(), &state.catalogue, &round_id)
            .await
            .map_err(GqlError::from)?;
        Ok(FindingsReport(report))
    }

    /// Creates a follow-up action (open). CONFLICT with `extensions.details` `["PRIORITY_ACTION_LIMIT"]` for a sixth priority action of the organisation in the round (nothing is written); CONFLICT when the id is taken.
    async fn create_action(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The action.")] input: CreateActionInput,
    ) -> async_graphql::Result<Action> {
        admin(ctx)?;
        let state = &request(ctx)?.state;
        let target = input.target.unwrap_or_default().trim().to_owned();
        let link = match input.link {
            ActionLinkKind::Activity => ActionLink::Activity,
            ActionLinkKind::Component => ActionLink::Component(target),
            ActionLinkKind::Pillar => ActionLink::Pillar(target),
        };
        let action = service::create_action(
            state.store.as_ref(),
            state.clock.now(),
            service::NewAction {
                id: input.id,
                round: input.round_id,
                organisation: input.organisation_id,
                link,
                text: input.text,
                owner: input.owner_id,
                due: input.due,
                priority: input.priority,
            },
        )
        .await
        .map_err(GqlError::from)?;
        Ok(Action(action))
    }

    /// Changes a follow-up action. CONFLICT for a status move that is not allowed or a sixth priority action (`PRIORITY_ACTION_LIMIT`); nothing changes then.
    async fn update_action(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The change.")] input: UpdateActionInput,
    ) -> async_graphql::Result<Action> {
        admin(ctx)?;
        let state = &request(ctx)?.state;
        let action = service::update_action(
            state.store.as_ref(),
            state.clock.now(),
            &input.round_id,
            &input.id,
            service::ActionChange {
                text: input.text,
                owner: input.owner_id,
                due: input.due,
                status: input.status.map(Into::into),
                priority: input.priority,
            },
        )
        .await
        .map_err(GqlError::from)?;
        Ok(Action(action))
    }

    /// Creates the next cycle of a repeating activity: a new round in draft with the same instruments, organisations and participants, and an activity one cycle later that reuses the questions and concept note.
    async fn create_next_cycle(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The next cycle.")] input: CreateNextCycleInput,
    ) -> async_graphql::Result<Activity> {
        let actor = admin(ctx)?;
        let state = &request(ctx)?.state;
        let activity = service::next_cycle(
            state.store.as_ref(),
            &state.catalogue,
            &actor,
            state.clock.now(),
            service::NextCycle {
                round: input.round_id,
                id: input.id,
                title: input.title,
                period: input.period,
                deadline: input.deadline,
            },
        )
        .await
        .map_err(GqlError::from)?;
        Ok(Activity(activity))
    }
}
