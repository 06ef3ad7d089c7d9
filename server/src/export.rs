//! Exports of a round for people who work in spreadsheets: the long-format CSV of answers
//! and the XLSX workbook (summary sheet, answers, outcome answers, flags).
//!
//! Both writers take plain rows filled by the caller and write them as given: this module
//! computes no stage, rule or flag, reads no catalogue and does no IO (the workbook is
//! built in memory and returned as bytes). The CSV columns are a published format: add
//! columns only at the end and never rename or reorder them.
//!
//! # The CSV
//!
//! [`answers_csv`] writes one row per organisation × component, with a header row of the
//! column names in [`CSV_COLUMNS`], RFC 4180 quoting (a field holding a comma, a double
//! quote, a carriage return or a line feed is wrapped in double quotes, with each double
//! quote doubled), CRLF line ends and UTF-8 without a byte-order mark. An empty field means
//! "none" (no stage selected, no validated stage, no activity rated).
//!
//! | column | content |
//! |---|---|
//! | `round_id` | the round's id |
//! | `organisation_id` | the organisation's id |
//! | `organisation_name` | the organisation's display name |
//! | `pillar` | the pillar number, `1`–`5` |
//! | `component` | the component id, e.g. `2.3` |
//! | `component_name` | the component's name in the stage questionnaire |
//! | `self_assessed_stage` | the stage the organisation selected, `1`–`5`; empty when none |
//! | `validated_stage` | the stage a validator recorded, `1`–`5`; empty when none |
//! | `evidence_documents` | how many documents Q.1.3 cites as evidence |
//! | `evidence_persons` | how many people Q.1.3 names as evidence (weak evidence) |
//! | `activities_rated` | how many Q.2 activities carry a rating (listed and the organisation's own) |
//! | `activity_mean` | the mean of those ratings (1 = no, 2 = little, 3 = significant contribution), two decimals with a dot; empty when none is rated |
//! | `answered` | how many of the component's required questions are answered |
//! | `required` | how many questions of the component are required |
//! | `flags` | the codes of the consistency flags raised on the component, joined with `;` in the order given (e.g. `EVIDENCE_MISSING;PEER_OUTLIER`); empty when none |
//!
//! The CSV carries no respondent free text (outcome answers are in the workbook and the
//! JSON export; rationales and comments are read through GraphQL's `response`), so no cell
//! can start a spreadsheet formula that a respondent wrote; names come from administrators
//! and the catalogue.
//!
//! # The workbook
//!
//! [`workbook_xlsx`] writes four sheets. "Summary" lays out annex IX part 2 for each
//! organisation given, one block under the other: the sheet title, the organisation and
//! round, the printed column headings, then a row per component with the pillar label and
//! the pillar stage merged down the pillar's rows (a "Validated stage" column is added when
//! any component has one), and the caller's notes (such as the pillar rule) under the
//! table. "Answers" is the CSV's table with numbers as numbers. "Outcome answers" holds the
//! senior managers' answers per outcome area with the components annex III links to it.
//! "Flags" lists each flag with its trigger and interview prompt. A text longer than a cell
//! can hold (32,767 characters) is cut and ends with [`TRUNCATION_MARK`].

use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError};

/// The CSV header, in order. Also the column headings of the workbook's "Answers" sheet.
pub const CSV_COLUMNS: [&str; 15] = [
    "round_id",
    "organisation_id",
    "organisation_name",
    "pillar",
    "component",
    "component_name",
    "self_assessed_stage",
    "validated_stage",
    "evidence_documents",
    "evidence_persons",
    "activities_rated",
    "activity_mean",
    "answered",
    "required",
    "flags",
];

/// Column headings of the workbook's "Outcome answers" sheet.
pub const OUTCOME_COLUMNS: [&str; 10] = [
    "round_id",
    "organisation_id",
    "organisation_name",
    "outcome_area",
    "outcome_area_name",
    "respondent",
    "question_id",
    "question",
    "answer",
    "linked_components",
];

/// Column headings of the workbook's "Flags" sheet.
pub const FLAG_COLUMNS: [&str; 7] = [
    "round_id",
    "organisation_id",
    "organisation_name",
    "code",
    "component",
    "trigger",
    "interview_prompt",
];

/// Heading of the summary sheet's extra column, present when any component has a
/// validated stage.
pub const VALIDATED_HEADING: &str = "Validated stage";

/// What a cut text ends with.
pub const TRUNCATION_MARK: &str = " […]";

/// Excel's limit on the characters of one cell.
const MAX_CELL_CHARS: usize = 32_767;

