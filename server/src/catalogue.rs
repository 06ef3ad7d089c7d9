//! The instrument catalogue: loads `questionnaires/`, validates it, and gives typed,
//! read-only access to every published instrument version.
//!
//! The catalogue is loaded once at start and never changes while the server runs; a
//! malformed catalogue stops the server with every problem listed by file and field path.
//! It does no IO after loading and knows nothing of answers, storage or transports: the
//! derived [`Question`] list is what the answering services validate against.

mod export;
pub mod model;
mod question;
pub mod text;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

pub use export::export;
pub use model::{Body, Header, InstrumentKind, InstrumentRef, Note};
pub use question::{AnswerType, MAX_OTHER_ACTIVITIES, Question};
pub use text::{LanguageCode, Text};

/// One problem found in the catalogue folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, as a path under the catalogue folder's parent
    /// (e.g. `questionnaires/jiu-rbm-stages/v1.toml`).
    pub file: PathBuf,
    /// Dotted field path inside the file (e.g. `pillars[0].components[1].stages`); empty
    /// when the problem concerns the whole file.
    pub path: String,
    /// What is wrong, in lowercase without a trailing period.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}: {}: {}",
                self.file.display(),
                self.path,
                self.message
            )
        }
    }
}

/// Why the catalogue could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// The folder could not be read at all.
    #[error("cannot read the questionnaire folder {}", dir.display())]
    Unreadable {
        /// The folder.
        dir: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// The folder holds no instrument.
    #[error("the questionnaire folder {} holds no instrument (expected <id>/v<version>.toml files)", dir.display())]
    Empty {
        /// The folder.
        dir: PathBuf,
    },
    /// One or more files are malformed.
    #[error("the questionnaire catalogue is invalid ({} problem{}):\n{}", problems.len(), if problems.len() == 1 { "" } else { "s" }, ProblemList(problems))]
    Invalid {
        /// Every problem found, in file order.
        problems: Vec<Problem>,
    },
}

struct ProblemList<'a>(&'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

/// One published version of an instrument.
#[derive(Debug, Clone)]
pub struct Instrument {
    header: Header,
    notes: Vec<Note>,
    body: Body,
    questions: Vec<Question>,
}

impl Instrument {
    /// The `[instrument]` table: id, version, kind, title, audience, source.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The instrument id.
    pub fn id(&self) -> &str {
        &self.header.id
    }

    /// The version.
    pub fn version(&self) -> u32 {
        self.header.version
    }

    /// `id@version`.
    pub fn reference(&self) -> InstrumentRef {
        InstrumentRef {
            id: self.header.id.clone(),
            version: self.header.version,
        }
    }

    /// Transcription decisions.
    pub fn notes(&self) -> &[Note] {
        &self.notes
    }

    /// The kind-specific content.
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// Every answerable question, in the order a respondent meets them; empty for
    /// reference instruments.
    pub fn questions(&self) -> &[Question] {
        &self.questions
    }

    /// The question with `id`.
    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.id == id)
    }

    /// The stage questionnaire, when this is one.
    pub fn as_stage_questionnaire(&self) -> Option<&model::StageQuestionnaire> {
        match &self.body {
            Body::StageQuestionnaire(body) => Some(body),
            _ => None,
        }
    }

    /// The questionnaire, when this is one.
    pub fn as_questionnaire(&self) -> Option<&model::Questionnaire> {
        match &self.body {
            Body::Questionnaire(body) => Some(body),
            _ => None,
        }
    }

    /// The drivers, when this is annex V.
    pub fn as_drivers(&self) -> Option<&model::Drivers> {
        match &self.body {
            Body::Drivers(body) => Some(body),
            _ => None,
        }
    }

    /// The validation guide, when this is one.
    pub fn as_validation_guide(&self) -> Option<&model::ValidationGuide> {
        match &self.body {
            Body::ValidationGuide(body) => Some(body),
            _ => None,
        }
    }

    /// The outcome map, when this is annex III.
    pub fn as_outcome_map(&self) -> Option<&model::OutcomeMap> {
        match &self.body {
            Body::OutcomeMap(body) => Some(body),
            _ => None,
        }
    }
}

/// Every instrument version of the questionnaire folder, validated.
#[derive(Debug, Clone)]
pub struct Catalogue {
    instruments: BTreeMap<InstrumentRef, Instrument>,
}

