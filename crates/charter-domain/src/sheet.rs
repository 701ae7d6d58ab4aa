//! Spreadsheet import: a questionnaire kept in a spreadsheet becomes a draft policy YAML.
//!
//! Risk teams often start from questionnaires kept in Excel or LibreOffice. [`import_sheet`] reads
//! one (`.xlsx`, `.ods` or `.csv`, from bytes: no file IO here) and writes a draft policy in
//! Charter's YAML format, one stage per `stage`, one evidence set per `section`, one input per
//! question, in sheet order. Rows it cannot map are reported by their row number, as the
//! spreadsheet shows it, and left out; the draft always lints without errors.
//!
//! # Columns
//!
//! The first non-empty row is the header. Column names are case-insensitive, in any order; spaces,
//! `_` and `-` in them are ignored (`Help text` = `help_text` = `helptext`). Only `question` is
//! required. Other columns are reported and ignored.
//!
//! | column | meaning | default |
//! |---|---|---|
//! | `stage` | stage name; blank continues the stage above | the policy name |
//! | `section` | evidence-set name; blank continues the section above | the stage name |
//! | `question` | the question's label (**required**) | |
//! | `type` | see below | `textarea` |
//! | `options` | choices, separated by `;` or `\|` (or one per line in the cell) | |
//! | `required` | `yes`/`no`, `true`/`false`, `1`/`0`, `x`/blank | no |
//! | `help` (`help text`) | help text under the question | |
//! | `alias` (`aliasForClassification`) | the answer's name in classification rules | |
//! | `id` | a stable input id | the alias, else `<section id>.<slug of question>` |
//!
//! Types: `textinput`, `textarea`, `radio`, `select`, `multiselect`, `checkbox`, `date`, `numeric`,
//! `file`, and friendly synonyms: `text`/`short text` (textinput), `long text`/`paragraph`
//! (textarea), `yes/no` (radio with options Yes and No unless `options` says otherwise),
//! `dropdown`/`list` (select), `multi`/`multi-select` (multiselect), `checkboxes`/`tick box`
//! (checkbox), `number`/`integer`/`decimal` (numeric), `upload`/`attachment` (file). Radio, select,
//! multiselect and checkbox questions need options; other types take none.
//!
//! A blank `stage` or `section` continues the one above, so a sheet may name each only once, or
//! merge its cells down a group of rows; a row with only a stage or a section (no question, no
//! other cell) is a heading that starts them. Evidence-set ids are `Local.<slug of the section>` (a
//! `-2`, `-3` … suffix keeps them unique). The draft has no classification rule, visibility
//! conditions or approvals: the spreadsheet does not say them, so the author adds them (the draft
//! carries a commented approval per stage as a starting point).
//!
//! # Rows
//!
//! Row numbers are 1-based, as the spreadsheet shows them: blank rows count, and in a CSV file a
//! cell spanning several lines is still one row. A [`RowProblem`] with row `0` concerns the whole
//! file (unreadable, empty, nothing to import). A CSV file must be UTF-8; its delimiter (`,`, `;`
//! or tab) is taken from the header line. Workbooks are read from their first sheet.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Cursor;

use calamine::{Data, Ods, Reader, Xlsx};

use crate::policy;

/// A spreadsheet file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SheetFormat {
    /// Comma- (or semicolon-, or tab-) separated values, UTF-8.
    Csv,
    /// Excel workbook (`.xlsx`, `.xlsm`).
    Xlsx,
    /// OpenDocument spreadsheet (`.ods`).
    Ods,
}

impl SheetFormat {
    /// The format for a file extension (`xlsx`, `xlsm`, `ods`, `csv`, `tsv`; any case, with or
    /// without the dot).
    pub fn from_extension(extension: &str) -> Option<Self> {
        match extension.trim_start_matches('.').to_ascii_lowercase().as_str() {
            "csv" | "tsv" | "txt" => Some(Self::Csv),
            "xlsx" | "xlsm" => Some(Self::Xlsx),
            "ods" => Some(Self::Ods),
            _ => None,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Csv => "a CSV file",
            Self::Xlsx => "an .xlsx workbook",
            Self::Ods => "an .ods spreadsheet",
        }
    }
}

