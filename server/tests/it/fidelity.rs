//! Every text of every shipped instrument must occur in the seed document it was
//! transcribed from, compared after normalising to lowercase letters and digits (so line
//! breaks, hyphenation repairs and punctuation artefacts do not count). The few texts that
//! are not verbatim are listed in `EXCEPTIONS` with the note that explains them: authored
//! texts are only required to be listed; reassembled texts must still consist of words
//! that all occur in the seed.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;

use crate::support::{repository_root, shipped};

/// Keys whose string values are identifiers, numbers or references, not texts.
const ID_KEYS: [&str; 14] = [
    "id",
    "number",
    "kind",
    "type",
    "language",
    "audience",
    "response_mode",
    "references",
    "component",
    "components",
    "qcpr_outcomes",
    "outcome_areas",
    "outcome_area",
    "criteria",
];

#[derive(Clone, Copy)]
enum Exception {
    /// Our wording, recorded as such in the instrument's notes.
    Authored,
    /// Reassembled from a jumbled table or split cells: every word is in the seed.
    Reassembled,
}

/// (instrument, path) of texts that are not verbatim in the seed, with why.
const EXCEPTIONS: &[(&str, &str, Exception)] = &[
    // Titles: the source prints no single title string for these.
    ("jiu-rbm-stages", "title", Exception::Authored),
    ("jiu-rbm-outcomes", "title", Exception::Authored),
    // Summary-sheet names printed over several table rows.
    (
        "jiu-rbm-stages",
        "pillars[0].aliases[1]",
        Exception::Reassembled,
    ),
    (
        "jiu-rbm-stages",
        "pillars[4].aliases[1]",
        Exception::Reassembled,
    ),
    (
        "jiu-rbm-validation",
        "summary_sheet.rows[*].pillar_label",
        Exception::Reassembled,
    ),
    // Activity rows of 2.5, 3.2, 4.1 and 4.2 wrap around the rating boxes in the seed,
    // and a 3.2 stage text is printed twice across a page break.
    (
        "jiu-rbm-stages",
        "pillars[1].components[4].activities[1].text",
        Exception::Reassembled,
    ),
    (
        "jiu-rbm-stages",
        "pillars[1].components[4].activities[2].text",
        Exception::Reassembled,
    ),
    (
        "jiu-rbm-stages",
        "pillars[1].components[4].activities[3].text",
        Exception::Reassembled,
    ),
    (
        "jiu-rbm-stages",
        "pillars[2].components[1].stages[3].text",
        Exception::Reassembled,
    ),
    (
        "jiu-rbm-stages",
        "pillars[2].components[1].activities[0].text",
        Exception::Reassembled,
    ),
    (
        "jiu-rbm-stages",
        "pillars[2].components[1].activities[1].text",
        Exception::Reassembled,
    ),
    (
        "jiu-rbm-stages",
        "pillars[2].components[1].activities[3].text",
        Exception::Reassembled,
    ),
    (
        "jiu-rbm-stages",
        "pillars[2].components[1].activities[4].text",
        Exception::Reassembled,
    ),
    (
        "jiu-rbm-stages",
        "pillars[2].components[1].activities[5].text",
        Exception::Reassembled,
    ),
    (
        "jiu-rbm-stages",
        "pillars[3].components[0].activities[1].text",
        Exception::Reassembled,
    ),
    (
        "jiu-rbm-stages",
        "pillars[3].components[1].activities[0].text",
        Exception::Reassembled,
    ),
    (
        "jiu-rbm-stages",
        "pillars[3].components[1].activities[2].text",
        Exception::Reassembled,
    ),
    // Annex X part 1 repairs the OCR error "guestion".
    (
        "jiu-rbm-outcomes",
        "sections[0].text",
        Exception::Reassembled,
    ),
    // A label we wrote for a parameter.
    (
        "iom-rtl-lessons-learned",
        "parameters[0].label",
        Exception::Authored,
    ),
    // The real-time review's overarching question spans three table cells.
    (
        "iom-rtl-real-time-review",
        "sections[0].question",
        Exception::Reassembled,
    ),
    // PMR guidance: a paragraph interrupted by a footnote, and a title we wrote.
    ("iom-pmr", "guidance[0].text", Exception::Reassembled),
    ("iom-pmr", "guidance[1].title", Exception::Authored),
];

fn seed_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("STAGEWISE_SEED_DIR") {
        return PathBuf::from(dir);
    }
    repository_root().join("../shared/seeds")
}