impl Catalogue {
    /// Loads and validates every `<id>/v<version>.toml` under `dir`.
    ///
    /// # Errors
    /// [`CatalogueError::Invalid`] lists every problem by file and field path: a file that
    /// is not TOML, an unknown key, a missing field, a duplicate id, a missing stage, a
    /// question of unknown type, a reference to something that does not exist.
    pub fn load(dir: &Path) -> Result<Self, CatalogueError> {
        let display_root = dir.parent().unwrap_or(dir);
        let files = instrument_files(dir)?;
        if files.is_empty() {
            return Err(CatalogueError::Empty {
                dir: dir.to_path_buf(),
            });
        }
        let sources = files
            .into_iter()
            .map(|file| {
                let shown = file
                    .path
                    .strip_prefix(display_root)
                    .unwrap_or(&file.path)
                    .to_path_buf();
                let text = std::fs::read_to_string(&file.path)
                    .map_err(|error| format!("cannot read the file: {error}"));
                (file, shown, text)
            })
            .collect();
        Self::assemble(sources)
    }

    /// Loads and validates instruments given as text: each pair is a path under the
    /// catalogue folder (`<id>/v<version>.toml`) and the file's content. The same checks
    /// as [`Catalogue::load`], without reading a folder (problems name the files as
    /// `questionnaires/<path>`).
    ///
    /// # Errors
    /// [`CatalogueError::Empty`] for no sources; [`CatalogueError::Invalid`] as for
    /// [`Catalogue::load`].
    pub fn from_sources(sources: &[(String, String)]) -> Result<Self, CatalogueError> {
        if sources.is_empty() {
            return Err(CatalogueError::Empty {
                dir: PathBuf::from("questionnaires"),
            });
        }
        let sources = sources
            .iter()
            .map(|(path, text)| {
                let (folder, name) = path.rsplit_once('/').unwrap_or(("", path));
                let file = InstrumentFile {
                    path: PathBuf::from(path),
                    folder: folder.to_owned(),
                    version: file_version(name).filter(|_| !folder.is_empty()),
                };
                (
                    file,
                    Path::new("questionnaires").join(path),
                    Ok(text.clone()),
                )
            })
            .collect();
        Self::assemble(sources)
    }

    fn assemble(
        sources: Vec<(InstrumentFile, PathBuf, Result<String, String>)>,
    ) -> Result<Self, CatalogueError> {
        let mut problems = Vec::new();
        let mut parsed: Vec<(PathBuf, Instrument)> = Vec::new();
        // Instruments whose file did not parse: references to them are not reported
        // again, the file's own problem says what is wrong.
        let mut unparsed = std::collections::BTreeSet::new();
        for (file, shown, text) in sources {
            let outcome = match text {
                Ok(text) => parse_file(&file, &shown, &text),
                Err(message) => Err(Problem {
                    file: shown.clone(),
                    path: String::new(),
                    message,
                }),
            };
            match outcome {
                Ok(instrument) => parsed.push((shown, instrument)),
                Err(problem) => {
                    if let Some(version) = file.version {
                        unparsed.insert(InstrumentRef {
                            id: file.folder.clone(),
                            version,
                        });
                    }
                    problems.push(problem);
                }
            }
        }
        problems.extend(validate::validate(&parsed, &unparsed));
        if !problems.is_empty() {
            return Err(CatalogueError::Invalid { problems });
        }
        let instruments = parsed
            .into_iter()
            .map(|(_, mut instrument)| {
                instrument.questions = question::derive(&instrument.body);
                (instrument.reference(), instrument)
            })
            .collect();
        Ok(Self { instruments })
    }

    /// Every instrument version, ordered by id then version.
    pub fn instruments(&self) -> impl Iterator<Item = &Instrument> {
        self.instruments.values()
    }

    /// The instrument `id` at `version`.
    pub fn get(&self, id: &str, version: u32) -> Option<&Instrument> {
        self.instruments.get(&InstrumentRef {
            id: id.to_owned(),
            version,
        })
    }

    /// The latest version of instrument `id`.
    pub fn latest(&self, id: &str) -> Option<&Instrument> {
        self.instruments
            .range(
                InstrumentRef {
                    id: id.to_owned(),
                    version: 0,
                }..=InstrumentRef {
                    id: id.to_owned(),
                    version: u32::MAX,
                },
            )
            .next_back()
            .map(|(_, instrument)| instrument)
    }

    /// How many instrument versions the catalogue holds.
    pub fn len(&self) -> usize {
        self.instruments.len()
    }

    /// Whether the catalogue is empty (never true for a loaded catalogue).
    pub fn is_empty(&self) -> bool {
        self.instruments.is_empty()
    }
}

