//! Translatable text and the `field::lang` convention of the instrument files.
//!
//! An instrument file writes every text in its own language (`title = "…"`) and may add
//! translations beside it (`"title::fr" = "…"`), as XLSForm does with `label::fr`. Before
//! the typed deserialisation, [`fold_translations`] folds each `field::lang` key into its
//! field, so the typed structs keep `deny_unknown_fields` and never see the convention.
//! This module does no IO.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Key used inside a folded text table for the text in the instrument's own language.
const DEFAULT_KEY: &str = "::default";

/// A two-letter ISO 639-1 language code such as `en` or `fr`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LanguageCode(String);

impl LanguageCode {
    /// Parses a language code: exactly two lowercase ASCII letters.
    ///
    /// # Errors
    /// Returns a message when the code is not two lowercase ASCII letters.
    pub fn parse(code: &str) -> Result<Self, String> {
        if code.len() == 2 && code.bytes().all(|b| b.is_ascii_lowercase()) {
            Ok(Self(code.to_owned()))
        } else {
            Err(format!(
                "`{code}` is not a language code (two lowercase letters, ISO 639-1)"
            ))
        }
    }

    /// The code as written, e.g. `fr`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LanguageCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for LanguageCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Self::parse(&code).map_err(de::Error::custom)
    }
}

impl Serialize for LanguageCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// A text of an instrument in its own language, with any translations. Leading and
/// trailing whitespace (the line breaks of TOML's multi-line strings) is not kept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text {
    default: String,
    translations: BTreeMap<LanguageCode, String>,
}

impl Text {
    /// A text with no translations.
    pub fn new(default: impl Into<String>) -> Self {
        Self {
            default: default.into(),
            translations: BTreeMap::new(),
        }
    }

    /// The text in the instrument's own language.
    pub fn as_str(&self) -> &str {
        &self.default
    }

    /// The text in `language`, falling back to the instrument's own language.
    pub fn get(&self, language: &LanguageCode) -> &str {
        self.translations
            .get(language)
            .map_or(self.default.as_str(), String::as_str)
    }

    /// The languages this text is translated into.
    pub fn translations(&self) -> impl Iterator<Item = (&LanguageCode, &str)> {
        self.translations.iter().map(|(l, t)| (l, t.as_str()))
    }

    /// Whether the text is empty or only whitespace.
    pub fn is_blank(&self) -> bool {
        self.default.trim().is_empty()
    }

    /// Renders the text with parameter values: `[in {period}]` becomes `in the last
    /// period` — the square brackets mark the variable part in the source and are dropped.
    /// Brackets that contain no placeholder are kept as they are.
    pub fn render(&self, values: &BTreeMap<String, String>) -> String {
        render_placeholders(&self.default, values)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.default)
    }
}

/// Placeholders (`{id}`) found in a text, in order of appearance.
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                found.push(&after[..close]);
                rest = &after[close + 1..];
            }
            None => break,
        }
    }
    found
}

fn render_placeholders(text: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find(']').map(|c| open + c) else {
            break;
        };
        let inner = &rest[open + 1..close];
        out.push_str(&rest[..open]);
        if placeholders(inner).is_empty() {
            out.push_str(&rest[open..=close]);
        } else {
            out.push_str(&substitute(inner, values));
        }
        rest = &rest[close + 1..];
    }
    out.push_str(&substitute(rest, values));
    out
}

fn substitute(text: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = text.to_owned();
    for (id, value) in values {
        out = out.replace(&format!("{{{id}}}"), value);
    }
    out
}

impl Serialize for Text {
    /// Exports the instrument's own language; translations are exported beside the field
    /// by the export module when asked for.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.default)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a text (string)")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Text, E> {
                Ok(Text::new(value.trim()))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
                let mut default = None;
                let mut translations = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value = map.next_value::<String>()?.trim().to_owned();
                    if key == DEFAULT_KEY {
                        default = Some(value);
                    } else {
                        let language = LanguageCode::parse(&key).map_err(de::Error::custom)?;
                        translations.insert(language, value);
                    }
                }
                let default = default.ok_or_else(|| {
                    de::Error::custom("a translation is given but the text itself is missing")
                })?;
                Ok(Text {
                    default,
                    translations,
                })
            }
        }

        deserializer.deserialize_any(TextVisitor)
    }
}

