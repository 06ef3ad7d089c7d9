//! The Redis key layout, in one place.
//!
//! Every key starts with the configured prefix. Keys that one operation touches together
//! share a hash tag (`{…}`), so each multi-key operation stays in one cluster slot:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `P:{r:<response>}:meta` | hash | `v`, `submitted` (`0`/`1`), `last_seq`, `updated_at` |
//! | `P:{r:<response>}:answers` | hash | question id → current answer record |
//! | `P:{r:<response>}:events` | list | event records; index = seq − 1 |
//! | `P:{r:<response>}:idem` | hash | idempotency key → idempotency record |
//! | `P:{o:<organisation>}:org` | string | organisation record |
//! | `P:orgs` | set | organisation ids |
//! | `P:{p:<person>}:person` | string | person record |
//! | `P:persons` | set | person ids |
//! | `P:chats` | hash | Telegram chat id → person id |
//! | `P:{g:<round>}:round` | string | round record |
//! | `P:rounds` | set | round ids |
//! | `P:{g:<round>}:assignments` | hash | `<org>/<person>/<role>` → assignment record |
//! | `P:{g:<round>}:responses` | set | response ids with events |
//! | `P:{g:<round>}:validations:<organisation>` | list | validation records, oldest first |
//! | `P:{g:<round>}:audit` | list | audit records of the round's administrative acts, oldest first |
//! | `P:{t:<hash>}:api` | string | API token record (hash = hex SHA-256 of the secret) |
//! | `P:api-tokens` | hash | token id → token hash |
//! | `P:{l:<hash>}:link` | string | link token record |
//! | `P:{c:<hash>}:tgcode` | string | Telegram linking code record; expires with the code |
//! | `P:tg:<update id>` | string | Telegram update seen (expires after 48 h) |
//! | `P:lease:<name>` | string | the holder of a lease (the server's own names); expires with the lease |
//! | `P:{g:<round>}:reminders:<person>` | hash | days before the deadline → reminder mark record |
//! | `P:{tgn}:notices` | hash | notice id → Telegram notice record |
//! | `P:{tgn}:due` | sorted set | notice id, scored by when the bot may claim it (ms) |
//!
//! Only validated ids go into keys: slugs (`[a-z0-9-]`), response ids built from slugs
//! (`[a-z0-9-/@~]`), hex hashes and integers. Client-supplied strings that are not ids
//! (idempotency keys, question ids) are hash fields, never key names.

use crate::domain::{
    ActionId, LinkBinding, OrganisationId, PersonId, ResponseId, RoundId, TokenHash,
};

/// Keys of one response; one hash tag, one slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseKeys {
    /// Status and log length.
    pub meta: String,
    /// Current answers.
    pub answers: String,
    /// The event log.
    pub events: String,
    /// Idempotency records.
    pub idem: String,
}

impl ResponseKeys {
    /// Every key, in the order the write script takes them.
    pub fn all(&self) -> [&str; 4] {
        [&self.meta, &self.answers, &self.events, &self.idem]
    }
}

/// Keys of one round; one hash tag, one slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundKeys {
    /// The round record.
    pub round: String,
    /// Its assignments.
    pub assignments: String,
    /// Ids of its responses.
    pub responses: String,
}

/// Builds keys under a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLayout {
    prefix: String,
}

impl KeyLayout {
    /// A layout under `prefix` (validated by the configuration: `[a-z0-9-_:]`, no braces).
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The keys of a response.
    pub fn response(&self, id: &ResponseId) -> ResponseKeys {
        // Concatenated rather than formatted: this runs for every answer saved.
        let base = [self.prefix.as_str(), ":{r:", id.as_str(), "}"].concat();
        ResponseKeys {
            meta: [base.as_str(), ":meta"].concat(),
            answers: [base.as_str(), ":answers"].concat(),
            events: [base.as_str(), ":events"].concat(),
            idem: [base.as_str(), ":idem"].concat(),
        }
    }

    /// The keys of a round.
    pub fn round(&self, id: &RoundId) -> RoundKeys {
        let base = format!("{}:{{g:{id}}}", self.prefix);
        RoundKeys {
            round: format!("{base}:round"),
            assignments: format!("{base}:assignments"),
            responses: format!("{base}:responses"),
        }
    }