/// The result of [`import_sheet`]: the draft policy and the rows that could not be mapped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SheetImport {
    /// The draft policy YAML; empty when no question could be imported.
    pub yaml: String,
    /// Rows left out of the draft (and file-level problems, with row 0), in row order.
    pub problems: Vec<RowProblem>,
}

/// A row that could not be mapped to a question, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowProblem {
    /// 1-based row number as the spreadsheet shows it; 0 for a problem with the whole file.
    pub row: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for RowProblem {
    /// `row 7: …`, or `sheet: …` for row 0.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.row == 0 {
            write!(f, "sheet: {}", self.message)
        } else {
            write!(f, "row {}: {}", self.row, self.message)
        }
    }
}

/// Turn a questionnaire spreadsheet into a draft policy YAML. `policy_name` heads the draft and
/// names the stage when the sheet has no `stage` column. See the [module docs](self) for the
/// columns.
pub fn import_sheet(bytes: &[u8], format: SheetFormat, policy_name: &str) -> SheetImport {
    let mut problems = Vec::new();
    let rows = match format {
        SheetFormat::Csv => read_csv(bytes, &mut problems),
        SheetFormat::Xlsx => read_workbook::<Xlsx<_>>(bytes, format),
        SheetFormat::Ods => read_workbook::<Ods<_>>(bytes, format),
    };
    let rows = match rows {
        Ok(rows) => rows,
        Err(message) => {
            return SheetImport {
                yaml: String::new(),
                problems: vec![RowProblem { row: 0, message }],
            };
        }
    };
    let policy_name = one_line(policy_name);
    let policy_name = if policy_name.is_empty() {
        "Imported policy".to_owned()
    } else {
        policy_name
    };
    let questions = read_questions(&rows, &policy_name, &mut problems);
    let yaml = if questions.is_empty() {
        String::new()
    } else {
        let yaml = write_policy(&policy_name, &build_stages(questions));
        // The draft is built to lint clean; if it does not, say so rather than hand over a broken policy.
        for d in policy::lint(&yaml).errors() {
            problems.push(RowProblem {
                row: 0,
                message: format!("The draft does not lint (a bug in the importer; please report it): {d}"),
            });
        }
        yaml
    };
    problems.sort_by_key(|p| p.row);
    SheetImport { yaml, problems }
}

// ---- reading cells --------------------------------------------------------------------------

/// One spreadsheet row: its number as shown, and its cells as text.
struct Row {
    number: usize,
    cells: Vec<String>,
}

impl Row {
    fn is_blank(&self) -> bool {
        self.cells.iter().all(|c| c.trim().is_empty())
    }

    fn cell(&self, column: Option<usize>) -> &str {
        column.and_then(|i| self.cells.get(i)).map_or("", |c| c.trim())
    }
}

/// Read a CSV file. Rows that are not UTF-8 are reported and left out.
fn read_csv(bytes: &[u8], problems: &mut Vec<RowProblem>) -> Result<Vec<Row>, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first_line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let delimiter = [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| (first_line.iter().filter(|b| *b == d).count(), *d == b','))
        .unwrap_or(b',');
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(bytes);
    let mut rows = Vec::new();
    // A quoted cell may span lines; the spreadsheet still shows one row, so count those lines out.
    let mut extra_lines = 0usize;
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let row = e
                    .position()
                    .map_or(0, |p| line_number(p.line()).saturating_sub(extra_lines));
                return Err(format!(
                    "The file could not be read as CSV near row {row}: {e}; save it again as CSV (UTF-8)."
                ));
            }
        }
        let line = record.position().map_or(1, |p| line_number(p.line()));
        let number = line.saturating_sub(extra_lines);
        extra_lines += record
            .iter()
            .map(|f| f.iter().filter(|&&b| b == b'\n').count())
            .sum::<usize>();
        let cells: Result<Vec<String>, _> = record.iter().map(|f| String::from_utf8(f.to_vec())).collect();
        match cells {
            Ok(cells) => rows.push(Row { number, cells }),
            Err(_) => problems.push(RowProblem {
                row: number,
                message: "This row is not valid UTF-8 text; save the sheet as \"CSV UTF-8\" and import it again."
                    .to_owned(),
            }),
        }
    }
    Ok(rows)
}

fn line_number(line: u64) -> usize {
    usize::try_from(line).unwrap_or(usize::MAX)
}

