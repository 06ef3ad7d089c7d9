//! SVG charts of stages of development: one organisation's configuration and the heatmap
//! of a round's matrix.
//!
//! The charts are written by hand as SVG text, so they need no charting library and come
//! out the same on every machine (the committed pictures in `docs/charts/` are checked
//! against this code by a test). Both are meant to be printed: they never rely on colour
//! alone. Stages are drawn as bars with their number printed beside them, a validated stage
//! as an outlined diamond, and an unanswered component as the words "not answered" (or an
//! en dash in the heatmap); shades are grey steps that keep their order in black and white,
//! and each chart carries a legend, a `<title>` and a `<desc>` that states its content in
//! words.
//!
//! This module draws what it is given and nothing more: it computes no stage, rule or
//! flag, reads no catalogue and does no IO. Its inputs are plain data filled by the
//! caller. Every label is XML-escaped, and characters that XML cannot carry are replaced by
//! U+FFFD, so any organisation or component name makes a well-formed document.

use std::fmt::{self, Write as _};

/// Width of both charts in SVG user units: A4 paper width (210 mm) at 96 units per inch.
pub const CHART_WIDTH: u32 = 794;

/// Stages run from 1 to this value.
const MAX_STAGE: u8 = 5;
/// Margin on the left and right of both charts.
const MARGIN: f64 = 24.0;
/// The font stack; DejaVu Sans first, as it is what Debian installs and the render test uses.
const FONT_FAMILY: &str = "DejaVu Sans, Verdana, Arial, Helvetica, sans-serif";
/// Average advance of a character as a share of the font size. DejaVu Sans is wide, so
/// this errs on the wide side: wrapped labels then never overrun their column.
const CHAR_WIDTH_EM: f64 = 0.6;

/// Fill of a self-assessed bar: a mid blue that prints as a mid grey, so black text and
/// the white validated marker stay legible on it.
const SELF_ASSESSED_FILL: &str = "#8fa9c9";

/// Writes into a `String`, which cannot fail.
macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

// --- input ---------------------------------------------------------------------------

/// What [`configuration_chart`] draws: one organisation's stages in one round.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigurationChartInput {
    /// The chart title, e.g. "Configuration profile".
    pub title: String,
    /// The organisation's display name.
    pub organisation: String,
    /// The round's display name, e.g. "JIU RBM 2026".
    pub round: String,
    /// The pillars in display order, each with its components in display order.
    pub pillars: Vec<ChartPillar>,
}

/// A pillar of the configuration chart: a labelled group of component rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChartPillar {
    /// The pillar number as printed, e.g. `1`.
    pub id: String,
    /// The pillar name, e.g. "Results-based management conceptual foundation".
    pub name: String,
    /// A line printed under the pillar name when present, e.g. the pillar stage and the
    /// rule that gave it ("Pillar stage 3 (median, rounded down); range 2–4").
    pub note: Option<String>,
    /// The pillar's components in display order.
    pub components: Vec<ChartComponent>,
}

/// A component row of the configuration chart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChartComponent {
    /// The component id, e.g. `1.1`.
    pub id: String,
    /// The component name.
    pub name: String,
    /// The self-assessed stage (1–5); `None` when the organisation has not selected one.
    /// A value outside 1–5 is printed as given and its bar is cut at the axis ends.
    pub self_assessed: Option<u8>,
    /// The validated stage (1–5) once a validator has recorded one.
    pub validated: Option<u8>,
}

/// What [`round_heatmap`] draws: the stages of a round's organisations on every component.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeatmapInput {
    /// The chart title, e.g. "Stages of development by organisation".
    pub title: String,
    /// The round's display name.
    pub round: String,
    /// The column groups: pillars in display order, each with its components.
    pub pillars: Vec<HeatmapPillar>,
    /// One row per organisation, top to bottom in the order given.
    pub rows: Vec<HeatmapRow>,
}

/// A column group of the heatmap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeatmapPillar {
    /// The pillar number as printed, e.g. `1`.
    pub id: String,
    /// The pillar name, printed in the key under the grid.
    pub name: String,
    /// The pillar's components, one column each.
    pub components: Vec<HeatmapColumn>,
}

/// A column of the heatmap: one component.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeatmapColumn {
    /// The component id, printed as the column heading, e.g. `2.3`.
    pub id: String,
    /// The component name, printed in the key under the grid.
    pub name: String,
}

/// A row of the heatmap: one organisation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeatmapRow {
    /// The organisation's display name.
    pub organisation: String,
    /// One stage per column, in column order (the pillars' components flattened in
    /// order); `None` for a component not answered. Missing trailing entries are drawn as
    /// not answered and entries beyond the last column are ignored.
    pub stages: Vec<Option<u8>>,
}

impl HeatmapInput {
    /// The columns in drawing order.
    fn columns(&self) -> impl Iterator<Item = &HeatmapColumn> {
        self.pillars.iter().flat_map(|p| p.components.iter())
    }
}

// --- configuration chart -------------------------------------------------------------

/// Layout of the configuration chart, in SVG user units.
mod configuration_layout {
    /// Left edge of the stage axis (stage 0).
    pub const PLOT_LEFT: f64 = 330.0;
    /// Width of one stage on the axis.
    pub const STAGE_WIDTH: f64 = 62.0;
    /// Centre of the "Self" value column.
    pub const SELF_COLUMN: f64 = 688.0;
    /// Centre of the "Validated" value column.
    pub const VALIDATED_COLUMN: f64 = 742.0;
    /// Height of a component row (two label lines).
    pub const ROW_HEIGHT: f64 = 30.0;
    /// Height of a pillar heading without and with its note.
    pub const PILLAR_HEIGHT: f64 = 24.0;
    /// Extra height of a pillar heading that has a note.
    pub const NOTE_HEIGHT: f64 = 14.0;
    /// Top of the first pillar heading.
    pub const PLOT_TOP: f64 = 142.0;
    /// Font size of component labels.
    pub const LABEL_FONT: f64 = 11.0;
    /// Half the width of the validated diamond.
    pub const DIAMOND: f64 = 7.0;
}