/// One organisation × component row of the CSV and of the "Answers" sheet. The fields are
/// the columns of [`CSV_COLUMNS`], in order; see the module documentation for each.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnswerRow {
    /// The round's id.
    pub round_id: String,
    /// The organisation's id.
    pub organisation_id: String,
    /// The organisation's display name.
    pub organisation_name: String,
    /// The pillar number, e.g. `2`.
    pub pillar: u8,
    /// The component id, e.g. `2.3`.
    pub component: String,
    /// The component's name.
    pub component_name: String,
    /// The self-assessed stage, when one is selected.
    pub self_assessed_stage: Option<u8>,
    /// The validated stage, when one is recorded.
    pub validated_stage: Option<u8>,
    /// Documents cited as evidence.
    pub evidence_documents: u32,
    /// People named as evidence.
    pub evidence_persons: u32,
    /// Activities with a rating.
    pub activities_rated: u32,
    /// The mean activity rating, when any activity is rated. A value that is not finite
    /// is written as empty.
    pub activity_mean: Option<f64>,
    /// Required questions answered.
    pub answered: u32,
    /// Required questions.
    pub required: u32,
    /// Codes of the flags raised on the component, e.g. `EVIDENCE_MISSING`.
    pub flags: Vec<String>,
}

/// Everything the workbook holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkbookInput {
    /// One annex IX part 2 block per organisation, stacked on the "Summary" sheet in order.
    pub summaries: Vec<SummarySheetInput>,
    /// The rows of the "Answers" sheet.
    pub answers: Vec<AnswerRow>,
    /// The rows of the "Outcome answers" sheet.
    pub outcome_answers: Vec<OutcomeAnswerRow>,
    /// The rows of the "Flags" sheet.
    pub flags: Vec<FlagRow>,
}

/// One organisation's summary sheet (annex IX part 2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SummarySheetInput {
    /// The sheet title as printed in the catalogue
    /// ("PART 2: SUMMARY SHEET FOR ORGANIZATIONAL PROFILE FOR STAGES OF DEVELOPMENT").
    pub title: String,
    /// The four column headings as printed: pillars, components, component stage, pillar
    /// stage.
    pub columns: [String; 4],
    /// The organisation's display name.
    pub organisation: String,
    /// The round's display name.
    pub round: String,
    /// The pillars in the sheet's order.
    pub pillars: Vec<SummaryPillar>,
    /// Lines written under the table, e.g. the rule that gave the pillar stages.
    pub notes: Vec<String>,
}

/// A pillar of the summary sheet.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SummaryPillar {
    /// The pillar label as printed, e.g. "Pillar 1 - RBM Conceptual Foundation".
    pub label: String,
    /// The pillar stage by the round's rule; `None` when it cannot be given.
    pub stage: Option<u8>,
    /// The pillar's rows in the sheet's order.
    pub components: Vec<SummaryComponent>,
}

/// A component row of the summary sheet.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SummaryComponent {
    /// The component label as printed, e.g. "2.1 Corporate strategic results framework".
    pub label: String,
    /// The self-assessed stage; `None` is written as "not answered".
    pub stage: Option<u8>,
    /// The validated stage, when one is recorded.
    pub validated_stage: Option<u8>,
}

/// One senior manager's answer to one question of an outcome area.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutcomeAnswerRow {
    /// The round's id.
    pub round_id: String,
    /// The organisation's id.
    pub organisation_id: String,
    /// The organisation's display name.
    pub organisation_name: String,
    /// The outcome area's id, e.g. `qcpr-1`.
    pub outcome_area: String,
    /// The outcome area's name, e.g. "Accountability".
    pub outcome_area_name: String,
    /// The senior manager who answered.
    pub respondent: String,
    /// The question's id.
    pub question_id: String,
    /// The question as asked.
    pub question: String,
    /// The answer; empty when not answered.
    pub answer: String,
    /// The components annex III links to the area, each as the caller wants it shown
    /// (e.g. "1.3 Accountability framework: stage 2"); joined with "; " in the sheet.
    pub linked_components: Vec<String>,
}

/// One consistency flag.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagRow {
    /// The round's id.
    pub round_id: String,
    /// The organisation's id.
    pub organisation_id: String,
    /// The organisation's display name.
    pub organisation_name: String,
    /// The flag's stable code, e.g. `EVIDENCE_MISSING`.
    pub code: String,
    /// What the flag is about: a component id, a pillar for pillar-wide flags, or `None`
    /// for the organisation as a whole.
    pub component: Option<String>,
    /// What raised the flag, in words.
    pub trigger: String,
    /// The interview prompt (annex IX part 3) the flag calls for.
    pub interview_prompt: String,
}

/// Why the workbook could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The XLSX writer refused the content.
    #[error("cannot write the workbook")]
    Xlsx(#[from] XlsxError),
}

// --- CSV -----------------------------------------------------------------------------

/// The long-format CSV of `rows`: the header of [`CSV_COLUMNS`] and one line per row, in
/// the order given. See the module documentation for the columns and the quoting.
pub fn answers_csv(rows: &[AnswerRow]) -> String {
    let mut out = String::with_capacity(128 * (rows.len() + 1));
    push_record(&mut out, CSV_COLUMNS.iter().copied());
    for row in rows {
        let fields = answer_fields(row);
        push_record(&mut out, fields.iter().map(String::as_str));
    }
    out
}