/// Read the first sheet of a workbook.
fn read_workbook<R>(bytes: &[u8], format: SheetFormat) -> Result<Vec<Row>, String>
where
    R: Reader<Cursor<Vec<u8>>>,
    R::Error: fmt::Display,
{
    let unreadable = |e: &dyn fmt::Display| {
        format!(
            "The file could not be read as {}: {e}; check that it is one, or choose the right format.",
            format.describe()
        )
    };
    let mut workbook = R::new(Cursor::new(bytes.to_vec())).map_err(|e| unreadable(&e))?;
    let range = match workbook.worksheet_range_at(0) {
        None => return Err("The workbook has no sheet; put the questions on its first sheet.".to_owned()),
        Some(range) => range.map_err(|e| unreadable(&e))?,
    };
    // The range starts at the first used cell; rows above it are blank in the spreadsheet.
    let first_row = range.start().map_or(0, |(row, _)| row as usize);
    Ok(range
        .rows()
        .enumerate()
        .map(|(i, cells)| Row {
            number: first_row + i + 1,
            cells: cells.iter().map(cell_text).collect(),
        })
        .collect())
}

fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        // `1.0` shows as `1`, as in the spreadsheet.
        other => other.to_string(),
    }
}

// ---- columns and rows -----------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Column {
    Stage,
    Section,
    Question,
    Type,
    Options,
    Required,
    Help,
    Alias,
    Id,
}

const COLUMN_NAMES: &str = "stage, section, question, type, options, required, help, alias, id";

impl Column {
    fn from_header(header: &str) -> Option<Self> {
        let key: String = header
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '_' | '-'))
            .flat_map(char::to_lowercase)
            .collect();
        Some(match key.as_str() {
            "stage" => Self::Stage,
            "section" | "evidenceset" => Self::Section,
            "question" | "label" => Self::Question,
            "type" | "questiontype" | "answertype" => Self::Type,
            "options" | "choices" => Self::Options,
            "required" | "mandatory" => Self::Required,
            "help" | "helptext" => Self::Help,
            "alias" | "aliasforclassification" => Self::Alias,
            "id" => Self::Id,
            _ => return None,
        })
    }
}

/// What kind of answer a question takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum QuestionType {
    TextInput,
    TextArea,
    Radio,
    Select,
    MultiSelect,
    Checkbox,
    Date,
    Numeric,
    File,
}

impl QuestionType {
    fn yaml_name(self) -> &'static str {
        match self {
            Self::TextInput => "textinput",
            Self::TextArea => "textarea",
            Self::Radio => "radio",
            Self::Select => "select",
            Self::MultiSelect => "multiselect",
            Self::Checkbox => "checkbox",
            Self::Date => "date",
            Self::Numeric => "numeric",
            Self::File => "file",
        }
    }

    fn has_options(self) -> bool {
        matches!(self, Self::Radio | Self::Select | Self::MultiSelect | Self::Checkbox)
    }

    fn artifact_type(self) -> &'static str {
        if self == Self::File { "metadata" } else { "input" }
    }
}

const TYPE_NAMES: &str = "text, long text, yes/no, radio, dropdown, multi, checkbox, date, number, file (or Charter's \
                          own: textinput, textarea, select, multiselect, numeric)";

