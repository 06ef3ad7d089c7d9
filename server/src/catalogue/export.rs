//! The public JSON export of the catalogue (`stagewise-server catalogue export`).
//!
//! Shape: `{"instruments":[…]}`, one object per instrument version holding the header
//! fields (`id`, `version`, `kind`, `title`, `audience`, `response_mode`, `language`,
//! `references`, `source`), the kind's body fields exactly as in the TOML file, `notes`,
//! and the derived `questions` (`id`, `type`, `required`, and the range of ratings).
//! Texts are exported in the instrument's own language. The format is documented in
//! `questionnaires/README.md`; fields are only ever added to it.

use serde_json::{Map, Value, json};

use super::{Catalogue, Instrument};

/// Exports every instrument, or only the versions of instrument `only` when given.
/// Returns `None` when `only` names no instrument.
pub fn export(catalogue: &Catalogue, only: Option<&str>) -> Option<Value> {
    let instruments: Vec<Value> = catalogue
        .instruments()
        .filter(|instrument| only.is_none_or(|id| instrument.id() == id))
        .map(instrument_json)
        .collect();
    if instruments.is_empty() {
        return None;
    }
    Some(json!({ "instruments": instruments }))
}

fn instrument_json(instrument: &Instrument) -> Value {
    let mut object = Map::new();
    merge(&mut object, serde_json::to_value(instrument.header()));
    merge(&mut object, serde_json::to_value(instrument.body()));
    object.insert(
        "notes".to_owned(),
        serde_json::to_value(instrument.notes()).unwrap_or(Value::Null),
    );
    object.insert(
        "questions".to_owned(),
        serde_json::to_value(instrument.questions()).unwrap_or(Value::Null),
    );
    Value::Object(object)
}

/// Plain data structs serialise to JSON objects without failure; anything else would be a
/// programming error, and is skipped rather than exported half-formed.
fn merge(object: &mut Map<String, Value>, value: serde_json::Result<Value>) {
    if let Ok(Value::Object(fields)) = value {
        object.extend(fields);
    }
}
