//! Pure domain types and rules: parse-constructed newtypes, the response event log and
//! its fold. No IO, no async, no serialisation derives: stored records and GraphQL types
//! convert from these.

pub mod answer;
pub mod id;
pub mod learning;
pub mod organisation;
pub mod person;
pub mod reminders;
pub mod response;
pub mod round;
pub mod telegram;
pub mod time;
pub mod token;

pub use answer::{
    AnswerChange, AnswerValue, Channel, DateValue, EvidenceItem, EvidenceKind, FileRef,
    MAX_LIST_ITEMS, MAX_SHORT_TEXT_CHARS, MAX_TEXT_CHARS, NamedRating, Rating, Stage, ValueError,
};
pub use id::{
    ActionId, IdError, IdempotencyKey, OrganisationId, PersonId, QuestionId, ResponseId, RoundId,
    TokenId,
};
pub use learning::{
    Action, ActionLink, ActionReminderKind, ActionReminderMark, ActionStatus, ActionWrite,
    Activity, ActivityKind, AddQuestionError, AddedQuestion, ThemeTag,
};
pub use organisation::Organisation;
pub use person::{EmailAddress, EmailError, Person, TelegramChatId};
pub use reminders::{NoticeId, ReminderClaim, ReminderMark, TelegramNotice};
pub use response::{
    Actor, Command, CommandError, CurrentAnswer, EventKind, Respondent, Response, ResponseEvent,
    ResponseKey, ResponseMeta, ResponseStatus,
};
pub use round::{
    Assignment, Role, Round, RoundStatus, ValidationRecord, ValidationStatus, ValidationSubject,
    Validator,
};
pub use telegram::TelegramLinkCode;
pub use time::Timestamp;
pub use token::{ApiToken, LinkBinding, LinkToken, TokenHash, TokenRole};

/// Lowercase hex of `bytes` (two characters a byte): how hashes are stored and compared
/// and how secrets, codes and ids drawn at random are written. The server's only hex
/// encoder (the `hex` crate still decodes).
pub fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(2 * bytes.len());
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::lower_hex;

    #[test]
    fn lower_hex_writes_two_lowercase_digits_a_byte() {
        assert_eq!(lower_hex(&[]), "");
        assert_eq!(lower_hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(lower_hex(&all), hex::encode(&all));
    }
}