/// Draws one organisation's configuration: a row per component grouped under its pillar,
/// the self-assessed stage as a bar on a 1–5 axis with gridlines, the validated stage as an
/// outlined diamond, the values printed in two columns on the right, and "not answered"
/// where no stage was selected. Returns a standalone SVG document sized for A4 width.
pub fn configuration_chart(input: &ConfigurationChartInput) -> String {
    use configuration_layout::*;

    let plot_right = PLOT_LEFT + STAGE_WIDTH * f64::from(MAX_STAGE);
    let rows_height: f64 = input
        .pillars
        .iter()
        .map(|pillar| {
            PILLAR_HEIGHT
                + if pillar.note.is_some() {
                    NOTE_HEIGHT
                } else {
                    0.0
                }
                + ROW_HEIGHT * pillar.components.len() as f64
        })
        .sum();
    let plot_bottom = PLOT_TOP + rows_height;
    let height = (plot_bottom + 62.0).ceil();

    let mut out = String::with_capacity(16 * 1024);
    open_svg(
        &mut out,
        height,
        &input.title,
        &configuration_description(input),
    );
    header(
        &mut out,
        &input.title,
        &format!("{} · {}", input.organisation, input.round),
    );

    // Legend: the three ways a row can look.
    let legend_y = 86.0;
    put!(out, r#"<g class="legend" font-size="11">"#);
    put!(
        out,
        r#"<rect x="{MARGIN}" y="{}" width="34" height="12" fill="{SELF_ASSESSED_FILL}" stroke="black"/>"#,
        legend_y - 10.0
    );
    put!(
        out,
        r#"<text x="{}" y="{legend_y}">Self-assessed stage (bar)</text>"#,
        MARGIN + 40.0
    );
    diamond(&mut out, 262.0, legend_y - 4.0, "legend-validated");
    put!(
        out,
        r#"<text x="276" y="{legend_y}">Validated stage (diamond)</text>"#
    );
    put!(
        out,
        r##"<text x="472" y="{legend_y}" font-style="italic" fill="#333333">not answered</text><text x="552" y="{legend_y}">= no stage selected</text>"##
    );
    put!(out, "</g>");

    // Axis headings and stage numbers above the plot.
    let axis_label_y = PLOT_TOP - 22.0;
    put!(
        out,
        r#"<text x="{}" y="{}" font-size="11" font-weight="bold" text-anchor="middle">Stage of development</text>"#,
        (PLOT_LEFT + plot_right) / 2.0,
        axis_label_y - 14.0
    );
    put!(
        out,
        r#"<text x="{SELF_COLUMN}" y="{axis_label_y}" font-size="10" font-weight="bold" text-anchor="middle">Self</text><text x="{VALIDATED_COLUMN}" y="{axis_label_y}" font-size="10" font-weight="bold" text-anchor="middle">Validated</text>"#
    );
    stage_numbers(&mut out, axis_label_y);
    stage_numbers(&mut out, plot_bottom + 16.0);
    put!(
        out,
        r#"<text x="{}" y="{}" font-size="10" text-anchor="middle">Stage 1 = lowest, stage 5 = highest</text>"#,
        (PLOT_LEFT + plot_right) / 2.0,
        plot_bottom + 32.0
    );

    // Gridlines behind the bars: stage 0 is the axis itself.
    put!(out, r#"<g class="grid">"#);
    for stage in 1..=MAX_STAGE {
        let x = stage_x(stage);
        put!(
            out,
            r##"<line x1="{x}" y1="{}" x2="{x}" y2="{plot_bottom}" stroke="#8c8c8c" stroke-width="0.6" stroke-dasharray="3 2"/>"##,
            PLOT_TOP - 6.0
        );
    }
    put!(
        out,
        r#"<line x1="{PLOT_LEFT}" y1="{}" x2="{PLOT_LEFT}" y2="{plot_bottom}" stroke="black" stroke-width="1"/>"#,
        PLOT_TOP - 6.0
    );
    put!(out, "</g>");

    let mut y = PLOT_TOP;
    for pillar in &input.pillars {
        let heading_height = PILLAR_HEIGHT
            + if pillar.note.is_some() {
                NOTE_HEIGHT
            } else {
                0.0
            };
        put!(out, r#"<g class="pillar">"#);
        put!(
            out,
            r##"<rect x="{}" y="{y}" width="{}" height="{}" fill="#ececec"/>"##,
            MARGIN - 6.0,
            f64::from(CHART_WIDTH) - 2.0 * MARGIN + 12.0,
            heading_height - 4.0
        );
        let max_heading = chars_fitting(f64::from(CHART_WIDTH) - 2.0 * MARGIN, 12.0);
        put!(
            out,
            r#"<text class="pillar-name" x="{MARGIN}" y="{}" font-size="12" font-weight="bold">{}</text>"#,
            y + 15.0,
            Xml(&truncate(
                &format!("Pillar {}: {}", pillar.id, pillar.name),
                max_heading
            ))
        );
        if let Some(note) = &pillar.note {
            put!(
                out,
                r#"<text class="pillar-note" x="{MARGIN}" y="{}" font-size="10" font-style="italic">{}</text>"#,
                y + 29.0,
                Xml(&truncate(
                    note,
                    chars_fitting(f64::from(CHART_WIDTH) - 2.0 * MARGIN, 10.0)
                ))
            );
        }
        y += heading_height;
        for component in &pillar.components {
            component_row(&mut out, component, y);
            y += ROW_HEIGHT;
        }
        put!(out, "</g>");
    }
    put!(out, "</svg>\n");
    out
}

/// The configuration chart's `<desc>`: every component's stages in words.
fn configuration_description(input: &ConfigurationChartInput) -> String {
    let mut desc = format!(
        "Configuration of {} in {}: the stage of development (1 to 5) of each component, grouped by pillar. ",
        input.organisation, input.round
    );
    for pillar in &input.pillars {
        put!(desc, "Pillar {}, {}", pillar.id, pillar.name);
        if let Some(note) = &pillar.note {
            put!(desc, " ({note})");
        }
        desc.push_str(": ");
        for (index, component) in pillar.components.iter().enumerate() {
            if index > 0 {
                desc.push_str("; ");
            }
            put!(desc, "{} {}: ", component.id, component.name);
            match component.self_assessed {
                Some(stage) => put!(desc, "self-assessed stage {stage}"),
                None => desc.push_str("not answered"),
            }
            if let Some(stage) = component.validated {
                put!(desc, ", validated stage {stage}");
            }
        }
        desc.push_str(". ");
    }
    desc.truncate(desc.trim_end().len());
    desc
}

/// One component row of the configuration chart, `top` being its upper edge.
fn component_row(out: &mut String, component: &ChartComponent, top: f64) {
    use configuration_layout::*;

    let middle = top + ROW_HEIGHT / 2.0;
    put!(
        out,
        r#"<g class="component" data-component="{}">"#,
        Xml(&component.id)
    );
    put!(
        out,
        "<title>{} {}</title>",
        Xml(&component.id),
        Xml(&component.name)
    );

    // The label: id and name, wrapped to two lines within the label column.
    let label = format!("{} {}", component.id, component.name);
    let lines = wrap(
        &label,
        chars_fitting(PLOT_LEFT - MARGIN - 10.0, LABEL_FONT),
        2,
    );
    let line_height = 13.0;
    let first_baseline = middle + 4.0 - line_height * (lines.len() as f64 - 1.0) / 2.0;
    put!(
        out,
        r#"<text class="component-label" x="{MARGIN}" y="{first_baseline}" font-size="{LABEL_FONT}">"#
    );
    for (index, line) in lines.iter().enumerate() {
        if index == 0 {
            put!(out, "<tspan>{}</tspan>", Xml(line));
        } else {
            put!(
                out,
                r#"<tspan x="{MARGIN}" dy="{line_height}">{}</tspan>"#,
                Xml(line)
            );
        }
    }
    put!(out, "</text>");

    match component.self_assessed {
        Some(stage) => {
            let width = stage_x(stage.min(MAX_STAGE)) - PLOT_LEFT;
            put!(
                out,
                r#"<rect class="self-assessed" x="{PLOT_LEFT}" y="{}" width="{width}" height="14" fill="{SELF_ASSESSED_FILL}" stroke="black" stroke-width="1"/>"#,
                middle - 7.0
            );
        }
        None => put!(
            out,
            r##"<text class="not-answered" x="{}" y="{}" font-size="10" font-style="italic" fill="#333333">not answered</text>"##,
            PLOT_LEFT + 6.0,
            middle + 3.5
        ),
    }
    if let Some(stage) = component.validated {
        diamond(out, stage_x(stage.min(MAX_STAGE)), middle, "validated");
    }

    let value = |stage: Option<u8>| stage.map_or_else(|| "–".to_owned(), |s| s.to_string());
    put!(
        out,
        r#"<text class="self-value" x="{SELF_COLUMN}" y="{}" font-size="11" text-anchor="middle">{}</text>"#,
        middle + 4.0,
        value(component.self_assessed)
    );
    put!(
        out,
        r#"<text class="validated-value" x="{VALIDATED_COLUMN}" y="{}" font-size="11" font-weight="bold" text-anchor="middle">{}</text>"#,
        middle + 4.0,
        value(component.validated)
    );
    put!(out, "</g>");
}

/// The x of `stage` on the configuration chart's axis.
fn stage_x(stage: u8) -> f64 {
    configuration_layout::PLOT_LEFT + configuration_layout::STAGE_WIDTH * f64::from(stage)
}

/// The stage numbers 1–5 under their gridlines, at baseline `y`.
fn stage_numbers(out: &mut String, y: f64) {
    put!(
        out,
        r#"<g class="axis-labels" font-size="11" text-anchor="middle">"#
    );
    for stage in 1..=MAX_STAGE {
        put!(
            out,
            r#"<text x="{}" y="{y}">{stage}</text>"#,
            stage_x(stage)
        );
    }
    put!(out, "</g>");
}

/// The validated-stage marker: a white diamond with a black outline centred on (x, y).
fn diamond(out: &mut String, x: f64, y: f64, class: &str) {
    let d = configuration_layout::DIAMOND;
    put!(
        out,
        r#"<path class="{class}" d="M{x} {} L{} {y} L{x} {} L{} {y} Z" fill="white" stroke="black" stroke-width="2"/>"#,
        y - d,
        x + d,
        y + d,
        x - d
    );
}

// --- heatmap -------------------------------------------------------------------------

/// Layout of the heatmap, in SVG user units.
mod heatmap_layout {
    /// Width of the organisation name column.
    pub const NAME_WIDTH: f64 = 196.0;
    /// Gap between two pillars' column groups.
    pub const PILLAR_GAP: f64 = 6.0;
    /// Widest a cell may be.
    pub const MAX_CELL_WIDTH: f64 = 40.0;
    /// Height of a row.
    pub const ROW_HEIGHT: f64 = 16.0;
    /// Top of the grid.
    pub const GRID_TOP: f64 = 150.0;
    /// Font size of organisation names.
    pub const NAME_FONT: f64 = 10.0;
    /// Height of a line of the component key.
    pub const KEY_LINE: f64 = 14.0;
}

/// Draws a round's matrix as a heatmap: a row per organisation, a column per component
/// grouped by pillar, each cell printing its stage over a grey shade (lighter for lower
/// stages) and an en dash on white where the component was not answered; a legend above
/// and a key of component names below. Returns a standalone SVG document sized for A4
/// width; its height grows with the number of organisations (16 units a row).
pub fn round_heatmap(input: &HeatmapInput) -> String {
    use heatmap_layout::*;

    let column_count = input.columns().count();
    let groups_with_columns = input
        .pillars
        .iter()
        .filter(|p| !p.components.is_empty())
        .count();
    let grid_left = MARGIN + NAME_WIDTH;
    let gaps = PILLAR_GAP * groups_with_columns.saturating_sub(1) as f64;
    let available = f64::from(CHART_WIDTH) - MARGIN - grid_left - gaps;
    let cell_width = if column_count == 0 {
        MAX_CELL_WIDTH
    } else {
        (available / column_count as f64).min(MAX_CELL_WIDTH)
    };

    // Column x positions, with a gap between pillars.
    let mut column_x = Vec::with_capacity(column_count);
    let mut group_spans = Vec::with_capacity(input.pillars.len());
    let mut x = grid_left;
    for pillar in input.pillars.iter().filter(|p| !p.components.is_empty()) {
        let start = x;
        for _ in &pillar.components {
            column_x.push(x);
            x += cell_width;
        }
        group_spans.push((pillar, start, x));
        x += PILLAR_GAP;
    }

    let grid_bottom = GRID_TOP + ROW_HEIGHT * input.rows.len() as f64;
    let key_column_width = (f64::from(CHART_WIDTH) - 2.0 * MARGIN) / 2.0;
    let (key, key_lines) = key_layout(input, chars_fitting(key_column_width - 10.0, 10.0));
    let key_top = grid_bottom + 30.0;
    let height = (key_top + 20.0 + KEY_LINE * key_lines as f64 + 12.0).ceil();

    let mut out = String::with_capacity(64 * 1024 + input.rows.len() * column_count * 160);
    let description = format!(
        "Heatmap of the stages of development (1 to 5) of {} organisations (rows) on {} components (columns, grouped by pillar) in {}. Each cell prints its stage over a grey shade, darker for higher stages; an en dash on white marks a component not answered.",
        input.rows.len(),
        column_count,
        input.round
    );
    open_svg(&mut out, height, &input.title, &description);
    header(
        &mut out,
        &input.title,
        &format!(
            "{} · {} organisations × {} components",
            input.round,
            input.rows.len(),
            column_count
        ),
    );

    // Legend: the five shades with their numbers, and the unanswered cell.
    let legend_y = 78.0;
    put!(out, r#"<g class="legend" font-size="11">"#);
    put!(
        out,
        r#"<text x="{MARGIN}" y="{}">Stage</text>"#,
        legend_y + 12.0
    );
    for stage in 1..=MAX_STAGE {
        let x = MARGIN + 40.0 + 30.0 * f64::from(stage - 1);
        cell(
            &mut out,
            x,
            legend_y,
            26.0,
            16.0,
            Some(stage),
            "legend-cell",
        );
    }
    let x = MARGIN + 40.0 + 30.0 * f64::from(MAX_STAGE) + 14.0;
    cell(&mut out, x, legend_y, 26.0, 16.0, None, "legend-cell");
    put!(
        out,
        r#"<text x="{}" y="{}">not answered</text>"#,
        x + 32.0,
        legend_y + 12.0
    );
    put!(out, "</g>");

    // Column headings: pillars over their groups, component ids over their columns.
    put!(out, r#"<g class="column-headings" text-anchor="middle">"#);
    for (pillar, start, end) in &group_spans {
        let label = truncate(
            &format!("Pillar {}", pillar.id),
            chars_fitting(end - start, 10.0),
        );
        put!(
            out,
            r#"<text class="pillar-heading" x="{}" y="{}" font-size="10" font-weight="bold">{}</text>"#,
            (start + end) / 2.0,
            GRID_TOP - 26.0,
            Xml(&label)
        );
        put!(
            out,
            r#"<line x1="{start}" y1="{}" x2="{end}" y2="{}" stroke="black" stroke-width="1"/>"#,
            GRID_TOP - 21.0,
            GRID_TOP - 21.0
        );
    }
    let id_font = (cell_width * 0.32).clamp(6.0, 10.0);
    for (column, x) in input.columns().zip(&column_x) {
        put!(
            out,
            r#"<text class="component-heading" x="{}" y="{}" font-size="{id_font:.1}">{}</text>"#,
            x + cell_width / 2.0,
            GRID_TOP - 6.0,
            Xml(&column.id)
        );
    }
    put!(out, "</g>");

    // The grid.
    let max_name = chars_fitting(NAME_WIDTH - 8.0, NAME_FONT);
    put!(out, r#"<g class="grid">"#);
    for (index, row) in input.rows.iter().enumerate() {
        let top = GRID_TOP + ROW_HEIGHT * index as f64;
        put!(out, r#"<g class="row">"#);
        put!(
            out,
            r#"<text class="organisation" x="{MARGIN}" y="{}" font-size="{NAME_FONT}"><title>{}</title>{}</text>"#,
            top + 11.5,
            Xml(&row.organisation),
            Xml(&truncate(&row.organisation, max_name))
        );
        for (column, x) in column_x.iter().enumerate() {
            let stage = row.stages.get(column).copied().flatten();
            cell(&mut out, *x, top, cell_width, ROW_HEIGHT, stage, "cell");
        }
        put!(out, "</g>");
    }
    put!(out, "</g>");

    // Key: pillar and component names, in two columns.
    put!(
        out,
        r#"<text x="{MARGIN}" y="{key_top}" font-size="11" font-weight="bold">Key</text>"#
    );
    put!(out, r#"<g class="key" font-size="10">"#);
    for entry in &key {
        let x = MARGIN + key_column_width * entry.column as f64;
        let weight = if entry.bold {
            r#" font-weight="bold""#
        } else {
            ""
        };
        for (offset, line) in entry.lines.iter().enumerate() {
            let y = key_top + 18.0 + KEY_LINE * (entry.first_line + offset) as f64;
            // Continuation lines are indented under the entry's text.
            let indent = if offset == 0 { 0.0 } else { 12.0 };
            put!(
                out,
                r#"<text x="{}" y="{y}"{weight}>{}</text>"#,
                x + indent,
                Xml(line)
            );
        }
    }
    put!(out, "</g>");
    put!(out, "</svg>\n");
    out
}

/// An entry of the heatmap's key, placed.
struct KeyEntry {
    /// A pillar (bold) rather than a component.
    bold: bool,
    /// The entry wrapped into lines.
    lines: Vec<String>,
    /// Key column, 0 or 1.
    column: usize,
    /// Line number of the entry's first line within its column.
    first_line: usize,
}

/// The key's entries (each pillar followed by its components) wrapped to `max_chars` and
/// split into two columns between two pillars, where the taller column is shortest; also
/// the line count of the taller column.
fn key_layout(input: &HeatmapInput, max_chars: usize) -> (Vec<KeyEntry>, usize) {
    // Bold text is wider: give it a tenth fewer characters.
    let bold_chars = max_chars - max_chars / 10;
    let groups: Vec<Vec<KeyEntry>> = input
        .pillars
        .iter()
        .map(|pillar| {
            let heading = format!("Pillar {}: {}", pillar.id, pillar.name);
            std::iter::once((true, wrap(&heading, bold_chars, 3)))
                .chain(pillar.components.iter().map(|component| {
                    let label = format!("{} {}", component.id, component.name);
                    (false, wrap(&label, max_chars, 3))
                }))
                .map(|(bold, lines)| KeyEntry {
                    bold,
                    lines,
                    column: 0,
                    first_line: 0,
                })
                .collect()
        })
        .collect();
    let group_lines: Vec<usize> = groups
        .iter()
        .map(|group| group.iter().map(|e| e.lines.len()).sum())
        .collect();
    let total: usize = group_lines.iter().sum();
    // The first `split` pillars go to the left column.
    let (split, tallest) = (0..=groups.len())
        .map(|split| {
            let left: usize = group_lines[..split].iter().sum();
            (split, left.max(total - left))
        })
        .min_by_key(|(_, tallest)| *tallest)
        .unwrap_or((0, 0));
    let mut entries = Vec::with_capacity(groups.iter().map(Vec::len).sum());
    let mut line = 0;
    for (index, group) in groups.into_iter().enumerate() {
        if index == split {
            line = 0;
        }
        for mut entry in group {
            entry.column = usize::from(index >= split);
            entry.first_line = line;
            line += entry.lines.len();
            entries.push(entry);
        }
    }
    (entries, tallest)
}

/// One heatmap cell with its top-left corner at (x, y).
fn cell(out: &mut String, x: f64, y: f64, width: f64, height: f64, stage: Option<u8>, class: &str) {
    let (fill, ink, text) = match stage {
        Some(stage) => {
            let (fill, ink) = shade(stage);
            (fill, ink, stage.to_string())
        }
        None => ("#ffffff", "#4d4d4d", "–".to_owned()),
    };
    let state = if stage.is_some() {
        "answered"
    } else {
        "unanswered"
    };
    let font = (height * 0.62).min(width * 0.5);
    put!(
        out,
        r##"<rect class="{class} {state}" x="{x:.1}" y="{y:.1}" width="{width:.1}" height="{height:.1}" fill="{fill}" stroke="#7f7f7f" stroke-width="0.5"/><text x="{:.1}" y="{:.1}" font-size="{font:.1}" text-anchor="middle" fill="{ink}">{text}</text>"##,
        x + width / 2.0,
        y + height / 2.0 + font * 0.36
    );
}

/// The fill and text colour of a stage's cell: grey steps whose order survives black and
/// white printing, with white numbers on the two darkest.
fn shade(stage: u8) -> (&'static str, &'static str) {
    match stage {
        0 | 1 => ("#f0f0f0", "#000000"),
        2 => ("#cfcfcf", "#000000"),
        3 => ("#a3a3a3", "#000000"),
        4 => ("#6e6e6e", "#ffffff"),
        _ => ("#3a3a3a", "#ffffff"),
    }
}

// --- shared pieces -------------------------------------------------------------------

/// Opens the document: the root element, `<title>` and `<desc>`, and a white background.
fn open_svg(out: &mut String, height: f64, title: &str, description: &str) {
    put!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" height="{height}" viewBox="0 0 {CHART_WIDTH} {height}" role="img" font-family="{FONT_FAMILY}">"#
    );
    put!(out, "\n<title>{}</title>\n", Xml(title));
    put!(out, "<desc>{}</desc>\n", Xml(description));
    put!(
        out,
        r#"<rect width="{CHART_WIDTH}" height="{height}" fill="white"/>"#
    );
    out.push('\n');
}

/// The chart title and the line under it.
fn header(out: &mut String, title: &str, subtitle: &str) {
    let width = f64::from(CHART_WIDTH) - 2.0 * MARGIN;
    put!(
        out,
        r#"<text class="title" x="{MARGIN}" y="34" font-size="18" font-weight="bold">{}</text>"#,
        Xml(&truncate(title, chars_fitting(width, 18.0)))
    );
    put!(
        out,
        r#"<text class="subtitle" x="{MARGIN}" y="56" font-size="13">{}</text>"#,
        Xml(&truncate(subtitle, chars_fitting(width, 13.0)))
    );
    out.push('\n');
}

/// How many characters of a `font_size` font fit in `width` units, by the average advance.
fn chars_fitting(width: f64, font_size: f64) -> usize {
    // Saturating float-to-int conversion: a negative width gives 0.
    (width / (font_size * CHAR_WIDTH_EM)).floor().max(1.0) as usize
}

/// `text` cut to at most `max_chars` characters, ending in "…" when cut.
fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

/// `text` wrapped at spaces into at most `max_lines` lines of at most `max_chars`
/// characters; a word longer than a line is cut, and text left over after the last line
/// ends it with "…".
fn wrap(text: &str, max_chars: usize, max_lines: usize) -> Vec<String> {
    let max_chars = max_chars.max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut overflow = false;
    for word in text.split_whitespace() {
        let needed = if current.is_empty() {
            word.chars().count()
        } else {
            current.chars().count() + 1 + word.chars().count()
        };
        if needed <= max_chars {
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
            continue;
        }
        if !current.is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        if lines.len() == max_lines {
            overflow = true;
            break;
        }
        current = truncate(word, max_chars);
    }
    if !overflow && !current.is_empty() {
        if lines.len() < max_lines {
            lines.push(current);
        } else {
            overflow = true;
        }
    }
    if overflow && let Some(last) = lines.last_mut() {
        let kept = truncate(last, max_chars.saturating_sub(1));
        *last = if kept.ends_with('…') {
            kept
        } else {
            format!("{kept}…")
        };
    }
    lines
}

/// Text escaped for XML content and attribute values. Characters that XML 1.0 cannot
/// carry at all (most control characters) become U+FFFD.
struct Xml<'a>(&'a str);

impl fmt::Display for Xml<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '&' => f.write_str("&amp;")?,
                '<' => f.write_str("&lt;")?,
                '>' => f.write_str("&gt;")?,
                '"' => f.write_str("&quot;")?,
                '\'' => f.write_str("&apos;")?,
                '\t' | '\n' | '\r' => f.write_char(' ')?,
                c if is_xml_char(c) => f.write_char(c)?,
                _ => f.write_char('\u{FFFD}')?,
            }
        }
        Ok(())
    }
}

/// Whether XML 1.0 allows `c` in a document (its `Char` production, less the whitespace
/// controls handled by the caller).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seventeen components in five pillars, shaped like the JIU stage questionnaire.
    const SHAPE: [(&str, &[&str]); 5] = [
        ("1", &["1.1", "1.2", "1.3"]),
        ("2", &["2.1", "2.2", "2.3", "2.4", "2.5"]),
        ("3", &["3.1", "3.2", "3.3", "3.4"]),
        ("4", &["4.1", "4.2", "4.3"]),
        ("5", &["5.1", "5.2"]),
    ];

    /// The tail of every test component's name, long enough to wrap.
    const LONG: &str = "with a rather long name that has to wrap onto a second line";

    fn configuration_input() -> ConfigurationChartInput {
        let mut index = 0u8;
        ConfigurationChartInput {
            title: "Configuration profile".into(),
            organisation: "Fund & Programme <Test> \"quoted\" 'single'".into(),
            round: "Round 2026".into(),
            pillars: SHAPE
                .iter()
                .map(|(pillar, components)| ChartPillar {
                    id: (*pillar).into(),
                    name: format!("Pillar name {pillar} & more"),
                    note: (*pillar == "2").then(|| "Pillar stage 3 (median) <range 2–4>".into()),
                    components: components
                        .iter()
                        .map(|id| {
                            index += 1;
                            ChartComponent {
                                id: (*id).into(),
                                name: format!("Component {id} {LONG}"),
                                // Component 3 is unanswered; every fourth is validated.
                                self_assessed: (index != 3).then_some(index % 5 + 1),
                                validated: index.is_multiple_of(4).then_some((index + 1) % 5 + 1),
                            }
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    fn heatmap_input(organisations: usize) -> HeatmapInput {
        HeatmapInput {
            title: "Stages by organisation".into(),
            round: "Round <2026>".into(),
            pillars: SHAPE
                .iter()
                .map(|(pillar, components)| HeatmapPillar {
                    id: (*pillar).into(),
                    name: format!("Pillar {pillar} name"),
                    components: components
                        .iter()
                        .map(|id| HeatmapColumn {
                            id: (*id).into(),
                            name: format!("Component {id}"),
                        })
                        .collect(),
                })
                .collect(),
            rows: (0..organisations)
                .map(|row| HeatmapRow {
                    organisation: format!("Organisation {row} & Co"),
                    stages: (0..17)
                        .map(|column| {
                            let value = (row * 7 + column * 3) % 6;
                            (value != 0).then_some(value as u8)
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    fn parse(svg: &str) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not well-formed XML: {e}"))
    }

    fn with_class<'a, 'input>(
        doc: &'a roxmltree::Document<'input>,
        class: &str,
    ) -> Vec<roxmltree::Node<'a, 'input>> {
        doc.descendants()
            .filter(|n| {
                n.attribute("class")
                    .is_some_and(|c| c.split(' ').any(|part| part == class))
            })
            .collect()
    }

    /// All text of an element, its `<title>` children excluded.
    fn visible_text(node: roxmltree::Node<'_, '_>) -> String {
        node.descendants()
            .filter(|n| n.is_text() && n.parent().is_some_and(|p| !p.has_tag_name("title")))
            .filter_map(|n| n.text())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn configuration_chart_is_well_formed_and_accessible() {
        let svg = configuration_chart(&configuration_input());
        let doc = parse(&svg);
        let root = doc.root_element();
        assert!(root.has_tag_name(("http://www.w3.org/2000/svg", "svg")));
        let height: f64 = root
            .attribute("height")
            .and_then(|h| h.parse().ok())
            .expect("height");
        assert_eq!(
            root.attribute("viewBox"),
            Some(format!("0 0 794 {height}").as_str())
        );
        let first = root.first_element_child().expect("a child");
        assert!(first.has_tag_name("title"));
        assert_eq!(first.text(), Some("Configuration profile"));
        let desc = root
            .children()
            .find(|n| n.has_tag_name("desc"))
            .and_then(|n| n.text())
            .expect("desc");
        let expected = format!("1.3 Component 1.3 {LONG}: not answered");
        assert!(desc.contains(&expected), "{desc}");
        let expected = format!("1.1 Component 1.1 {LONG}: self-assessed stage 2;");
        assert!(desc.contains(&expected), "{desc}");
        let expected =
            format!("2.1 Component 2.1 {LONG}: self-assessed stage 5, validated stage 1;");
        assert!(desc.contains(&expected), "{desc}");
    }

    #[test]
    fn configuration_chart_escapes_labels() {
        let svg = configuration_chart(&configuration_input());
        assert!(!svg.contains("<Test>"));
        assert!(
            svg.contains("Fund &amp; Programme &lt;Test&gt; &quot;quoted&quot; &apos;single&apos;")
        );
        let doc = parse(&svg);
        let subtitle = with_class(&doc, "subtitle");
        assert_eq!(
            subtitle[0].text(),
            Some("Fund & Programme <Test> \"quoted\" 'single' · Round 2026")
        );
        let note = with_class(&doc, "pillar-note");
        assert_eq!(note.len(), 1);
        assert_eq!(note[0].text(), Some("Pillar stage 3 (median) <range 2–4>"));
    }

    #[test]
    fn configuration_chart_shows_every_component_and_stage() {
        let input = configuration_input();
        let svg = configuration_chart(&input);
        let doc = parse(&svg);

        let pillars: Vec<String> = with_class(&doc, "pillar-name")
            .iter()
            .map(|n| visible_text(*n))
            .collect();
        assert_eq!(
            pillars,
            (1..=5)
                .map(|p| format!("Pillar {p}: Pillar name {p} & more"))
                .collect::<Vec<_>>()
        );

        let rows = with_class(&doc, "component");
        let ids: Vec<&str> = rows
            .iter()
            .filter_map(|n| n.attribute("data-component"))
            .collect();
        let expected: Vec<&str> = SHAPE.iter().flat_map(|(_, c)| c.iter().copied()).collect();
        assert_eq!(ids, expected);
        for (row, component) in rows
            .iter()
            .zip(input.pillars.iter().flat_map(|p| &p.components))
        {
            let label = with_class_under(*row, "component-label");
            let text = visible_text(label);
            assert!(
                text.starts_with(&format!("{} Component", component.id)),
                "{text}"
            );
            let self_value = visible_text(with_class_under(*row, "self-value"));
            let validated_value = visible_text(with_class_under(*row, "validated-value"));
            match component.self_assessed {
                Some(stage) => {
                    assert_eq!(self_value, stage.to_string());
                    let bar = with_class_under(*row, "self-assessed");
                    let width: f64 = bar
                        .attribute("width")
                        .and_then(|w| w.parse().ok())
                        .expect("width");
                    assert!((width - 62.0 * f64::from(stage)).abs() < 1e-9, "{width}");
                }
                None => {
                    assert_eq!(self_value, "–");
                    assert_eq!(
                        visible_text(with_class_under(*row, "not-answered")),
                        "not answered"
                    );
                }
            }
            match component.validated {
                Some(stage) => {
                    assert_eq!(validated_value, stage.to_string());
                    let marker = with_class_under(*row, "validated");
                    let x = stage_x(stage);
                    assert!(
                        marker
                            .attribute("d")
                            .expect("d")
                            .starts_with(&format!("M{x} "))
                    );
                }
                None => assert_eq!(validated_value, "–"),
            }
        }
        let answered = input
            .pillars
            .iter()
            .flat_map(|p| &p.components)
            .filter(|c| c.self_assessed.is_some())
            .count();
        let validated = input
            .pillars
            .iter()
            .flat_map(|p| &p.components)
            .filter(|c| c.validated.is_some())
            .count();
        assert_eq!(answered, 16);
        assert_eq!(with_class(&doc, "self-assessed").len(), 16);
        assert_eq!(with_class(&doc, "not-answered").len(), 1);
        assert_eq!(with_class(&doc, "validated").len(), validated);
        assert!(validated >= 4);
    }

    fn with_class_under<'a, 'input>(
        node: roxmltree::Node<'a, 'input>,
        class: &str,
    ) -> roxmltree::Node<'a, 'input> {
        node.descendants()
            .find(|n| n.attribute("class") == Some(class))
            .unwrap_or_else(|| panic!("no element of class {class}"))
    }

    #[test]
    fn out_of_range_stages_are_printed_and_clamped() {
        let input = ConfigurationChartInput {
            title: "t".into(),
            organisation: "o".into(),
            round: "r".into(),
            pillars: vec![ChartPillar {
                id: "1".into(),
                name: "p".into(),
                note: None,
                components: vec![ChartComponent {
                    id: "1.1".into(),
                    name: "c".into(),
                    self_assessed: Some(9),
                    validated: Some(7),
                }],
            }],
        };
        let svg = configuration_chart(&input);
        let doc = parse(&svg);
        let bar = with_class(&doc, "self-assessed");
        assert_eq!(bar[0].attribute("width"), Some("310"));
        assert_eq!(visible_text(with_class(&doc, "self-value")[0]), "9");
        assert_eq!(visible_text(with_class(&doc, "validated-value")[0]), "7");
    }

    #[test]
    fn characters_xml_cannot_carry_are_replaced() {
        let mut input = configuration_input();
        input.organisation = "Bad\u{1}name\u{FFFF}\tend".into();
        let svg = configuration_chart(&input);
        let doc = parse(&svg);
        assert_eq!(
            with_class(&doc, "subtitle")[0].text(),
            Some("Bad\u{FFFD}name\u{FFFD} end · Round 2026")
        );
    }

    #[test]
    fn heatmap_is_well_formed_with_every_cell_and_column() {
        let input = heatmap_input(100);
        let svg = round_heatmap(&input);
        let doc = parse(&svg);
        let root = doc.root_element();
        assert_eq!(
            root.first_element_child().and_then(|n| n.text()),
            Some("Stages by organisation")
        );
        assert!(svg.contains("Round &lt;2026&gt;"));

        let headings: Vec<String> = with_class(&doc, "component-heading")
            .iter()
            .map(|n| visible_text(*n))
            .collect();
        let expected: Vec<&str> = SHAPE.iter().flat_map(|(_, c)| c.iter().copied()).collect();
        assert_eq!(headings, expected);
        let pillar_headings: Vec<String> = with_class(&doc, "pillar-heading")
            .iter()
            .map(|n| visible_text(*n))
            .collect();
        assert_eq!(
            pillar_headings,
            ["Pillar 1", "Pillar 2", "Pillar 3", "Pillar 4", "Pillar 5"]
        );

        let organisations = with_class(&doc, "organisation");
        assert_eq!(organisations.len(), 100);
        assert_eq!(visible_text(organisations[42]), "Organisation 42 & Co");

        let cells = with_class(&doc, "cell");
        assert_eq!(cells.len(), 100 * 17);
        let unanswered_expected = input
            .rows
            .iter()
            .flat_map(|r| &r.stages)
            .filter(|s| s.is_none())
            .count();
        let unanswered: Vec<_> = cells
            .iter()
            .filter(|c| c.attribute("class") == Some("cell unanswered"))
            .collect();
        assert_eq!(unanswered.len(), unanswered_expected);
        assert!(unanswered_expected > 0);

        // Row 1, column 2 (component 1.3): (1 * 7 + 2 * 3) % 6 = 1, the lightest shade,
        // printed as "1" in the text that follows the cell.
        let cell = cells[17 + 2];
        assert_eq!(cell.attribute("fill"), Some("#f0f0f0"));
        let label = cell.next_sibling_element().expect("cell text");
        assert_eq!(label.text(), Some("1"));
        // Row 0, column 0: 0 -> not answered, an en dash.
        assert_eq!(cells[0].attribute("fill"), Some("#ffffff"));
        assert_eq!(
            cells[0].next_sibling_element().and_then(|n| n.text()),
            Some("–")
        );

        // Everything fits in the view box.
        let height: f64 = root
            .attribute("height")
            .and_then(|h| h.parse().ok())
            .expect("height");
        assert!(height > 16.0 * 100.0);
        let widest = cells
            .iter()
            .map(|c| {
                let x: f64 = c.attribute("x").and_then(|v| v.parse().ok()).expect("x");
                let w: f64 = c
                    .attribute("width")
                    .and_then(|v| v.parse().ok())
                    .expect("w");
                x + w
            })
            .fold(0.0, f64::max);
        assert!(widest <= f64::from(CHART_WIDTH) - MARGIN + 0.5, "{widest}");
    }

    #[test]
    fn heatmap_tolerates_short_rows_and_no_rows() {
        let mut input = heatmap_input(2);
        input.rows[0].stages.truncate(3);
        input.rows[1].stages.push(Some(4));
        let doc_text = round_heatmap(&input);
        let doc = parse(&doc_text);
        let cells = with_class(&doc, "cell");
        assert_eq!(cells.len(), 34);
        assert!(
            cells[3..17]
                .iter()
                .all(|c| c.attribute("class") == Some("cell unanswered"))
        );

        input.rows.clear();
        let empty = round_heatmap(&input);
        let doc = parse(&empty);
        assert!(with_class(&doc, "cell").is_empty());
    }

    #[test]
    fn heatmap_key_breaks_between_pillars_and_balances_columns() {
        let mut input = heatmap_input(1);
        input.pillars[1].name = "A pillar name long enough to need a second line in the key, \
                                 and a third one as well, since it goes on and on"
            .into();
        let (key, tallest) = key_layout(&input, 40);
        assert_eq!(key.len(), 5 + 17);
        // Each column starts with a pillar heading, and a pillar's components stay with it.
        let second = key
            .iter()
            .position(|e| e.column == 1)
            .expect("a second column");
        assert!(key[0].bold && key[second].bold);
        assert!(key[..second].iter().all(|e| e.column == 0));
        assert_eq!(key[1].first_line, 1);
        assert_eq!(key[4].lines.len(), 3, "{:?}", key[4].lines);
        assert!(key[4].lines[2].ends_with('…'));
        // Pillars 1-2 take 1 + 3 + 3 + 5 = 12 lines, pillars 3-5 take 5 + 4 + 3 = 12.
        assert_eq!(second, 4 + 6);
        assert_eq!(tallest, 12);
        let right: usize = key[second..].iter().map(|e| e.lines.len()).sum();
        assert_eq!(right, 12);
    }

    #[test]
    fn shades_darken_with_the_stage() {
        let luminance = |hex: &str| u8::from_str_radix(&hex[1..3], 16).expect("hex");
        let shades: Vec<u8> = (1..=5).map(|s| luminance(shade(s).0)).collect();
        assert!(shades.windows(2).all(|w| w[0] > w[1]), "{shades:?}");
    }

    #[test]
    fn wrap_breaks_at_spaces_and_marks_overflow() {
        assert_eq!(wrap("one two three", 7, 2), ["one two", "three"]);
        assert_eq!(wrap("one two three four", 7, 2), ["one two", "three…"]);
        assert_eq!(wrap("abcdefghij", 4, 2), ["abc…"]);
        assert_eq!(wrap("", 4, 2), Vec::<String>::new());
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(truncate("ab cdef", 4), "ab…");
    }

    // --- rendering ---------------------------------------------------------------------

    fn render(svg: &str) -> resvg::tiny_skia::Pixmap {
        let mut options = resvg::usvg::Options::default();
        options.fontdb_mut().load_system_fonts();
        let has_dejavu = options
            .fontdb
            .faces()
            .any(|face| face.families.iter().any(|(name, _)| name == "DejaVu Sans"));
        assert!(
            has_dejavu,
            "no DejaVu Sans font found among {} system fonts: the chart render test needs it; \
             install it with `apt-get install fonts-dejavu-core`",
            options.fontdb.len()
        );
        let tree = resvg::usvg::Tree::from_str(svg, &options)
            .unwrap_or_else(|e| panic!("resvg cannot read the chart: {e}"));
        let size = tree.size().to_int_size();
        let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height())
            .expect("a pixmap of the chart's size");
        resvg::render(
            &tree,
            resvg::tiny_skia::Transform::default(),
            &mut pixmap.as_mut(),
        );
        pixmap
    }

    /// Pixels darker than light grey inside the band of rows `top..bottom`.
    fn dark_pixels(pixmap: &resvg::tiny_skia::Pixmap, top: u32, bottom: u32) -> usize {
        let width = pixmap.width() as usize;
        pixmap.pixels()[top as usize * width..bottom as usize * width]
            .iter()
            .filter(|p| p.alpha() > 0 && p.red() < 128 && p.green() < 128 && p.blue() < 128)
            .count()
    }

    #[test]
    fn charts_render_to_png_with_text() {
        for svg in [
            configuration_chart(&configuration_input()),
            round_heatmap(&heatmap_input(100)),
        ] {
            let pixmap = render(&svg);
            assert_eq!(pixmap.width(), CHART_WIDTH);
            // The title band holds nothing but the title's text: dark pixels there prove
            // that the text was shaped and drawn with a real font.
            let title_pixels = dark_pixels(&pixmap, 18, 40);
            assert!(
                title_pixels > 200,
                "title text not rendered ({title_pixels} dark pixels)"
            );
            let all = dark_pixels(&pixmap, 0, pixmap.height());
            assert!(all > 5_000, "too little drawn ({all} dark pixels)");
            let png = pixmap.encode_png().expect("PNG encoding");
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
            let decoded = resvg::tiny_skia::Pixmap::decode_png(&png).expect("PNG decoding");
            assert_eq!(
                (decoded.width(), decoded.height()),
                (pixmap.width(), pixmap.height())
            );
        }
    }

    // --- the pictures in docs/charts ---------------------------------------------------

    mod docs {
        use std::path::{Path, PathBuf};

        use super::super::*;
        use crate::catalogue::Catalogue;

        fn repository_root() -> PathBuf {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
        }

        fn catalogue_pillars() -> Vec<crate::catalogue::model::Pillar> {
            let catalogue = Catalogue::load(&repository_root().join("questionnaires"))
                .unwrap_or_else(|e| panic!("catalogue: {e}"));
            catalogue
                .latest("jiu-rbm-stages")
                .and_then(|i| i.as_stage_questionnaire())
                .expect("the stage questionnaire")
                .pillars
                .clone()
        }

        /// Median of the stages rounded down, with min and max: the sample's pillar notes.
        fn pillar_note(stages: &[u8]) -> Option<String> {
            let mut sorted = stages.to_vec();
            sorted.sort_unstable();
            let median = match sorted.len() {
                0 => return None,
                n if n % 2 == 1 => sorted[n / 2],
                n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
            };
            Some(format!(
                "Pillar stage {median} (median of the components, rounded down); lowest {}, highest {}",
                sorted[0],
                sorted[sorted.len() - 1]
            ))
        }

        /// A sample configuration: fixed stages, one component unanswered, a few validated.
        pub(super) fn sample_configuration() -> ConfigurationChartInput {
            let self_assessed = [3, 2, 2, 4, 3, 3, 2, 2, 3, 3, 4, 2, 2, 3, 2, 1, 0];
            let validated = [0, 0, 0, 3, 0, 0, 0, 0, 3, 0, 3, 0, 0, 0, 0, 0, 0];
            let mut index = 0;
            let pillars = catalogue_pillars()
                .iter()
                .map(|pillar| {
                    let components: Vec<ChartComponent> = pillar
                        .components
                        .iter()
                        .map(|component| {
                            let stage = |list: &[u8; 17]| Some(list[index]).filter(|s| *s > 0);
                            let row = ChartComponent {
                                id: component.id.clone(),
                                name: component.name.as_str().to_owned(),
                                self_assessed: stage(&self_assessed),
                                validated: stage(&validated),
                            };
                            index += 1;
                            row
                        })
                        .collect();
                    let stages: Vec<u8> =
                        components.iter().filter_map(|c| c.self_assessed).collect();
                    ChartPillar {
                        id: pillar.number.to_string(),
                        name: pillar.name.as_str().to_owned(),
                        note: pillar_note(&stages),
                        components,
                    }
                })
                .collect();
            ConfigurationChartInput {
                title: "Configuration profile".into(),
                organisation: "Example Organisation".into(),
                round: "JIU RBM 2026".into(),
                pillars,
            }
        }

        /// A sample round: twelve invented organisations with stages from a fixed formula.
        pub(super) fn sample_heatmap() -> HeatmapInput {
            let pillars: Vec<HeatmapPillar> = catalogue_pillars()
                .iter()
                .map(|pillar| HeatmapPillar {
                    id: pillar.number.to_string(),
                    name: pillar.name.as_str().to_owned(),
                    components: pillar
                        .components
                        .iter()
                        .map(|c| HeatmapColumn {
                            id: c.id.clone(),
                            name: c.name.as_str().to_owned(),
                        })
                        .collect(),
                })
                .collect();
            let names = [
                "Agency A",
                "Agency B",
                "Fund C",
                "Programme D",
                "Office E",
                "Agency F",
                "Fund G & Partners",
                "Programme H",
                "Agency I",
                "Office J",
                "Agency K",
                "Programme L",
            ];
            let rows = names
                .iter()
                .enumerate()
                .map(|(row, name)| HeatmapRow {
                    organisation: (*name).to_owned(),
                    stages: (0..17)
                        .map(|column| {
                            if (row == 4 && column >= 14) || (row == 9 && column == 6) {
                                return None;
                            }
                            // An overall level per organisation, varied per component.
                            let level = [2, 3, 1, 4, 3, 2, 3, 4, 2, 1, 3, 2][row];
                            // A multiplicative hash of the cell gives a fixed noise of 0, 1 or 2.
                            let cell = (row * 17 + column) as u64;
                            let noise =
                                (cell.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 61) as usize % 3;
                            Some((level + noise).saturating_sub(1).clamp(1, 5) as u8)
                        })
                        .collect(),
                })
                .collect();
            HeatmapInput {
                title: "Stages of development by organisation".into(),
                round: "JIU RBM 2026 (sample data)".into(),
                pillars,
                rows,
            }
        }

        #[test]
        fn pictures_in_docs_are_current() {
            let pictures = [
                (
                    "docs/charts/configuration.svg",
                    configuration_chart(&sample_configuration()),
                ),
                ("docs/charts/heatmap.svg", round_heatmap(&sample_heatmap())),
            ];
            let update = std::env::var_os("STAGEWISE_UPDATE_DOCS").is_some();
            for (relative, built) in pictures {
                let path = repository_root().join(relative);
                if update {
                    std::fs::create_dir_all(path.parent().expect("a folder"))
                        .expect("create docs/charts");
                    std::fs::write(&path, &built)
                        .unwrap_or_else(|e| panic!("write {relative}: {e}"));
                    continue;
                }
                let committed = std::fs::read_to_string(&path).unwrap_or_default();
                assert!(
                    committed == built,
                    "{relative} is stale; regenerate it with \
                     `STAGEWISE_UPDATE_DOCS=1 cargo test -p server --lib charts` and review the diff"
                );
            }
        }

        #[test]
        fn sample_configuration_has_all_seventeen_components() {
            let input = sample_configuration();
            assert_eq!(input.pillars.len(), 5);
            assert_eq!(
                input
                    .pillars
                    .iter()
                    .map(|p| p.components.len())
                    .sum::<usize>(),
                17
            );
            assert_eq!(
                input.pillars[0].note.as_deref(),
                Some(
                    "Pillar stage 2 (median of the components, rounded down); lowest 2, highest 3"
                )
            );
        }
    }
}