fn normalise(text: &str) -> String {
    let without_tags = text.replace("<u>", "").replace("</u>", "");
    without_tags
        .chars()
        .flat_map(char::to_lowercase)
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

fn words(text: &str) -> BTreeSet<String> {
    text.replace("<u>", " ")
        .replace("</u>", " ")
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// `rows[3].label` becomes `rows[*].label`, so one exception can cover a column.
fn any_index(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push_str("[*");
            }
            ']' => {
                in_index = false;
                out.push(']');
            }
            _ if in_index => {}
            _ => out.push(c),
        }
    }
    out
}

fn walk(value: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let is_id_list = matches!(child, Value::String(_))
                    || matches!(child, Value::Array(items) if items.iter().all(Value::is_string));
                if ID_KEYS.contains(&key.as_str()) && is_id_list {
                    continue;
                }
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                walk(child, &child_path, out);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                walk(item, &format!("{path}[{index}]"), out);
            }
        }
        Value::String(text) => out.push((path.to_owned(), text.clone())),
        _ => {}
    }
}

#[test]
fn every_text_occurs_in_its_seed_document() {
    let dir = seed_dir();
    assert!(
        dir.is_dir(),
        "the seed documents are needed to check the instruments' wording: expected them in {} \
         (the shared/seeds folder beside the repository); set STAGEWISE_SEED_DIR to their folder",
        dir.display()
    );
    let catalogue = shipped();
    let mut unexplained = Vec::new();
    let mut used_exceptions = BTreeSet::new();
    let mut checked = 0;
    for instrument in catalogue.instruments() {
        let header = instrument.header();
        let seed_path = dir.join(&header.source.seed);
        let seed = std::fs::read_to_string(&seed_path)
            .unwrap_or_else(|e| panic!("{}: {e}", seed_path.display()));
        let seed_normalised = normalise(&seed);
        let seed_words = words(&seed);

        let mut texts = vec![("title".to_owned(), header.title.as_str().to_owned())];
        let body = serde_json::to_value(instrument.body()).expect("body serialises");
        walk(&body, "", &mut texts);
        let defaults: Vec<(String, String)> = instrument
            .as_questionnaire()
            .map(|q| {
                q.parameters
                    .iter()
                    .map(|p| (format!("{{{}}}", p.id), p.default.as_str().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        for (path, text) in texts {
            checked += 1;
            let mut expanded = text.clone();
            for (placeholder, default) in &defaults {
                expanded = expanded.replace(placeholder, default);
            }
            let exception = EXCEPTIONS.iter().find(|(id, p, _)| {
                *id == instrument.id() && (*p == path || *p == any_index(&path))
            });
            let verbatim = seed_normalised.contains(&normalise(&expanded));
            match (verbatim, exception) {
                (true, None) => {}
                // A column-wide exception may cover cells that happen to be verbatim.
                (true, Some((_, p, _))) if p.contains("[*]") => {}
                (true, Some(_)) => unexplained.push(format!(
                    "{}: {path}: listed as an exception but verbatim in the seed; remove it from EXCEPTIONS",
                    instrument.id()
                )),
                (false, None) => unexplained.push(format!(
                    "{}: {path}: not in {}: {:?}",
                    instrument.id(),
                    header.source.seed,
                    text.chars().take(120).collect::<String>()
                )),
                (false, Some((_, _, Exception::Authored))) => {
                    used_exceptions.insert((instrument.id().to_owned(), any_index(&path)));
                    used_exceptions.insert((instrument.id().to_owned(), path));
                }
                (false, Some((_, _, Exception::Reassembled))) => {
                    let missing: Vec<String> = words(&expanded)
                        .into_iter()
                        .filter(|w| !seed_words.contains(w) && w != "question")
                        .collect();
                    if !missing.is_empty() {
                        unexplained.push(format!(
                            "{}: {path}: reassembled text has words not in the seed: {missing:?}",
                            instrument.id()
                        ));
                    }
                    used_exceptions.insert((instrument.id().to_owned(), any_index(&path)));
                    used_exceptions.insert((instrument.id().to_owned(), path));
                }
            }
        }
    }
    for (id, path, _) in EXCEPTIONS {
        if !used_exceptions.contains(&((*id).to_owned(), (*path).to_owned()))
            && !unexplained
                .iter()
                .any(|u| u.starts_with(&format!("{id}: {path}:")))
        {
            unexplained.push(format!("{id}: {path}: exception matches no text"));
        }
    }
    assert!(checked > 1000, "only {checked} texts were checked");
    assert!(
        unexplained.is_empty(),
        "{} of {checked} texts are not faithful to the seeds:\n{}",
        unexplained.len(),
        unexplained.join("\n")
    );
}