/// A row's fields as CSV text, in [`CSV_COLUMNS`] order.
fn answer_fields(row: &AnswerRow) -> [String; 15] {
    let stage = |stage: Option<u8>| stage.map(|s| s.to_string()).unwrap_or_default();
    [
        row.round_id.clone(),
        row.organisation_id.clone(),
        row.organisation_name.clone(),
        row.pillar.to_string(),
        row.component.clone(),
        row.component_name.clone(),
        stage(row.self_assessed_stage),
        stage(row.validated_stage),
        row.evidence_documents.to_string(),
        row.evidence_persons.to_string(),
        row.activities_rated.to_string(),
        finite(row.activity_mean)
            .map(|mean| format!("{mean:.2}"))
            .unwrap_or_default(),
        row.answered.to_string(),
        row.required.to_string(),
        row.flags.join(";"),
    ]
}

/// `value` when it is a finite number.
fn finite(value: Option<f64>) -> Option<f64> {
    value.filter(|v| v.is_finite())
}

/// Appends one CSV record and its CRLF.
fn push_record<'a>(out: &mut String, fields: impl Iterator<Item = &'a str>) {
    for (index, field) in fields.enumerate() {
        if index > 0 {
            out.push(',');
        }
        if field.contains([',', '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    out.push_str("\r\n");
}

// --- XLSX ----------------------------------------------------------------------------

/// The workbook of `input` as XLSX bytes, with the sheets "Summary", "Answers", "Outcome
/// answers" and "Flags" in that order. See the module documentation for their layout.
///
/// # Errors
/// [`ExportError::Xlsx`] when the writer refuses the content, e.g. more rows than a sheet
/// holds (1,048,576).
pub fn workbook_xlsx(input: &WorkbookInput) -> Result<Vec<u8>, ExportError> {
    let formats = Formats::new();
    let mut workbook = Workbook::new();

    let sheet = workbook.add_worksheet();
    sheet.set_name("Summary")?;
    write_summaries(sheet, &input.summaries, &formats)?;

    let sheet = workbook.add_worksheet();
    sheet.set_name("Answers")?;
    write_answers(sheet, &input.answers, &formats)?;

    let sheet = workbook.add_worksheet();
    sheet.set_name("Outcome answers")?;
    write_outcome_answers(sheet, &input.outcome_answers, &formats)?;

    let sheet = workbook.add_worksheet();
    sheet.set_name("Flags")?;
    write_flags(sheet, &input.flags, &formats)?;

    Ok(workbook.save_to_buffer()?)
}

/// The cell formats the sheets share.
struct Formats {
    title: Format,
    label: Format,
    heading: Format,
    bordered: Format,
    bordered_stage: Format,
    merged: Format,
    merged_stage: Format,
    not_answered: Format,
    note: Format,
    wrapped: Format,
    mean: Format,
}

impl Formats {
    fn new() -> Self {
        let bordered = Format::new()
            .set_border(FormatBorder::Thin)
            .set_align(FormatAlign::VerticalCenter);
        let stage = bordered.clone().set_align(FormatAlign::Center);
        Self {
            title: Format::new().set_bold().set_font_size(12),
            label: Format::new().set_bold(),
            heading: Format::new()
                .set_bold()
                .set_text_wrap()
                .set_border(FormatBorder::Thin)
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_background_color("#E7E6E6"),
            bordered_stage: stage.clone(),
            merged: bordered.clone().set_text_wrap().set_bold(),
            merged_stage: stage.clone().set_bold(),
            not_answered: stage.set_italic(),
            bordered,
            note: Format::new().set_italic(),
            wrapped: Format::new().set_text_wrap().set_align(FormatAlign::Top),
            mean: Format::new().set_num_format("0.00"),
        }
    }
}

/// The "Summary" sheet: one annex IX part 2 block per organisation.
fn write_summaries(
    sheet: &mut Worksheet,
    summaries: &[SummarySheetInput],
    formats: &Formats,
) -> Result<(), XlsxError> {
    sheet.set_column_width(0, 34)?;
    sheet.set_column_width(1, 52)?;
    sheet.set_column_width(2, 14)?;
    sheet.set_column_width(3, 14)?;
    sheet.set_column_width(4, 14)?;
    sheet.set_landscape();
    sheet.set_print_fit_to_pages(1, 0);

    let mut row: u32 = 0;
    for summary in summaries {
        row = write_summary(sheet, summary, formats, row)? + 2;
    }
    Ok(())
}

/// One organisation's block from `first_row`; returns the last row written.
fn write_summary(
    sheet: &mut Worksheet,
    summary: &SummarySheetInput,
    formats: &Formats,
    first_row: u32,
) -> Result<u32, XlsxError> {
    let with_validated = summary
        .pillars
        .iter()
        .flat_map(|p| &p.components)
        .any(|c| c.validated_stage.is_some());
    let mut row = first_row;
    sheet.write_string_with_format(row, 0, cell_text(&summary.title), &formats.title)?;
    row += 1;
    sheet.write_string_with_format(row, 0, "Organisation", &formats.label)?;
    sheet.write_string(row, 1, cell_text(&summary.organisation))?;
    row += 1;
    sheet.write_string_with_format(row, 0, "Round", &formats.label)?;
    sheet.write_string(row, 1, cell_text(&summary.round))?;
    row += 2;

    for (col, heading) in (0u16..).zip(&summary.columns) {
        sheet.write_string_with_format(row, col, cell_text(heading), &formats.heading)?;
    }
    if with_validated {
        sheet.write_string_with_format(row, 4, VALIDATED_HEADING, &formats.heading)?;
    }
    row += 1;

    for pillar in &summary.pillars {
        let height = u32::try_from(pillar.components.len().max(1)).unwrap_or(u32::MAX);
        let last = row.saturating_add(height - 1);
        // The pillar label and pillar stage span the pillar's rows, as printed.
        if last > row {
            sheet.merge_range(row, 0, last, 0, &cell_text(&pillar.label), &formats.merged)?;
            sheet.merge_range(row, 3, last, 3, "", &formats.merged_stage)?;
        } else {
            sheet.write_string_with_format(row, 0, cell_text(&pillar.label), &formats.merged)?;
            sheet.write_blank(row, 3, &formats.merged_stage)?;
        }
        if let Some(stage) = pillar.stage {
            sheet.write_number_with_format(row, 3, stage, &formats.merged_stage)?;
        }
        if pillar.components.is_empty() {
            sheet.write_blank(row, 1, &formats.bordered)?;
            sheet.write_blank(row, 2, &formats.bordered_stage)?;
        }
        for (offset, component) in (0u32..).zip(&pillar.components) {
            let at = row + offset;
            sheet.write_string_with_format(
                at,
                1,
                cell_text(&component.label),
                &formats.bordered,
            )?;
            write_stage(sheet, at, 2, component.stage, formats, true)?;
            if with_validated {
                write_stage(sheet, at, 4, component.validated_stage, formats, false)?;
            }
        }
        row = last + 1;
    }

    let mut last = row - 1;
    for note in &summary.notes {
        last += 1;
        sheet.write_string_with_format(last, 0, cell_text(note), &formats.note)?;
    }
    Ok(last)
}

/// A stage cell of the summary: the number, or "not answered" (or blank when
/// `say_unanswered` is false).
fn write_stage(
    sheet: &mut Worksheet,
    row: u32,
    col: u16,
    stage: Option<u8>,
    formats: &Formats,
    say_unanswered: bool,
) -> Result<(), XlsxError> {
    match stage {
        Some(stage) => {
            sheet.write_number_with_format(row, col, stage, &formats.bordered_stage)?;
        }
        None if say_unanswered => {
            sheet.write_string_with_format(row, col, "not answered", &formats.not_answered)?;
        }
        None => {
            sheet.write_blank(row, col, &formats.bordered_stage)?;
        }
    }
    Ok(())
}

/// Writes bold headings in row 0, freezes them and sets the column widths.
fn write_headings(
    sheet: &mut Worksheet,
    headings: &[&str],
    widths: &[f64],
    formats: &Formats,
) -> Result<(), XlsxError> {
    for ((col, heading), width) in (0u16..).zip(headings).zip(widths) {
        sheet.write_string_with_format(0, col, *heading, &formats.heading)?;
        sheet.set_column_width(col, *width)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    Ok(())
}

/// Adds an autofilter over the table when it has rows.
fn filter(sheet: &mut Worksheet, rows: usize, columns: usize) -> Result<(), XlsxError> {
    if rows > 0 {
        let last_row = u32::try_from(rows).map_err(|_| XlsxError::RowColumnLimitError)?;
        let last_col = u16::try_from(columns - 1).map_err(|_| XlsxError::RowColumnLimitError)?;
        sheet.autofilter(0, 0, last_row, last_col)?;
    }
    Ok(())
}

/// The "Answers" sheet: the CSV's table, numbers as numbers, blanks for none.
fn write_answers(
    sheet: &mut Worksheet,
    rows: &[AnswerRow],
    formats: &Formats,
) -> Result<(), XlsxError> {
    let widths = [
        14.0, 16.0, 28.0, 7.0, 10.0, 40.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 30.0,
    ];
    write_headings(sheet, &CSV_COLUMNS, &widths, formats)?;
    for (row, answer) in (1u32..).zip(rows) {
        sheet.write_string(row, 0, cell_text(&answer.round_id))?;
        sheet.write_string(row, 1, cell_text(&answer.organisation_id))?;
        sheet.write_string(row, 2, cell_text(&answer.organisation_name))?;
        sheet.write_number(row, 3, answer.pillar)?;
        sheet.write_string(row, 4, cell_text(&answer.component))?;
        sheet.write_string(row, 5, cell_text(&answer.component_name))?;
        if let Some(stage) = answer.self_assessed_stage {
            sheet.write_number(row, 6, stage)?;
        }
        if let Some(stage) = answer.validated_stage {
            sheet.write_number(row, 7, stage)?;
        }
        sheet.write_number(row, 8, answer.evidence_documents)?;
        sheet.write_number(row, 9, answer.evidence_persons)?;
        sheet.write_number(row, 10, answer.activities_rated)?;
        if let Some(mean) = finite(answer.activity_mean) {
            sheet.write_number_with_format(row, 11, mean, &formats.mean)?;
        }
        sheet.write_number(row, 12, answer.answered)?;
        sheet.write_number(row, 13, answer.required)?;
        if !answer.flags.is_empty() {
            sheet.write_string(row, 14, cell_text(&answer.flags.join(";")))?;
        }
    }
    filter(sheet, rows.len(), CSV_COLUMNS.len())
}

/// The "Outcome answers" sheet.
fn write_outcome_answers(
    sheet: &mut Worksheet,
    rows: &[OutcomeAnswerRow],
    formats: &Formats,
) -> Result<(), XlsxError> {
    let widths = [14.0, 16.0, 28.0, 12.0, 30.0, 24.0, 16.0, 50.0, 70.0, 40.0];
    write_headings(sheet, &OUTCOME_COLUMNS, &widths, formats)?;
    for (row, answer) in (1u32..).zip(rows) {
        sheet.write_string(row, 0, cell_text(&answer.round_id))?;
        sheet.write_string(row, 1, cell_text(&answer.organisation_id))?;
        sheet.write_string(row, 2, cell_text(&answer.organisation_name))?;
        sheet.write_string(row, 3, cell_text(&answer.outcome_area))?;
        sheet.write_string(row, 4, cell_text(&answer.outcome_area_name))?;
        sheet.write_string(row, 5, cell_text(&answer.respondent))?;
        sheet.write_string(row, 6, cell_text(&answer.question_id))?;
        sheet.write_string_with_format(row, 7, cell_text(&answer.question), &formats.wrapped)?;
        sheet.write_string_with_format(row, 8, cell_text(&answer.answer), &formats.wrapped)?;
        sheet.write_string_with_format(
            row,
            9,
            cell_text(&answer.linked_components.join("; ")),
            &formats.wrapped,
        )?;
    }
    filter(sheet, rows.len(), OUTCOME_COLUMNS.len())
}

/// The "Flags" sheet.
fn write_flags(
    sheet: &mut Worksheet,
    rows: &[FlagRow],
    formats: &Formats,
) -> Result<(), XlsxError> {
    let widths = [14.0, 16.0, 28.0, 28.0, 12.0, 50.0, 70.0];
    write_headings(sheet, &FLAG_COLUMNS, &widths, formats)?;
    for (row, flag) in (1u32..).zip(rows) {
        sheet.write_string(row, 0, cell_text(&flag.round_id))?;
        sheet.write_string(row, 1, cell_text(&flag.organisation_id))?;
        sheet.write_string(row, 2, cell_text(&flag.organisation_name))?;
        sheet.write_string(row, 3, cell_text(&flag.code))?;
        if let Some(component) = &flag.component {
            sheet.write_string(row, 4, cell_text(component))?;
        }
        sheet.write_string_with_format(row, 5, cell_text(&flag.trigger), &formats.wrapped)?;
        sheet.write_string_with_format(
            row,
            6,
            cell_text(&flag.interview_prompt),
            &formats.wrapped,
        )?;
    }
    filter(sheet, rows.len(), FLAG_COLUMNS.len())
}

/// `text` as a cell can hold it: at most 32,767 characters, ending in [`TRUNCATION_MARK`]
/// when cut.
fn cell_text(text: &str) -> String {
    if text.chars().count() <= MAX_CELL_CHARS {
        return text.to_owned();
    }
    let keep = MAX_CELL_CHARS - TRUNCATION_MARK.chars().count();
    let mut cut: String = text.chars().take(keep).collect();
    cut.push_str(TRUNCATION_MARK);
    cut
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};

    use super::*;

    fn answer(organisation: &str, name: &str, component: &str, stage: Option<u8>) -> AnswerRow {
        AnswerRow {
            round_id: "round-2026".into(),
            organisation_id: organisation.into(),
            organisation_name: name.into(),
            pillar: component[..1].parse().expect("pillar"),
            component: component.into(),
            component_name: format!("Component {component}"),
            self_assessed_stage: stage,
            validated_stage: None,
            evidence_documents: 2,
            evidence_persons: 1,
            activities_rated: 3,
            activity_mean: Some(7.0 / 3.0),
            answered: 5,
            required: 5,
            flags: Vec::new(),
        }
    }

    fn tricky_rows() -> Vec<AnswerRow> {
        let mut first = answer("org-1", "Fund, \"Quoted\"\nSecond line", "1.1", Some(3));
        first.flags = vec!["EVIDENCE_MISSING".into(), "PEER_OUTLIER".into()];
        first.validated_stage = Some(2);
        let mut second = answer("org-2", "Plain Agency", "2.3", None);
        second.activity_mean = None;
        second.activities_rated = 0;
        second.answered = 1;
        let mut third = answer("org-3", "Carriage\rReturn", "5.2", Some(5));
        third.activity_mean = Some(f64::NAN);
        vec![first, second, third]
    }

    #[test]
    fn csv_header_and_plain_row_are_exact() {
        let csv = answers_csv(&tricky_rows()[1..2]);
        assert_eq!(
            csv,
            "round_id,organisation_id,organisation_name,pillar,component,component_name,\
             self_assessed_stage,validated_stage,evidence_documents,evidence_persons,\
             activities_rated,activity_mean,answered,required,flags\r\n\
             round-2026,org-2,Plain Agency,2,2.3,Component 2.3,,,2,1,0,,1,5,\r\n"
        );
    }

    #[test]
    fn csv_quotes_commas_quotes_and_line_breaks_and_reads_back() {
        let rows = tricky_rows();
        let csv = answers_csv(&rows);
        assert!(csv.contains("\"Fund, \"\"Quoted\"\"\nSecond line\""));
        assert!(csv.contains("\"Carriage\rReturn\""));

        let mut reader = csv::ReaderBuilder::new().from_reader(csv.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .expect("header")
            .iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(header, CSV_COLUMNS);
        let records: Vec<csv::StringRecord> =
            reader.records().collect::<Result<_, _>>().expect("records");
        assert_eq!(records.len(), 3);
        assert!(records.iter().all(|r| r.len() == CSV_COLUMNS.len()));

        let first = &records[0];
        assert_eq!(&first[2], "Fund, \"Quoted\"\nSecond line");
        assert_eq!(&first[3], "1");
        assert_eq!(&first[4], "1.1");
        assert_eq!(&first[6], "3");
        assert_eq!(&first[7], "2");
        assert_eq!(&first[11], "2.33");
        assert_eq!(&first[14], "EVIDENCE_MISSING;PEER_OUTLIER");

        let second = &records[1];
        assert_eq!(&second[6], "");
        assert_eq!(&second[11], "");
        assert_eq!(&second[12], "1");

        let third = &records[2];
        assert_eq!(&third[2], "Carriage\rReturn");
        assert_eq!(&third[11], "", "a mean that is not finite is empty");
    }

    fn summary(organisation: &str) -> SummarySheetInput {
        SummarySheetInput {
            title: "PART 2: SUMMARY SHEET FOR ORGANIZATIONAL PROFILE FOR STAGES OF DEVELOPMENT"
                .into(),
            columns: [
                "Pillars".into(),
                "Components".into(),
                "Stages- Component".into(),
                "Stages - Pillars".into(),
            ],
            organisation: organisation.into(),
            round: "JIU RBM 2026".into(),
            pillars: vec![
                SummaryPillar {
                    label: "Pillar 1 - RBM Conceptual Foundation".into(),
                    stage: Some(2),
                    components: vec![
                        SummaryComponent {
                            label: "1.1 Conceptual Foundation".into(),
                            stage: Some(3),
                            validated_stage: None,
                        },
                        SummaryComponent {
                            label: "1.2 Accountability Framework".into(),
                            stage: Some(2),
                            validated_stage: Some(1),
                        },
                        SummaryComponent {
                            label: "1.3 Change Management Framework".into(),
                            stage: None,
                            validated_stage: None,
                        },
                    ],
                },
                SummaryPillar {
                    label: "Pillar 5- Collective accountability for results and results reporting"
                        .into(),
                    stage: None,
                    components: vec![SummaryComponent {
                        label: "5.1 UN coherence for outcome achievement".into(),
                        stage: Some(4),
                        validated_stage: None,
                    }],
                },
            ],
            notes: vec!["Pillar stage: median of the pillar's components, rounded down.".into()],
        }
    }

    fn workbook_input() -> WorkbookInput {
        let mut second = summary("Plain Agency");
        for component in second.pillars.iter_mut().flat_map(|p| &mut p.components) {
            component.validated_stage = None;
        }
        WorkbookInput {
            summaries: vec![summary("Fund & Programme"), second],
            answers: tricky_rows(),
            outcome_answers: vec![OutcomeAnswerRow {
                round_id: "round-2026".into(),
                organisation_id: "org-1".into(),
                organisation_name: "Fund & Programme".into(),
                outcome_area: "qcpr-1".into(),
                outcome_area_name: "Accountability".into(),
                respondent: "A. Manager".into(),
                question_id: "qcpr-1.q1".into(),
                question: "How has RBM changed accountability?".into(),
                answer: "=SUM(A1:A2) is text, not a formula".into(),
                linked_components: vec![
                    "1.3 Accountability framework: stage 2".into(),
                    "3.2 Results reporting: stage 3".into(),
                ],
            }],
            flags: vec![
                FlagRow {
                    round_id: "round-2026".into(),
                    organisation_id: "org-1".into(),
                    organisation_name: "Fund & Programme".into(),
                    code: "EVIDENCE_MISSING".into(),
                    component: Some("1.1".into()),
                    trigger: "stage 3 with no documented evidence".into(),
                    interview_prompt: "Understand the evidence used when making judgments and \
                                       ensure consistency in ratings with the evidence used"
                        .into(),
                },
                FlagRow {
                    component: None,
                    code: "INCOMPLETE".into(),
                    ..FlagRow::default()
                },
            ],
        }
    }

    fn read_back(bytes: Vec<u8>) -> Xlsx<Cursor<Vec<u8>>> {
        open_workbook_from_rs(Cursor::new(bytes)).expect("calamine reads the workbook")
    }

    fn string(value: Option<&Data>) -> &str {
        match value {
            Some(Data::String(text)) => text,
            other => panic!("expected a string, found {other:?}"),
        }
    }

    fn number(value: Option<&Data>) -> f64 {
        match value {
            Some(Data::Float(number)) => *number,
            Some(Data::Int(number)) => *number as f64,
            other => panic!("expected a number, found {other:?}"),
        }
    }

    fn is_empty(value: Option<&Data>) -> bool {
        matches!(value, None | Some(Data::Empty))
    }

    #[test]
    fn workbook_has_the_four_sheets_in_order() {
        let bytes = workbook_xlsx(&workbook_input()).expect("workbook");
        let workbook = read_back(bytes);
        assert_eq!(
            workbook.sheet_names(),
            ["Summary", "Answers", "Outcome answers", "Flags"]
        );
    }

    #[test]
    fn summary_sheet_is_laid_out_like_annex_ix_part_2() {
        let bytes = workbook_xlsx(&workbook_input()).expect("workbook");
        let mut workbook = read_back(bytes);
        let sheet = workbook.worksheet_range("Summary").expect("Summary");
        let cell = |row: u32, col: u32| sheet.get_value((row, col));

        assert_eq!(
            string(cell(0, 0)),
            "PART 2: SUMMARY SHEET FOR ORGANIZATIONAL PROFILE FOR STAGES OF DEVELOPMENT"
        );
        assert_eq!(string(cell(1, 0)), "Organisation");
        assert_eq!(string(cell(1, 1)), "Fund & Programme");
        assert_eq!(string(cell(2, 1)), "JIU RBM 2026");
        let headings: Vec<&str> = (0..5).map(|col| string(cell(4, col))).collect();
        assert_eq!(
            headings,
            [
                "Pillars",
                "Components",
                "Stages- Component",
                "Stages - Pillars",
                "Validated stage"
            ]
        );
        // Pillar 1: label and pillar stage on its first row, merged down three rows.
        assert_eq!(string(cell(5, 0)), "Pillar 1 - RBM Conceptual Foundation");
        assert_eq!(number(cell(5, 3)), 2.0);
        assert_eq!(string(cell(5, 1)), "1.1 Conceptual Foundation");
        assert_eq!(number(cell(5, 2)), 3.0);
        assert!(is_empty(cell(5, 4)));
        assert_eq!(number(cell(6, 2)), 2.0);
        assert_eq!(number(cell(6, 4)), 1.0);
        assert_eq!(string(cell(7, 1)), "1.3 Change Management Framework");
        assert_eq!(string(cell(7, 2)), "not answered");
        assert!(is_empty(cell(6, 0)) && is_empty(cell(7, 0)));
        // Pillar 5: one row, no pillar stage.
        assert_eq!(
            string(cell(8, 0)),
            "Pillar 5- Collective accountability for results and results reporting"
        );
        assert_eq!(number(cell(8, 2)), 4.0);
        assert!(is_empty(cell(8, 3)));
        assert_eq!(
            string(cell(9, 0)),
            "Pillar stage: median of the pillar's components, rounded down."
        );
        // The second organisation starts after one blank row and has no validated column.
        assert!(is_empty(cell(10, 0)));
        assert_eq!(string(cell(11, 0)), sheet_title());
        assert_eq!(string(cell(12, 1)), "Plain Agency");
        assert_eq!(string(cell(15, 3)), "Stages - Pillars");
        assert!(is_empty(cell(15, 4)));
        assert_eq!(number(cell(16, 3)), 2.0);

        let mut merged: Vec<(u32, u32, u32, u32)> = workbook
            .merge_cells_by_sheet_name("Summary")
            .expect("merged regions")
            .iter()
            .map(|d| (d.start.0, d.start.1, d.end.0, d.end.1))
            .collect();
        merged.sort_unstable();
        assert_eq!(
            merged,
            [(5, 0, 7, 0), (5, 3, 7, 3), (16, 0, 18, 0), (16, 3, 18, 3)]
        );
    }

    fn sheet_title() -> &'static str {
        "PART 2: SUMMARY SHEET FOR ORGANIZATIONAL PROFILE FOR STAGES OF DEVELOPMENT"
    }

    #[test]
    fn answers_sheet_holds_the_csv_table_with_numbers() {
        let bytes = workbook_xlsx(&workbook_input()).expect("workbook");
        let mut workbook = read_back(bytes);
        let sheet = workbook.worksheet_range("Answers").expect("Answers");
        let cell = |row: u32, col: u32| sheet.get_value((row, col));
        let headings: Vec<&str> = (0..15).map(|col| string(cell(0, col))).collect();
        assert_eq!(headings, CSV_COLUMNS);
        assert_eq!(string(cell(1, 2)), "Fund, \"Quoted\"\nSecond line");
        assert_eq!(number(cell(1, 3)), 1.0);
        assert_eq!(number(cell(1, 6)), 3.0);
        assert_eq!(number(cell(1, 7)), 2.0);
        assert!((number(cell(1, 11)) - 7.0 / 3.0).abs() < 1e-12);
        assert_eq!(string(cell(1, 14)), "EVIDENCE_MISSING;PEER_OUTLIER");
        assert!(is_empty(cell(2, 6)));
        assert!(is_empty(cell(2, 11)));
        assert_eq!(number(cell(2, 12)), 1.0);
        assert!(is_empty(cell(3, 11)));
        assert_eq!(string(cell(3, 4)), "5.2");
    }

    #[test]
    fn outcome_and_flag_sheets_hold_their_rows() {
        let bytes = workbook_xlsx(&workbook_input()).expect("workbook");
        let mut workbook = read_back(bytes);

        let outcomes = workbook
            .worksheet_range("Outcome answers")
            .expect("Outcome answers");
        let headings: Vec<&str> = (0..10)
            .map(|col| string(outcomes.get_value((0, col))))
            .collect();
        assert_eq!(headings, OUTCOME_COLUMNS);
        assert_eq!(string(outcomes.get_value((1, 3))), "qcpr-1");
        assert_eq!(string(outcomes.get_value((1, 5))), "A. Manager");
        assert_eq!(
            string(outcomes.get_value((1, 8))),
            "=SUM(A1:A2) is text, not a formula"
        );
        assert_eq!(
            string(outcomes.get_value((1, 9))),
            "1.3 Accountability framework: stage 2; 3.2 Results reporting: stage 3"
        );

        let flags = workbook.worksheet_range("Flags").expect("Flags");
        let headings: Vec<&str> = (0..7)
            .map(|col| string(flags.get_value((0, col))))
            .collect();
        assert_eq!(headings, FLAG_COLUMNS);
        assert_eq!(string(flags.get_value((1, 3))), "EVIDENCE_MISSING");
        assert_eq!(string(flags.get_value((1, 4))), "1.1");
        assert_eq!(
            string(flags.get_value((1, 5))),
            "stage 3 with no documented evidence"
        );
        assert!(string(flags.get_value((1, 6))).starts_with("Understand the evidence used"));
        assert_eq!(string(flags.get_value((2, 3))), "INCOMPLETE");
        assert!(is_empty(flags.get_value((2, 4))));
    }

    #[test]
    fn an_empty_workbook_still_has_its_sheets_and_headings() {
        let bytes = workbook_xlsx(&WorkbookInput::default()).expect("workbook");
        let mut workbook = read_back(bytes);
        assert_eq!(workbook.sheet_names().len(), 4);
        let flags = workbook.worksheet_range("Flags").expect("Flags");
        assert_eq!(string(flags.get_value((0, 0))), "round_id");
    }

    #[test]
    fn texts_longer_than_a_cell_are_cut_with_a_mark() {
        let long = "é".repeat(MAX_CELL_CHARS + 10);
        let cut = cell_text(&long);
        assert_eq!(cut.chars().count(), MAX_CELL_CHARS);
        assert!(cut.ends_with(TRUNCATION_MARK));
        assert_eq!(cell_text("short"), "short");

        let mut input = workbook_input();
        input.outcome_answers[0].answer = long;
        let bytes = workbook_xlsx(&input).expect("a long answer is cut, not refused");
        let mut workbook = read_back(bytes);
        let outcomes = workbook
            .worksheet_range("Outcome answers")
            .expect("Outcome answers");
        let answer = string(outcomes.get_value((1, 8)));
        assert_eq!(answer.chars().count(), MAX_CELL_CHARS);
        assert!(answer.ends_with(TRUNCATION_MARK));
    }
}