/// Folds every `field::lang` key of every table into its `field`, turning
/// `title = "A"` + `"title::fr" = "B"` into `title = { "::default" = "A", fr = "B" }`.
///
/// # Errors
/// Returns the dotted path and a message when a translation names a field that is not in
/// the same table, names a field that is not a string, or carries an invalid language code.
pub fn fold_translations(value: &mut toml::Value, path: &str) -> Result<(), (String, String)> {
    match value {
        toml::Value::Table(table) => {
            let translated: Vec<String> = table
                .keys()
                .filter(|key| key.contains("::"))
                .cloned()
                .collect();
            for key in translated {
                let key_path = join(path, &key);
                let (field, language) = key.split_once("::").unwrap_or((key.as_str(), ""));
                let language =
                    LanguageCode::parse(language).map_err(|message| (key_path.clone(), message))?;
                let Some(toml::Value::String(translation)) = table.remove(&key) else {
                    return Err((key_path, "a translation must be a string".to_owned()));
                };
                match table.get_mut(field) {
                    Some(toml::Value::String(own)) => {
                        let mut folded = toml::Table::new();
                        folded.insert(DEFAULT_KEY.to_owned(), toml::Value::String(own.clone()));
                        folded.insert(language.0, toml::Value::String(translation));
                        table.insert(field.to_owned(), toml::Value::Table(folded));
                    }
                    Some(toml::Value::Table(folded)) if folded.contains_key(DEFAULT_KEY) => {
                        folded.insert(language.0, toml::Value::String(translation));
                    }
                    Some(_) => {
                        return Err((
                            key_path,
                            format!("`{field}` is not a text, so it cannot be translated"),
                        ));
                    }
                    None => {
                        return Err((
                            key_path,
                            format!("translation of `{field}`, which this table does not have"),
                        ));
                    }
                }
            }
            for (key, child) in table.iter_mut() {
                if is_folded_text(child) {
                    continue;
                }
                fold_translations(child, &join(path, key))?;
            }
            Ok(())
        }
        toml::Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                fold_translations(item, &format!("{path}[{index}]"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn is_folded_text(value: &toml::Value) -> bool {
    matches!(value, toml::Value::Table(t) if t.contains_key(DEFAULT_KEY))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Item {
        title: Text,
        id: String,
    }

    fn load(source: &str) -> Result<Item, String> {
        let mut value: toml::Value = toml::from_str(source).map_err(|e| e.to_string())?;
        fold_translations(&mut value, "")
            .map_err(|(path, message)| format!("{path}: {message}"))?;
        Item::deserialize(value).map_err(|e| e.to_string())
    }

    #[test]
    fn translation_sits_beside_its_field() {
        let item = load("id = \"a\"\ntitle = \"Strategy\"\n\"title::fr\" = \"Stratégie\"\n")
            .expect("valid");
        assert_eq!(item.id, "a");
        assert_eq!(item.title.as_str(), "Strategy");
        let fr = LanguageCode::parse("fr").expect("code");
        let es = LanguageCode::parse("es").expect("code");
        assert_eq!(item.title.get(&fr), "Stratégie");
        assert_eq!(
            item.title.get(&es),
            "Strategy",
            "falls back to the own language"
        );
    }

    #[test]
    fn translation_of_a_missing_field_is_rejected() {
        let error = load("id = \"a\"\ntitle = \"x\"\n\"titel::fr\" = \"y\"\n").expect_err("typo");
        assert!(error.contains("titel::fr"), "{error}");
        assert!(error.contains("does not have"), "{error}");
    }

    #[test]
    fn translation_with_a_bad_language_is_rejected() {
        let error =
            load("id = \"a\"\ntitle = \"x\"\n\"title::French\" = \"y\"\n").expect_err("code");
        assert!(error.contains("not a language code"), "{error}");
    }

    #[test]
    fn translation_of_a_non_text_field_is_rejected() {
        let error = load("id = 3\ntitle = \"x\"\n\"id::fr\" = \"y\"\n").expect_err("not text");
        assert!(error.contains("not a text"), "{error}");
    }

    #[test]
    fn render_substitutes_and_drops_the_marking_brackets() {
        let text = Text::new("What were the key successes [in {period}]? [sic]");
        let values = BTreeMap::from([("period".to_owned(), "March 2026".to_owned())]);
        assert_eq!(
            text.render(&values),
            "What were the key successes in March 2026? [sic]"
        );
        assert_eq!(placeholders(text.as_str()), vec!["period"]);
    }

    proptest! {
        #[test]
        fn language_code_accepts_exactly_two_lowercase_letters(code in "\\PC{0,4}") {
            let valid = code.len() == 2 && code.bytes().all(|b| b.is_ascii_lowercase());
            prop_assert_eq!(LanguageCode::parse(&code).is_ok(), valid);
        }

        #[test]
        fn render_without_brackets_only_substitutes(text in "[a-z {}]{0,40}") {
            let rendered = Text::new(text.clone()).render(&BTreeMap::new());
            prop_assert_eq!(rendered, text);
        }
    }
}
