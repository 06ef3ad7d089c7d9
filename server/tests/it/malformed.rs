use std::path::Path;

use server::catalogue::{Catalogue, CatalogueError};

use crate::support::copy_of_shipped;

/// Applies `edit` to a copy of the shipped `file`, loads the copy, and returns the error.
fn load_with(file: &str, edit: impl FnOnce(String) -> String) -> String {
    let (_temp, dir) = copy_of_shipped();
    let path = dir.join(file);
    let original = std::fs::read_to_string(&path).expect("shipped file");
    let edited = edit(original.clone());
    assert_ne!(edited, original, "the edit changed nothing");
    std::fs::write(&path, edited).expect("write");
    match Catalogue::load(&dir) {
        Ok(_) => panic!("a malformed {file} was accepted"),
        Err(error) => error.to_string(),
    }
}

fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} is in the file");
    text.replacen(from, to, 1)
}

const STAGES: &str = "questionnaires/jiu-rbm-stages/v1.toml";

#[test]
fn a_missing_stage_is_named_by_file_and_path() {
    let error = load_with("jiu-rbm-stages/v1.toml", |text| {
        replace_once(&text, "stage = 3\n", "stage = 4\n")
    });
    assert!(error.contains(STAGES), "{error}");
    assert!(
        error.contains("pillars[0].components[0].stages: expected the five stages 1 to 5 in order, found [1, 2, 4, 4, 5] (missing stage [3])"),
        "{error}"
    );
}

#[test]
fn a_duplicate_component_id_is_rejected() {
    let error = load_with("jiu-rbm-stages/v1.toml", |text| {
        replace_once(&text, "id = \"1.2\"\n", "id = \"1.1\"\n")
    });
    assert!(error.contains(STAGES), "{error}");
    assert!(
        error.contains("pillars[0].components[1].id: duplicate id `1.1`"),
        "{error}"
    );
}

#[test]
fn an_unknown_field_is_rejected_with_its_path() {
    let error = load_with("jiu-rbm-stages/v1.toml", |text| {
        replace_once(&text, "output_quality = ", "output_qualty = ")
    });
    assert!(error.contains(STAGES), "{error}");
    assert!(error.contains("pillars[0].components[0]"), "{error}");
    assert!(error.contains("unknown field `output_qualty`"), "{error}");
}

#[test]
fn a_question_of_unknown_type_is_rejected() {
    let error = load_with("iom-rtl-adaptive-management-review/v1.toml", |text| {
        replace_once(&text, "type = \"long-text\"", "type = \"essay\"")
    });
    assert!(
        error.contains("questionnaires/iom-rtl-adaptive-management-review/v1.toml"),
        "{error}"
    );
    assert!(
        error.contains("sections[0].items[0].fields[0].type"),
        "{error}"
    );
    assert!(error.contains("unknown variant `essay`"), "{error}");
}

#[test]
fn a_dangling_component_reference_is_rejected() {
    let error = load_with("jiu-rbm-drivers/v1.toml", |text| {
        replace_once(&text, "\"1.1\"", "\"1.9\"")
    });
    assert!(
        error.contains("questionnaires/jiu-rbm-drivers/v1.toml"),
        "{error}"
    );
    assert!(
        error.contains("drivers[0].components[0]: unknown component `1.9`"),
        "{error}"
    );
}

#[test]
fn a_dangling_outcome_area_is_rejected() {
    let error = load_with("jiu-rbm-outcomes/v1.toml", |text| {
        replace_once(
            &text,
            "outcome_area = \"qcpr-2\"",
            "outcome_area = \"qcpr-9\"",
        )
    });
    assert!(
        error.contains("sections[2].outcome_area: unknown outcome area `qcpr-9`"),
        "{error}"
    );
    assert!(
        error.contains("outcome area `qcpr-2` has no section with questions"),
        "{error}"
    );
}

#[test]
fn an_instrument_in_the_wrong_folder_is_rejected() {
    let error = load_with("iom-pmr/v1.toml", |text| {
        replace_once(&text, "id = \"iom-pmr\"", "id = \"iom-pmr-2\"")
    });
    assert!(
        error.contains("instrument.id: id `iom-pmr-2` does not match its folder `iom-pmr`"),
        "{error}"
    );
}

#[test]
fn invalid_toml_is_reported_with_line_and_column() {
    let error = load_with("iom-pmr/v1.toml", |text| format!("{text}\n[[sections]\n"));
    assert!(
        error.contains("questionnaires/iom-pmr/v1.toml: not valid TOML at line"),
        "{error}"
    );
}

#[test]
fn a_bad_translation_is_rejected() {
    let error = load_with("iom-rtl-after-action-review/v1.toml", |text| {
        replace_once(
            &text,
            "\ntitle = ",
            "\n\"titel::fr\" = \"Examen\"\ntitle = ",
        )
    });
    assert!(
        error.contains("instrument.titel::fr: translation of `titel`"),
        "{error}"
    );
}

#[test]
fn a_translation_is_accepted_beside_its_field() {
    let (_temp, dir) = copy_of_shipped();
    let path = dir.join("iom-rtl-after-action-review/v1.toml");
    let text = std::fs::read_to_string(&path).expect("file");
    let text = text.replacen(
        "text = \"What occurred?\"",
        "text = \"What occurred?\"\n\"text::fr\" = \"Que s'est-il passé ?\"",
        1,
    );
    std::fs::write(&path, text).expect("write");
    let catalogue = Catalogue::load(&dir).expect("a translation is valid");
    let item = &catalogue
        .get("iom-rtl-after-action-review", 1)
        .and_then(|i| i.as_questionnaire())
        .expect("questionnaire")
        .sections[0]
        .items[1];
    let fr = server::catalogue::LanguageCode::parse("fr").expect("code");
    assert_eq!(item.text.get(&fr), "Que s'est-il passé ?");
    assert_eq!(item.text.as_str(), "What occurred?");
}

#[test]
fn problems_are_all_reported_at_once() {
    let (_temp, dir) = copy_of_shipped();
    for (file, from, to) in [
        ("jiu-rbm-stages/v1.toml", "stage = 5\n", "stage = 6\n"),
        ("iom-pmr/v1.toml", "type = \"date\"", "type = \"when\""),
    ] {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).expect("file");
        std::fs::write(&path, replace_once(&text, from, to)).expect("write");
    }
    let Err(CatalogueError::Invalid { problems }) = Catalogue::load(&dir) else {
        panic!("rejected as invalid");
    };
    let files: Vec<&Path> = problems.iter().map(|p| p.file.as_path()).collect();
    assert!(files.contains(&Path::new(STAGES)), "{problems:?}");
    assert!(
        files.contains(&Path::new("questionnaires/iom-pmr/v1.toml")),
        "{problems:?}"
    );
}

#[test]
fn an_empty_folder_is_rejected() {
    let temp = tempfile::tempdir().expect("temp dir");
    let error = Catalogue::load(temp.path()).expect_err("empty");
    assert!(matches!(error, CatalogueError::Empty { .. }), "{error}");
}
