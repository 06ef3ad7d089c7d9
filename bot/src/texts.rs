//! Every text the bot shows a person, in one place, English for now and ready for
//! translation (one function per message; nothing user-facing is written elsewhere).
//! Handler tests assert with these same functions. Texts from the instruments (question
//! wording, stage descriptors) come from the server and are shown as they are.

use crate::api::{
    AnswerView, Assigned, Channel, ComponentView, EvidenceKind, Next, Notice, QuestionKind,
    QuestionView, Value,
};

/// Telegram's limit on a message's text, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4096;

/// Splits `text` into messages of at most `limit` characters, at paragraph boundaries
/// where possible, then at line breaks, then at spaces, and only as a last resort inside
/// a word. Parts never start or end with the blank lines they were split at.
pub fn split_message(text: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(1);
    let mut parts = Vec::new();
    let mut rest = text.trim();
    while rest.chars().count() > limit {
        // The byte index just past the `limit`-th character.
        let window_end = rest
            .char_indices()
            .nth(limit)
            .map_or(rest.len(), |(index, _)| index);
        let window = &rest[..window_end];
        let cut = ["\n\n", "\n", " "]
            .iter()
            .find_map(|separator| window.rfind(separator).filter(|&at| at > 0))
            .unwrap_or(window_end);
        parts.push(rest[..cut].trim_end().to_owned());
        rest = rest[cut..].trim_start();
    }
    if !rest.is_empty() || parts.is_empty() {
        parts.push(rest.to_owned());
    }
    parts
}

/// `/help`.
pub fn help() -> String {
    "I help you answer your organisation's self-assessment, a few questions at a time. \
Everything you answer is saved at once; you can stop at any moment and go on later, \
here or in the web form.\n\n\
/continue — go on where you left off\n\
/progress — how far you are, by pillar\n\
/component 2.3 — go to a component\n\
/review — your answers so far\n\
/submit — submit when everything required is answered\n\
/unlink — stop using this chat\n\
/help — this text"
        .to_owned()
}

/// The command menu Telegram shows: command and description.
pub fn command_menu() -> Vec<(&'static str, String)> {
    vec![
        ("continue", "Go on where you left off".to_owned()),
        ("progress", "How far you are, by pillar".to_owned()),
        (
            "component",
            "Go to a component, e.g. /component 2.3".to_owned(),
        ),
        ("review", "Your answers so far".to_owned()),
        (
            "submit",
            "Submit when everything required is answered".to_owned(),
        ),
        ("unlink", "Stop using this chat".to_owned()),
        ("help", "What I can do".to_owned()),
    ]
}

/// `/start` without a code in a chat that is not linked.
pub fn start_without_code() -> String {
    "Welcome to Stagewise. To answer here, link this chat to yourself: open the link in \
your invitation email, or send /start followed by the code your secretariat gave you, \
e.g. /start 3f9a2c…"
        .to_owned()
}

/// A chat that is not linked tried to do something.
pub fn not_linked() -> String {
    "This chat is not linked to anyone yet. Open the link in your invitation email, or send \
/start followed by the code your secretariat gave you."
        .to_owned()
}

/// The code was wrong, used or expired.
pub fn bad_code() -> String {
    "That code does not work: it may be mistyped, already used or expired. Ask your \
secretariat for a new one."
        .to_owned()
}

/// The chat was linked.
pub fn linked(name: &str) -> String {
    format!("Hello {name}, this chat is now linked to you. /help lists what I can do.")
}

/// A linked person sent `/start` again.
pub fn welcome_back(name: &str) -> String {
    format!("Welcome back, {name}.")
}

/// `/unlink` done.
pub fn unlinked() -> String {
    "This chat is no longer linked. Your answers stay saved. To use it again, ask for a new \
code."
        .to_owned()
}

/// The server could not be reached.
pub fn try_again() -> String {
    "I cannot reach the Stagewise server right now, so nothing was changed. Please try again \
in a moment."
        .to_owned()
}

/// Something unexpected went wrong.
pub fn something_wrong() -> String {
    "Something went wrong on my side and nothing was changed. Please try again; if it keeps \
happening, tell your secretariat."
        .to_owned()
}

/// The person has nothing to answer.
pub fn nothing_assigned() -> String {
    "You have nothing to answer at the moment: no open round lists you.".to_owned()
}

/// A button press on a question that has moved on.
pub fn stale_button() -> String {
    "That button is out of date (the question was answered meanwhile, or you have moved on). \
Nothing was changed."
        .to_owned()
}

/// A press or message for a submitted response.
pub fn already_submitted() -> String {
    "This questionnaire has been submitted, so it can no longer change. Nothing was changed."
        .to_owned()
}