    /// The validation list of an organisation in a round (in the round's slot).
    pub fn validations(&self, round: &RoundId, organisation: &OrganisationId) -> String {
        format!("{}:{{g:{round}}}:validations:{organisation}", self.prefix)
    }

    /// The audit log of a round (in the round's slot).
    pub fn audit(&self, round: &RoundId) -> String {
        format!("{}:{{g:{round}}}:audit", self.prefix)
    }

    /// An organisation record.
    pub fn organisation(&self, id: &OrganisationId) -> String {
        format!("{}:{{o:{id}}}:org", self.prefix)
    }

    /// The set of organisation ids.
    pub fn organisations(&self) -> String {
        format!("{}:orgs", self.prefix)
    }

    /// A person record.
    pub fn person(&self, id: &PersonId) -> String {
        format!("{}:{{p:{id}}}:person", self.prefix)
    }

    /// The set of person ids.
    pub fn persons(&self) -> String {
        format!("{}:persons", self.prefix)
    }

    /// Telegram chat id → person id.
    pub fn chats(&self) -> String {
        format!("{}:chats", self.prefix)
    }

    /// The set of round ids.
    pub fn rounds(&self) -> String {
        format!("{}:rounds", self.prefix)
    }

    /// An API token record.
    pub fn api_token(&self, hash: &TokenHash) -> String {
        format!("{}:{{t:{}}}:api", self.prefix, hash.to_hex())
    }

    /// API token id → hash.
    pub fn api_tokens(&self) -> String {
        format!("{}:api-tokens", self.prefix)
    }

    /// A link token record.
    pub fn link_token(&self, hash: &TokenHash) -> String {
        format!("{}:{{l:{}}}:link", self.prefix, hash.to_hex())
    }

    /// The hashes (hex) of the links made for one person's response: a set, so that an
    /// administrator can revoke them without knowing a secret.
    pub fn links_of(&self, binding: &LinkBinding) -> String {
        format!(
            "{}:links-of:{}:{}",
            self.prefix,
            binding.response.id(),
            binding.person
        )
    }

    /// A Telegram linking code record.
    pub fn telegram_code(&self, hash: &TokenHash) -> String {
        format!("{}:{{c:{}}}:tgcode", self.prefix, hash.to_hex())
    }

    /// A seen Telegram update.
    pub fn telegram_update(&self, update_id: i64) -> String {
        format!("{}:tg:{update_id}", self.prefix)
    }
}

/// Keys of the Telegram notice queue; one hash tag, one slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeKeys {
    /// Notice id → record.
    pub notices: String,
    /// Notice ids by when they may be claimed.
    pub due: String,
}

impl KeyLayout {
    /// A lease (`name` is one of the server's own constants).
    pub fn lease(&self, name: &str) -> String {
        format!("{}:lease:{name}", self.prefix)
    }

    /// The reminder marks of a person in a round (in the round's slot).
    pub fn reminders(&self, round: &RoundId, person: &PersonId) -> String {
        format!("{}:{{g:{round}}}:reminders:{person}", self.prefix)
    }

    /// The learning activity of a round (in the round's slot).
    pub fn activity(&self, round: &RoundId) -> String {
        format!("{}:{{g:{round}}}:activity", self.prefix)
    }

    /// The set of round ids that have an activity.
    pub fn activities(&self) -> String {
        format!("{}:activities", self.prefix)
    }

    /// The actions of a round: action id → record (in the round's slot).
    pub fn actions(&self, round: &RoundId) -> String {
        format!("{}:{{g:{round}}}:actions", self.prefix)
    }

    /// The ids of an organisation's priority actions in a round (in the round's slot).
    pub fn priority_actions(&self, round: &RoundId, organisation: &OrganisationId) -> String {
        format!("{}:{{g:{round}}}:priority:{organisation}", self.prefix)
    }

    /// The reminder marks of an action: kind → mark (in the round's slot).
    pub fn action_reminders(&self, round: &RoundId, action: &ActionId) -> String {
        format!("{}:{{g:{round}}}:action-reminders:{action}", self.prefix)
    }