/// A `type` cell: the question type, and the options it implies (`yes/no`).
fn parse_type(text: &str) -> Option<(QuestionType, &'static [&'static str])> {
    let key = text
        .to_lowercase()
        .replace(['_', '-'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let kind = match key.as_str() {
        "" | "textarea" | "text area" | "long text" | "paragraph" | "multiline" | "multi line" | "free text" => {
            QuestionType::TextArea
        }
        "textinput" | "text input" | "text" | "short text" | "single line" | "string" => QuestionType::TextInput,
        "yes/no" | "yes no" | "yesno" | "y/n" | "boolean" => return Some((QuestionType::Radio, &["Yes", "No"])),
        "radio" | "radio button" | "radio buttons" | "single choice" => QuestionType::Radio,
        "select" | "dropdown" | "drop down" | "list" | "single select" | "picklist" | "pick list" => {
            QuestionType::Select
        }
        "multiselect" | "multi select" | "multi" | "multiple" | "multi choice" | "multiple select" => {
            QuestionType::MultiSelect
        }
        "checkbox" | "checkboxes" | "check box" | "check boxes" | "tick box" | "tick boxes" | "tickbox" => {
            QuestionType::Checkbox
        }
        "date" => QuestionType::Date,
        "numeric" | "number" | "integer" | "decimal" => QuestionType::Numeric,
        "file" | "file upload" | "upload" | "attachment" => QuestionType::File,
        _ => return None,
    };
    Some((kind, &[]))
}

fn parse_required(text: &str) -> Option<bool> {
    match text.trim().to_lowercase().as_str() {
        "" | "no" | "n" | "false" | "0" | "optional" => Some(false),
        "yes" | "y" | "true" | "1" | "x" | "required" | "mandatory" => Some(true),
        _ => None,
    }
}

/// Ids and aliases: letters, digits, `.`, `_`, `-`, `:` (as the policy linter requires for ids).
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'))
}

/// One question read from a row.
struct Question {
    row: usize,
    stage: String,
    section: String,
    label: String,
    kind: QuestionType,
    options: Vec<String>,
    required: bool,
    help: Option<String>,
    alias: Option<String>,
    id: Option<String>,
}

/// Read the header and every question row, reporting (and leaving out) rows that do not map.
fn read_questions(rows: &[Row], policy_name: &str, problems: &mut Vec<RowProblem>) -> Vec<Question> {
    let Some(header_at) = rows.iter().position(|r| !r.is_blank()) else {
        problems.push(RowProblem {
            row: 0,
            message: format!(
                "The sheet is empty; put a header row ({COLUMN_NAMES}) on top and one question per row below it."
            ),
        });
        return Vec::new();
    };
    let header = &rows[header_at];
    let mut columns: HashMap<Column, usize> = HashMap::new();
    for (index, name) in header.cells.iter().enumerate() {
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        match Column::from_header(name) {
            Some(column) if columns.contains_key(&column) => problems.push(RowProblem {
                row: header.number,
                message: format!(
                    "The column `{name}` appears twice; only the first is read, so remove or rename the other."
                ),
            }),
            Some(column) => {
                columns.insert(column, index);
            }
            None => problems.push(RowProblem {
                row: header.number,
                message: format!(
                    "The column `{name}` is not one Charter reads, so it is ignored; the columns are: {COLUMN_NAMES}."
                ),
            }),
        }
    }
    if !columns.contains_key(&Column::Question) {
        problems.push(RowProblem {
            row: header.number,
            message: format!(
                "The header row has no `question` column; name the column that holds the questions `question` (the \
                 columns are: {COLUMN_NAMES})."
            ),
        });
        return Vec::new();
    }
    let col = |c: Column| columns.get(&c).copied();

    let mut questions = Vec::new();
    let mut stage = policy_name.to_owned();
    let mut section: Option<String> = None;
    for row in &rows[header_at + 1..] {
        if row.is_blank() {
            continue;
        }
        // Stage and section carry on to the rows below even when this row is left out.
        let stage_cell = one_line(row.cell(col(Column::Stage)));
        if !stage_cell.is_empty() && stage_cell != stage {
            stage = stage_cell;
            section = None;
        }
        let section_cell = one_line(row.cell(col(Column::Section)));
        if !section_cell.is_empty() {
            section = Some(section_cell);
        }
        let mut report = |message: String| {
            problems.push(RowProblem {
                row: row.number,
                message,
            });
        };

        let mut ok = true;
        let label = row.cell(col(Column::Question)).to_owned();
        let heading_only = [
            Column::Type,
            Column::Options,
            Column::Required,
            Column::Help,
            Column::Alias,
            Column::Id,
        ]
        .into_iter()
        .all(|c| row.cell(col(c)).is_empty());
        if label.is_empty() && heading_only {
            // A row naming only a stage or a section is a heading: it starts them, and asks nothing.
            continue;
        }
        if label.is_empty() {
            report("This row has no question; write it in the `question` column, or clear the row.".to_owned());
            ok = false;
        }
        let type_cell = row.cell(col(Column::Type));
        let options_cell = row.cell(col(Column::Options));
        let mut options: Vec<String> = Vec::new();
        for option in options_cell
            .split([';', '|', '\n'])
            .map(str::trim)
            .filter(|o| !o.is_empty())
        {
            if !options.iter().any(|o| o == option) {
                options.push(option.to_owned());
            }
        }
        let kind = match parse_type(type_cell) {
            None => {
                report(format!(
                    "The type `{type_cell}` is not a question type Charter knows; use one of: {TYPE_NAMES}."
                ));
                ok = false;
                None
            }
            Some((kind, implied)) => {
                if options.is_empty() {
                    options = implied.iter().map(|o| (*o).to_owned()).collect();
                }
                let shown = if type_cell.is_empty() {
                    kind.yaml_name()
                } else {
                    type_cell
                };
                if kind.has_options() && options.is_empty() {
                    report(format!(
                        "A `{shown}` question needs options to choose from; list them in the `options` column, \
                         separated by `;` or `|`."
                    ));
                    ok = false;
                } else if !kind.has_options() && !options.is_empty() {
                    report(format!(
                        "This row has options, but a `{shown}` question takes none; make the type radio, dropdown, \
                         multi or checkbox, or clear the options."
                    ));
                    ok = false;
                }
                Some(kind)
            }
        };
        let required_cell = row.cell(col(Column::Required));
        let required = parse_required(required_cell).unwrap_or_else(|| {
            report(format!(
                "`required` is `{required_cell}`; write yes or no (true/false, 1/0 and x/blank work too)."
            ));
            ok = false;
            false
        });
        let id = Some(row.cell(col(Column::Id)).to_owned()).filter(|s| !s.is_empty());
        if let Some(id) = &id
            && !valid_id(id)
        {
            report(format!(
                "The id `{id}` may only use letters, digits, `.`, `_`, `-` and `:`; fix it, or leave it blank for a \
                 generated one."
            ));
            ok = false;
        }
        let alias = Some(row.cell(col(Column::Alias)).to_owned()).filter(|s| !s.is_empty());
        if let Some(alias) = &alias
            && !valid_id(alias)
        {
            report(format!(
                "The alias `{alias}` may only use letters, digits, `.`, `_`, `-` and `:` (e.g. `personal_data`); fix \
                 it, or leave it blank."
            ));
            ok = false;
        }
        let help = Some(row.cell(col(Column::Help)).to_owned()).filter(|s| !s.is_empty());
        if let (true, Some(kind)) = (ok, kind) {
            let section = section.clone().unwrap_or_else(|| stage.clone());
            questions.push(Question {
                row: row.number,
                stage: stage.clone(),
                section,
                label,
                kind,
                options,
                required,
                help,
                alias,
                id,
            });
        }
    }
    let questions = drop_duplicate_names(questions, problems);
    if questions.is_empty() {
        problems.push(RowProblem {
            row: 0,
            message: if rows[header_at + 1..].iter().all(Row::is_blank) {
                "The sheet has a header row but no questions below it; add one question per row.".to_owned()
            } else {
                "No question could be imported, so there is no draft; fix the rows reported here.".to_owned()
            },
        });
    }
    questions
}

/// Leave out rows whose `id` or `alias` an earlier row already uses.
fn drop_duplicate_names(questions: Vec<Question>, problems: &mut Vec<RowProblem>) -> Vec<Question> {
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut aliases: HashMap<String, usize> = HashMap::new();
    let mut kept = Vec::new();
    for q in questions {
        let mut ok = true;
        if let Some(id) = &q.id
            && let Some(first) = ids.get(id)
        {
            problems.push(RowProblem {
                row: q.row,
                message: format!("The id `{id}` is already used on row {first}; answers are stored by id, so give each question its own."),
            });
            ok = false;
        }
        if let Some(alias) = &q.alias
            && let Some(first) = aliases.get(alias)
        {
            problems.push(RowProblem {
                row: q.row,
                message: format!(
                    "The alias `{alias}` is already used on row {first}; each alias names one question, so rename one."
                ),
            });
            ok = false;
        }
        if ok {
            if let Some(id) = &q.id {
                ids.insert(id.clone(), q.row);
            }
            if let Some(alias) = &q.alias {
                aliases.insert(alias.clone(), q.row);
            }
            kept.push(q);
        }
    }
    kept
}

// ---- building the draft ---------------------------------------------------------------------

struct StageDraft {
    name: String,
    sets: Vec<SetDraft>,
}

struct SetDraft {
    id: String,
    name: String,
    inputs: Vec<InputDraft>,
}

struct InputDraft {
    id: String,
    question: Question,
}

/// Group questions into stages and sections (first appearance decides the order) and give every
/// set and input a unique id.
fn build_stages(questions: Vec<Question>) -> Vec<StageDraft> {
    let explicit: HashSet<String> = questions.iter().filter_map(|q| q.id.clone()).collect();
    let mut input_ids: HashSet<String> = explicit.clone();
    let mut set_ids: HashSet<String> = HashSet::new();
    let mut stages: Vec<StageDraft> = Vec::new();
    for question in questions {
        let stage_at = match stages.iter().position(|s| s.name == question.stage) {
            Some(i) => i,
            None => {
                stages.push(StageDraft {
                    name: question.stage.clone(),
                    sets: Vec::new(),
                });
                stages.len() - 1
            }
        };
        let stage = &mut stages[stage_at];
        let set_at = match stage.sets.iter().position(|s| s.name == question.section) {
            Some(i) => i,
            None => {
                let id = unique(format!("Local.{}", slug(&question.section, "section")), &mut set_ids);
                stage.sets.push(SetDraft {
                    id,
                    name: question.section.clone(),
                    inputs: Vec::new(),
                });
                stage.sets.len() - 1
            }
        };
        let set = &mut stage.sets[set_at];
        let id = match &question.id {
            Some(id) => id.clone(),
            None => {
                let base = match &question.alias {
                    Some(alias) if !explicit.contains(alias) => alias.clone(),
                    _ => format!("{}.{}", set.id, slug(&question.label, "input")),
                };
                unique(base, &mut input_ids)
            }
        };
        set.inputs.push(InputDraft { id, question });
    }
    stages
}

/// `base`, or `base-2`, `base-3` … whichever is not taken yet; marks it taken.
fn unique(base: String, taken: &mut HashSet<String>) -> String {
    let mut candidate = base.clone();
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = format!("{base}-{n}");
        n += 1;
    }
    taken.insert(candidate.clone());
    candidate
}