/// Text sent where a button is expected.
pub fn use_buttons() -> String {
    "Please answer with one of the buttons below.".to_owned()
}

/// Text sent while no question is on screen.
pub fn nothing_asked() -> String {
    "I have no question open for you. Send /continue to go on where you left off.".to_owned()
}

/// An unknown command.
pub fn unknown_command() -> String {
    "I do not know that command. /help lists what I can do.".to_owned()
}

/// A file sent where no evidence is asked for.
pub fn documents_only_as_evidence() -> String {
    "I take documents only as evidence (item 1.3). Nothing was changed.".to_owned()
}

/// A message of a kind the bot does not take.
pub fn unsupported_message() -> String {
    "I can only take text, buttons and, as evidence, documents.".to_owned()
}

/// The server refused an answer.
pub fn answer_refused(problems: &[String]) -> String {
    let mut text = "That answer was not accepted, so nothing was changed:".to_owned();
    for problem in problems {
        text.push_str("\n• ");
        text.push_str(problem);
    }
    text
}

/// Someone changed the same answer meanwhile.
pub fn changed_meanwhile() -> String {
    "Someone changed this answer at the same moment, so nothing was changed. Please send it \
again."
        .to_owned()
}

/// Every question is answered.
pub fn all_answered() -> String {
    "Every question is answered. Check them with /review, then /submit.".to_owned()
}

/// `/component` with an unknown component.
pub fn no_such_component(id: &str) -> String {
    format!("There is no component {id}. Components are numbered like 2.3.")
}

/// `/component` for an instrument without components.
pub fn no_components() -> String {
    "This questionnaire has no components; /continue goes on where you left off.".to_owned()
}

/// `/component` without an id.
pub fn component_usage() -> String {
    "Send the component's number, e.g. /component 2.3".to_owned()
}

/// Evidence lines recorded.
pub fn evidence_recorded(count: usize) -> String {
    format!(
        "Recorded. This item now has {count} evidence line(s). Send more, or press Done to go on."
    )
}

/// An activity of the organisation's own, recorded.
pub fn activity_recorded(name: &str) -> String {
    format!("Recorded “{name}”. Send the name of another activity, or press Done to go on.")
}

/// Asks for the rating of a named activity.
pub fn rate_activity(name: &str, scale: &[crate::api::ScalePoint]) -> String {
    let mut text = format!("How much did “{name}” contribute?");
    push_scale(&mut text, scale);
    text
}

/// A rating pressed before naming the activity.
pub fn name_activity_first() -> String {
    "Send the activity's name first, then rate it.".to_owned()
}

/// Label of the button that moves past an optional question.
pub fn skip_label() -> String {
    "Skip".to_owned()
}

/// Label of the button that ends a list (evidence, own activities).
pub fn done_label() -> String {
    "Done".to_owned()
}

/// Label of the button that shows the stage descriptors.
pub fn descriptors_label() -> String {
    "Stage descriptors".to_owned()
}

/// Label of the button that shows a component's description, indicators and drivers.
pub fn about_label() -> String {
    "About this component".to_owned()
}

/// Label of the confirmation button of `/submit`.
pub fn confirm_submit_label() -> String {
    "Submit now".to_owned()
}

/// Label of the cancel button of `/submit`.
pub fn cancel_label() -> String {
    "Not yet".to_owned()
}

/// `/submit` while required questions are unanswered.
pub fn submit_missing(missing: &[String]) -> String {
    let mut components: Vec<&str> = Vec::new();
    for id in missing {
        let component = id.split('/').next().unwrap_or(id);
        if !components.contains(&component) {
            components.push(component);
        }
    }
    format!(
        "Not yet: {} required question(s) are unanswered, in {}: {}.\nSend /continue to answer them.",
        missing.len(),
        if components.len() == 1 {
            "this part"
        } else {
            "these parts"
        },
        components.join(", ")
    )
}

/// `/submit` asks to confirm.
pub fn confirm_submit(title: &str) -> String {
    format!(
        "Everything required in “{title}” is answered. Once submitted, answers can no longer \
change unless your secretariat reopens it. Submit now?"
    )
}

/// Submitted.
pub fn submitted() -> String {
    "Submitted. Thank you!".to_owned()
}

/// Submission cancelled.
pub fn submit_cancelled() -> String {
    "Not submitted. Your answers stay saved.".to_owned()
}