    /// The Telegram notice queue.
    pub fn notices(&self) -> NoticeKeys {
        NoticeKeys {
            notices: format!("{}:{{tgn}}:notices", self.prefix),
            due: format!("{}:{{tgn}}:due", self.prefix),
        }
    }
}

/// Whether a key prefix is safe: 1–32 characters of `[a-z0-9-_:]`.
pub fn is_valid_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && prefix.len() <= 32
        && prefix.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b':')
        })
}

/// The Redis Cluster slot of a key: CRC16 (XMODEM) of the hash tag when the key has a
/// non-empty `{…}`, else of the whole key, modulo 16384 — as Redis computes it.
pub fn cluster_slot(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let hashed = match bytes.iter().position(|&b| b == b'{') {
        Some(open) => match bytes[open + 1..].iter().position(|&b| b == b'}') {
            Some(len) if len > 0 => &bytes[open + 1..open + 1 + len],
            _ => bytes,
        },
        None => bytes,
    };
    crc16(hashed) % 16384
}

fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::InstrumentRef;
    use crate::domain::{Respondent, ResponseKey};
    use proptest::prelude::*;

    #[test]
    fn crc16_matches_redis_reference_values() {
        // Values from the Redis Cluster specification and `CLUSTER KEYSLOT`.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(cluster_slot("foo"), 12182);
        assert_eq!(
            cluster_slot("{user1000}.following"),
            cluster_slot("{user1000}.followers")
        );
        assert_eq!(cluster_slot("foo{}{bar}"), cluster_slot("foo{}{bar}"));
        assert_eq!(cluster_slot("{}foo"), crc16(b"{}foo") % 16384);
    }

    proptest! {
        #[test]
        fn keys_of_one_response_share_a_slot(
            round in "[a-z][a-z0-9]{0,12}",
            organisation in "[a-z][a-z0-9]{0,12}",
            person in proptest::option::of("[a-z][a-z0-9]{0,12}"),
        ) {
            let key = ResponseKey {
                round: RoundId::parse(&round).expect("slug"),
                organisation: OrganisationId::parse(&organisation).expect("slug"),
                instrument: InstrumentRef::parse("jiu-rbm-stages@1").expect("ref"),
                respondent: match person {
                    Some(p) => Respondent::Person(PersonId::parse(&p).expect("slug")),
                    None => Respondent::Organisation,
                },
            };
            let keys = KeyLayout::new("sw").response(&key.id());
            let slot = cluster_slot(&keys.meta);
            prop_assert!(keys.all().iter().all(|k| cluster_slot(k) == slot));
            let round_keys = KeyLayout::new("sw").round(&key.round);
            let round_slot = cluster_slot(&round_keys.round);
            prop_assert_eq!(cluster_slot(&round_keys.assignments), round_slot);
            prop_assert_eq!(cluster_slot(&round_keys.responses), round_slot);
            prop_assert_eq!(
                cluster_slot(&KeyLayout::new("sw").validations(&key.round, &key.organisation)),
                round_slot
            );
        }
    }

    /// The layout is what a running deployment's data is found under: a change must
    /// come with a migration, never by accident.
    #[test]
    fn a_response_s_keys_are_as_documented() {
        let key = ResponseKey {
            round: RoundId::parse("r-2026").expect("slug"),
            organisation: OrganisationId::parse("unicef").expect("slug"),
            instrument: InstrumentRef::parse("jiu-rbm-stages@1").expect("ref"),
            respondent: Respondent::Organisation,
        };
        let keys = KeyLayout::new("sw").response(&key.id());
        assert_eq!(
            keys.all(),
            [
                "sw:{r:r-2026/unicef/jiu-rbm-stages@1}:meta",
                "sw:{r:r-2026/unicef/jiu-rbm-stages@1}:answers",
                "sw:{r:r-2026/unicef/jiu-rbm-stages@1}:events",
                "sw:{r:r-2026/unicef/jiu-rbm-stages@1}:idem",
            ]
        );
    }

    #[test]
    fn prefixes_without_braces_only() {
        assert!(is_valid_prefix("stagewise"));
        assert!(is_valid_prefix("test:ab12"));
        for bad in ["", "{x}", "a b", "é", &"a".repeat(33)] {
            assert!(!is_valid_prefix(bad), "{bad:?}");
        }
    }
}