/// Lower-case ASCII letters and digits, other runs of characters turned into one `-`, at most 64
/// characters (cut at a `-` where possible): the same slug the policy engine derives input ids with.
fn slug(text: &str, fallback: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out = out.trim_end_matches('-').to_owned();
    if out.len() > 64 {
        let cut = out[..64].rfind('-').filter(|&i| i >= 32).unwrap_or(64);
        out.truncate(cut);
    }
    if out.is_empty() { fallback.to_owned() } else { out }
}

/// Collapse a cell to one line (names and headings).
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---- writing YAML ---------------------------------------------------------------------------

fn write_policy(policy_name: &str, stages: &[StageDraft]) -> String {
    let mut y = String::new();
    let line = |y: &mut String, indent: usize, text: &str| {
        y.push_str(&" ".repeat(indent));
        y.push_str(text);
        y.push('\n');
    };
    line(&mut y, 0, &format!("# {policy_name}"));
    for text in [
        "#",
        "# Draft imported from a spreadsheet questionnaire. Before publishing it, check each question's",
        "# type and options, then add what a spreadsheet cannot say: a classification rule over the",
        "# `aliasForClassification` answers, visibility conditions for sections that only sometimes apply,",
        "# approvals (who signs off each stage) and `tests:`; lint it after every change.",
        "stages:",
    ] {
        line(&mut y, 0, text);
    }
    for stage in stages {
        line(&mut y, 2, &format!("- name: {}", scalar(&stage.name)));
        line(&mut y, 4, "evidenceSet:");
        for set in &stage.sets {
            line(&mut y, 6, &format!("- id: {}", scalar(&set.id)));
            line(&mut y, 8, &format!("name: {}", scalar(&set.name)));
            line(&mut y, 8, "definition:");
            for input in &set.inputs {
                let q = &input.question;
                line(&mut y, 10, &format!("- artifactType: {}", q.kind.artifact_type()));
                line(&mut y, 12, &format!("id: {}", scalar(&input.id)));
                if let Some(alias) = &q.alias {
                    line(&mut y, 12, &format!("aliasForClassification: {}", scalar(alias)));
                }
                if q.required {
                    line(&mut y, 12, "required: true");
                }
                line(&mut y, 12, "details:");
                line(&mut y, 14, &format!("type: {}", q.kind.yaml_name()));
                line(&mut y, 14, &format!("label: {}", scalar(&q.label)));
                if let Some(help) = &q.help {
                    line(&mut y, 14, &format!("helpText: {}", scalar(help)));
                }
                if !q.options.is_empty() {
                    let options: Vec<String> = q.options.iter().map(|o| scalar(o)).collect();
                    line(&mut y, 14, &format!("options: [{}]", options.join(", ")));
                }
            }
        }
        line(&mut y, 4, "# approvals:");
        line(
            &mut y,
            4,
            &format!("#   - name: {}", scalar(&format!("{} sign-off", stage.name))),
        );
        line(&mut y, 4, "#     approvers: [a-group-name]");
    }
    y
}