/// `/progress`.
pub fn progress(name: &str, responses: &[Assigned]) -> String {
    if responses.is_empty() {
        return nothing_assigned();
    }
    let mut text = format!("Progress for {name}:");
    for response in responses {
        text.push_str(&format!(
            "\n\n{} — {}\n{} of {} required questions answered{}",
            response.round_title,
            response.instrument_title,
            response.answered,
            response.total,
            if response.submitted {
                " (submitted)"
            } else {
                ""
            }
        ));
        for pillar in &response.pillars {
            text.push_str(&format!(
                "\n{} {}. {}: {}/{}",
                if pillar.answered == pillar.total {
                    "✓"
                } else {
                    "·"
                },
                pillar.number,
                pillar.name,
                pillar.answered,
                pillar.total
            ));
        }
    }
    text
}

/// A reminder the server's scheduler queued: what is due when, how far each response
/// is, and how to go on.
pub fn reminder(notice: &Notice) -> String {
    let due = match notice.deadline.as_deref() {
        // The date of an RFC 3339 time; the whole text if it is shorter.
        Some(deadline) => format!(" by {}", deadline.get(..10).unwrap_or(deadline)),
        None => String::new(),
    };
    let mut text = format!(
        "Reminder, {}: answers for {} are due{due}, and not everything is submitted yet.",
        notice.person_name, notice.round_title
    );
    for response in &notice.responses {
        text.push_str(&format!(
            "\n\n{} — {}\n{} of {} required questions answered",
            response.instrument_title,
            response.organisation_name,
            response.answered,
            response.total
        ));
    }
    text.push_str(
        "\n\nSend /continue to go on where you left off, or /progress to see how far you are.",
    );
    text
}

fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::Telegram => "Telegram",
        Channel::Web => "web form",
        Channel::Graphql => "API",
        Channel::Import => "import",
    }
}

