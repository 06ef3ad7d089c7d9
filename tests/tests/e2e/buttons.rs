use bot::keyboards::{Action, Callback, MAX_CALLBACK_BYTES};
use server::catalogue::{AnswerType, Catalogue};

/// Every answerable question of every shipped instrument must fit in Telegram's 64-byte
/// callback data with any action the bot puts on a button, and decode back to itself; a
/// question id too long for a button would make that question unanswerable in Telegram.
#[test]
fn every_catalogue_question_fits_in_a_telegram_button() {
    let catalogue = Catalogue::load(&tests::questionnaires_dir()).expect("shipped catalogue");
    let mut checked = 0;
    for instrument in catalogue.instruments() {
        for question in instrument.questions() {
            let actions: Vec<Action> = match question.answer {
                AnswerType::Stage => (1..=5).map(Action::Answer).collect(),
                AnswerType::Rating { min, max } => (min..=max).map(Action::Answer).collect(),
                _ => Vec::new(),
            };
            for action in actions.into_iter().chain([
                Action::Skip,
                Action::Help,
                Action::Info,
                Action::Confirm,
                Action::Cancel,
            ]) {
                let callback = Callback {
                    action,
                    question: question.id.clone(),
                    prompt_tag: u16::MAX,
                };
                let encoded = callback
                    .encode()
                    .unwrap_or_else(|e| panic!("{}: {e}", instrument.reference()));
                assert!(encoded.len() <= MAX_CALLBACK_BYTES);
                assert_eq!(Callback::decode(&encoded), Ok(callback));
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "only {checked} buttons checked");
}