/// A YAML scalar: plain where that is unambiguous, otherwise double-quoted (JSON string syntax,
/// which YAML reads the same way).
fn scalar(text: &str) -> String {
    let plain = text.chars().next().is_some_and(|c| c.is_alphabetic())
        && !text.ends_with(char::is_whitespace)
        && text.chars().all(|c| {
            c.is_alphanumeric()
                || matches!(
                    c,
                    ' ' | '.' | '-' | '_' | '/' | '(' | ')' | '\'' | '?' | '!' | '&' | '%' | '+'
                )
        })
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "yes" | "no" | "y" | "n" | "true" | "false" | "on" | "off" | "null"
        );
    if plain {
        text.to_owned()
    } else {
        serde_json::Value::String(text.to_owned()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn friendly_type_names() {
        assert_eq!(parse_type("Long text").map(|t| t.0), Some(QuestionType::TextArea));
        assert_eq!(parse_type("").map(|t| t.0), Some(QuestionType::TextArea));
        assert_eq!(parse_type("TEXT").map(|t| t.0), Some(QuestionType::TextInput));
        assert_eq!(parse_type("Yes/No"), Some((QuestionType::Radio, &["Yes", "No"][..])));
        assert_eq!(parse_type("drop-down").map(|t| t.0), Some(QuestionType::Select));
        assert_eq!(parse_type("Multi").map(|t| t.0), Some(QuestionType::MultiSelect));
        assert_eq!(parse_type("multi_select").map(|t| t.0), Some(QuestionType::MultiSelect));
        assert_eq!(parse_type("number").map(|t| t.0), Some(QuestionType::Numeric));
        assert_eq!(parse_type("slider"), None);
    }

    #[test]
    fn required_values() {
        for yes in ["yes", "Y", "TRUE", "1", "x", "X"] {
            assert_eq!(parse_required(yes), Some(true), "{yes}");
        }
        for no in ["", "no", "N", "false", "0"] {
            assert_eq!(parse_required(no), Some(false), "{no}");
        }
        assert_eq!(parse_required("maybe"), None);
    }

    #[test]
    fn scalars_are_quoted_only_when_needed() {
        assert_eq!(scalar("Use case"), "Use case");
        assert_eq!(scalar("Does it use personal data?"), "Does it use personal data?");
        assert_eq!(scalar("Yes"), "\"Yes\"");
        assert_eq!(scalar("Owner: name"), "\"Owner: name\"");
        assert_eq!(scalar("a, b"), "\"a, b\"");
        assert_eq!(scalar("2024"), "\"2024\"");
        assert_eq!(scalar("say \"hi\"\nnow"), "\"say \\\"hi\\\"\\nnow\"");
        assert_eq!(scalar("# not a comment"), "\"# not a comment\"");
    }

    #[test]
    fn slugs_match_the_policy_engine() {
        assert_eq!(slug("Use case & ownership", "x"), "use-case-ownership");
        assert_eq!(slug("???", "section"), "section");
        assert!(slug(&"word ".repeat(40), "x").len() <= 64);
    }

    #[test]
    fn csv_delimiter_follows_the_header() {
        let mut problems = Vec::new();
        let rows = read_csv(b"section;question\nA;Why, and how?\n", &mut problems).unwrap();
        assert_eq!(rows[1].cells, ["A", "Why, and how?"]);
        assert!(problems.is_empty());
    }
}