/// An answer's value in one line (long texts shortened).
pub fn value(value: &Value) -> String {
    fn shorten(text: &str) -> String {
        let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if one_line.chars().count() > 120 {
            format!("{}…", one_line.chars().take(120).collect::<String>())
        } else {
            one_line
        }
    }
    match value {
        Value::Stage(stage) => format!("stage {stage}"),
        Value::Rating(rating) => format!("rated {rating}"),
        Value::Text(text) | Value::Date(text) => shorten(text),
        Value::Lines(lines) => shorten(&lines.join("; ")),
        Value::Evidence(items) => shorten(
            &items
                .iter()
                .map(|item| match item.kind {
                    EvidenceKind::Document => item.text.clone(),
                    EvidenceKind::Person => format!("{} (person)", item.text),
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Value::Activities(items) => shorten(
            &items
                .iter()
                .map(|a| format!("{}: {}", a.name, a.rating))
                .collect::<Vec<_>>()
                .join("; "),
        ),
    }
}

/// `/review`: the answers so far, grouped by component (or section), with their
/// channels.
pub fn review(title: &str, answers: &[AnswerView], missing: usize) -> String {
    if answers.is_empty() {
        return format!("Nothing is answered yet in “{title}”. Send /continue to start.");
    }
    let mut text = format!("Your answers in “{title}”:");
    let mut group = "";
    for answer in answers {
        let (head, item) = answer
            .question_id
            .split_once('/')
            .unwrap_or((answer.question_id.as_str(), ""));
        if head != group {
            group = head;
            text.push_str(&format!("\n\n{head}"));
        }
        text.push_str(&format!(
            "\n• {}: {} — via {}",
            if item.is_empty() { head } else { item },
            value(&answer.value),
            channel_name(answer.channel)
        ));
    }
    text.push_str(&format!(
        "\n\n{missing} required question(s) still unanswered."
    ));
    text
}

/// The stage descriptors of a component.
pub fn stage_descriptors(component: &ComponentView) -> String {
    let mut text = format!(
        "{} {} — stages of development",
        component.id, component.name
    );
    for stage in &component.stages {
        text.push_str(&format!(
            "\n\n{}. {}\n{}",
            stage.stage, stage.title, stage.text
        ));
    }
    text
}

/// A component's description, indicators and drivers.
pub fn about_component(component: &ComponentView) -> String {
    let mut text = format!(
        "{} {}\n\n{}\n\nOutput quality: {}",
        component.id, component.name, component.description, component.output_quality
    );
    if !component.indicators.is_empty() {
        text.push_str("\n\nPerformance indicators:");
        for indicator in &component.indicators {
            text.push_str(&format!("\n• {indicator}"));
        }
    }
    if !component.drivers.is_empty() {
        text.push_str("\n\nDrivers to reflect on:");
        for driver in &component.drivers {
            text.push_str(&format!("\n• {}: {}", driver.name, driver.key_question));
        }
    }
    text
}

fn push_scale(text: &mut String, scale: &[crate::api::ScalePoint]) {
    for point in scale {
        text.push_str(&format!("\n{} = {}", point.value, point.label));
    }
}

/// How to ask a question: the component's header before its first question, the
/// question as printed, what to send, and the current answer when there is one.
pub fn question(view: &QuestionView, next: Option<&Next>, current: Option<&AnswerView>) -> String {
    let mut text = String::new();
    if let Some(next) = next {
        text.push_str(&format!("[{}/{}] ", next.position, next.total));
    }
    if let Some(component) = &view.component {
        if view.kind == QuestionKind::Stage {
            text.push_str(&format!(
                "Component {} — {}\n\nOutput quality: {}\n\n",
                component.id, component.name, component.output_quality
            ));
        } else {
            text.push_str(&format!("{} {}\n\n", component.id, component.name));
        }
    } else if let Some(heading) = &view.heading {
        text.push_str(&format!("{heading}\n\n"));
    }
    if view.kind == QuestionKind::Rating
        && let Some(component) = &view.component
    {
        text.push_str(&format!(
            "Q.2 activity {} of {}: ",
            view.number.as_deref().unwrap_or("?"),
            component.activities
        ));
    } else if let Some(number) = &view.number {
        text.push_str(&format!("{number} "));
    }
    text.push_str(&view.text);
    if let Some(label) = &view.field_label {
        text.push_str(&format!("\n({label})"));
    }
    if view.kind == QuestionKind::Stage {
        for guidance in view.guidance.iter().take(1) {
            text.push_str(&format!("\n\n{guidance}"));
        }
    }
    text.push_str("\n\n");
    text.push_str(&match view.kind {
        QuestionKind::Stage => "Choose the stage with a button.".to_owned(),
        QuestionKind::Rating => {
            let mut how = "Rate its contribution:".to_owned();
            push_scale(&mut how, &view.scale);
            how
        }
        QuestionKind::ShortText | QuestionKind::LongText => {
            "Send your answer as a message.".to_owned()
        }
        QuestionKind::Date => "Send the date as YYYY-MM-DD.".to_owned(),
        QuestionKind::TextList => "Send your answer, one item per line.".to_owned(),
        QuestionKind::Evidence => {
            "Send the titles or references of documents, one per line, or upload the \
documents. Where nothing is documented, send the names of the people involved, each line \
starting with “person:”. Press Done when you have sent everything."
                .to_owned()
        }
        QuestionKind::OtherActivities => {
            "Send the name of an activity of your own; I then ask for its rating. Press \
Done when there are no more."
                .to_owned()
        }
    });
    if !view.required
        && !matches!(
            view.kind,
            QuestionKind::Evidence | QuestionKind::OtherActivities
        )
    {
        text.push_str(" You may skip this one.");
    }
    if let Some(current) = current {
        text.push_str(&format!("\n\nCurrent answer: {}", value(&current.value)));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn long_texts_split_at_paragraphs() {
        let paragraph = "word ".repeat(300); // 1,500 characters
        let text = [paragraph.trim(); 4].join("\n\n");
        let parts = split_message(&text, MAX_MESSAGE_CHARS);
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.chars().count() <= MAX_MESSAGE_CHARS));
        assert_eq!(parts[0], [paragraph.trim(); 2].join("\n\n"));
        assert_eq!(parts.join("\n\n"), text);
    }

    #[test]
    fn a_word_longer_than_the_limit_is_cut() {
        assert_eq!(split_message("abcdef", 4), vec!["abcd", "ef"]);
        assert_eq!(split_message("", 4), vec![""]);
    }

    #[test]
    fn missing_questions_are_named_by_component() {
        let missing = ["1.2/stage", "1.2/evidence", "3.1/rationale"].map(str::to_owned);
        assert_eq!(
            submit_missing(&missing),
            "Not yet: 3 required question(s) are unanswered, in these parts: 1.2, 3.1.\n\
             Send /continue to answer them."
        );
    }

    proptest! {
        #[test]
        fn parts_fit_and_keep_every_word(words in proptest::collection::vec("[a-zé]{1,12}", 0..400), breaks in proptest::collection::vec(0usize..3, 0..400)) {
            let mut text = String::new();
            for (i, word) in words.iter().enumerate() {
                if i > 0 {
                    text.push_str(["\n\n", "\n", " "][breaks.get(i).copied().unwrap_or(2)]);
                }
                text.push_str(word);
            }
            let parts = split_message(&text, 100);
            for part in &parts {
                prop_assert!(part.chars().count() <= 100);
            }
            let rejoined: Vec<String> = parts.join(" ").split_whitespace().map(str::to_owned).collect();
            prop_assert_eq!(rejoined, words);
        }
    }
}