struct InstrumentFile {
    path: PathBuf,
    folder: String,
    version: Option<u32>,
}

/// Lists `<id>/v<version>.toml` files in a stable order. A `.toml` file anywhere else, or
/// one whose name is not `v<version>.toml`, is listed too (with no version) so that the
/// loader reports it instead of ignoring it.
fn instrument_files(dir: &Path) -> Result<Vec<InstrumentFile>, CatalogueError> {
    let unreadable = |source| CatalogueError::Unreadable {
        dir: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(unreadable)?
        .collect::<Result<_, _>>()
        .map_err(unreadable)?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            let mut inner: Vec<_> = std::fs::read_dir(&path)
                .map_err(unreadable)?
                .collect::<Result<_, _>>()
                .map_err(unreadable)?;
            inner.sort_by_key(std::fs::DirEntry::file_name);
            for file in inner {
                let file_name = file.file_name().to_string_lossy().into_owned();
                if !file_name.ends_with(".toml") {
                    continue;
                }
                let version = file_version(&file_name);
                files.push(InstrumentFile {
                    path: file.path(),
                    folder: name.clone(),
                    version,
                });
            }
        } else if name.ends_with(".toml") {
            files.push(InstrumentFile {
                path,
                folder: String::new(),
                version: None,
            });
        }
    }
    Ok(files)
}

/// The version of a file named `v<version>.toml` (from 1).
fn file_version(file_name: &str) -> Option<u32> {
    file_name
        .strip_prefix('v')
        .and_then(|rest| rest.strip_suffix(".toml"))
        .and_then(|number| number.parse::<u32>().ok())
        .filter(|version| *version > 0)
}

fn parse_file(file: &InstrumentFile, shown: &Path, source: &str) -> Result<Instrument, Problem> {
    let problem = |path: &str, message: String| Problem {
        file: shown.to_path_buf(),
        path: path.to_owned(),
        message,
    };
    let Some(file_version) = file.version else {
        return Err(problem(
            "",
            "instrument files must be named <instrument-id>/v<version>.toml".to_owned(),
        ));
    };
    let mut value: toml::Value = toml::from_str(source).map_err(|error| {
        let location = error
            .span()
            .map(|span| line_column(source, span.start))
            .map(|(line, column)| format!(" at line {line}, column {column}"))
            .unwrap_or_default();
        problem(
            "",
            format!("not valid TOML{location}: {}", error.message().trim()),
        )
    })?;
    text::fold_translations(&mut value, "").map_err(|(path, message)| problem(&path, message))?;
    let kind = value
        .get("instrument")
        .and_then(|header| header.get("kind"))
        .and_then(toml::Value::as_str)
        .ok_or_else(|| problem("instrument.kind", "missing field `kind`".to_owned()))?;
    let (header, notes, body) = match kind {
        "stage-questionnaire" => typed::<model::StageQuestionnaireFile>(value, shown)?.into_parts(),
        "drivers" => typed::<model::DriversFile>(value, shown)?.into_parts(),
        "questionnaire" => typed::<model::QuestionnaireFile>(value, shown)?.into_parts(),
        "validation-guide" => typed::<model::ValidationGuideFile>(value, shown)?.into_parts(),
        "outcome-map" => typed::<model::OutcomeMapFile>(value, shown)?.into_parts(),
        other => {
            return Err(problem(
                "instrument.kind",
                format!(
                    "unknown instrument kind `{other}`, expected one of stage-questionnaire, drivers, questionnaire, validation-guide, outcome-map"
                ),
            ));
        }
    };
    if header.id != file.folder {
        return Err(problem(
            "instrument.id",
            format!(
                "id `{}` does not match its folder `{}`",
                header.id, file.folder
            ),
        ));
    }
    if header.version != file_version {
        return Err(problem(
            "instrument.version",
            format!(
                "version {} does not match the file name v{file_version}.toml",
                header.version
            ),
        ));
    }
    Ok(Instrument {
        header,
        notes,
        body,
        questions: Vec::new(),
    })
}

/// 1-based line and column of a byte offset.
fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn typed<T: DeserializeOwned>(value: toml::Value, shown: &Path) -> Result<T, Problem> {
    serde_path_to_error::deserialize(value).map_err(|error| Problem {
        file: shown.to_path_buf(),
        path: error.path().to_string(),
        // The first line says what is wrong; the path already says where.
        message: error
            .inner()
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned(),
    })
}
