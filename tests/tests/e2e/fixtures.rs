//! Data arranged directly in a test server's store: one organisation, people, a round and
//! assignments, so a test can go straight to what it is about.

use server::catalogue::InstrumentRef;
use server::domain::{
    Assignment, EmailAddress, Organisation, OrganisationId, Person, PersonId, Role, Round, RoundId,
    RoundStatus, TelegramChatId,
};

use crate::support::TestServer;

/// The round every fixture uses.
pub const ROUND: &str = "r-2026";
/// Ana: UNICEF's focal point, Telegram chat 1001.
pub const ANA_CHAT: i64 = 1001;
/// Ben: a senior manager at UNICEF, Telegram chat 1002.
pub const BEN_CHAT: i64 = 1002;
/// Cy: FAO's focal point, Telegram chat 1003.
pub const CY_CHAT: i64 = 1003;

fn person(id: &str, chat: i64) -> Person {
    Person {
        id: PersonId::parse(id).expect("id"),
        name: id.to_owned(),
        email: EmailAddress::parse(&format!("{id}@example.org")).expect("email"),
        telegram_chat: Some(TelegramChatId(chat)),
    }
}

/// UNICEF and FAO in round `r-2026` (open, stage questionnaire and outcome protocol),
/// with Ana and Cy as focal points and Ben as a senior manager of UNICEF.
pub async fn arrange(server: &TestServer) {
    let store = &server.state.store;
    for (id, name) in [("unicef", "UNICEF"), ("fao", "FAO")] {
        store
            .put_organisation(
                &Organisation::new(OrganisationId::parse(id).expect("id"), name, None)
                    .expect("organisation"),
            )
            .await
            .expect("organisation stored");
    }
    for (id, chat) in [("p-ana", ANA_CHAT), ("p-ben", BEN_CHAT), ("p-cy", CY_CHAT)] {
        store
            .put_person(&person(id, chat))
            .await
            .expect("person stored");
    }
    let round = RoundId::parse(ROUND).expect("id");
    store
        .put_round(&Round {
            id: round.clone(),
            title: "JIU RBM 2026".to_owned(),
            instruments: vec![
                InstrumentRef::parse("jiu-rbm-stages@1").expect("ref"),
                InstrumentRef::parse("jiu-rbm-outcomes@1").expect("ref"),
            ],
            organisations: vec![
                OrganisationId::parse("unicef").expect("id"),
                OrganisationId::parse("fao").expect("id"),
            ],
            deadline: None,
            status: RoundStatus::Open,
        })
        .await
        .expect("round stored");
    for (organisation, person, role) in [
        ("unicef", "p-ana", Role::FocalPoint),
        (
            "unicef",
            "p-ben",
            Role::SeniorManager {
                outcome_areas: vec!["qcpr-1".to_owned()],
            },
        ),
        ("fao", "p-cy", Role::FocalPoint),
    ] {
        store
            .put_assignment(&Assignment {
                round: round.clone(),
                organisation: OrganisationId::parse(organisation).expect("id"),
                person: PersonId::parse(person).expect("id"),
                role,
            })
            .await
            .expect("assignment stored");
    }
}

/// The GraphQL `ResponseRefInput` of an organisation's stage questionnaire.
pub fn stages(organisation: &str) -> serde_json::Value {
    serde_json::json!({
        "roundId": ROUND,
        "organisationId": organisation,
        "instrument": "jiu-rbm-stages@1"
    })
}

/// The GraphQL `ResponseRefInput` of a person's outcome-protocol response.
pub fn outcomes(organisation: &str, person: &str) -> serde_json::Value {
    serde_json::json!({
        "roundId": ROUND,
        "organisationId": organisation,
        "instrument": "jiu-rbm-outcomes@1",
        "personId": person
    })
}
