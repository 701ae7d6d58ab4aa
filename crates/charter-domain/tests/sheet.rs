//! Spreadsheet import: questionnaires in .csv, .xlsx and .ods become draft policies that lint,
//! and rows that cannot be mapped are reported by the row number the spreadsheet shows.

use std::fs;
use std::path::PathBuf;

use charter_domain::policy::{ArtifactType, InputType, LintReport, Policy, lint};
use charter_domain::sheet::{RowProblem, SheetFormat, SheetImport, import_sheet};

fn sample(extension: &str) -> Vec<u8> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../policies/sample-questionnaire.{extension}"));
    fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn render(report: &LintReport) -> String {
    report
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Lint the draft: no error, no warning.
fn lint_clean(import: &SheetImport) -> Policy {
    let report = lint(&import.yaml);
    assert!(
        report.diagnostics.is_empty(),
        "{}\n---\n{}",
        render(&report),
        import.yaml
    );
    report.policy.unwrap()
}

fn csv(text: &str) -> SheetImport {
    import_sheet(text.as_bytes(), SheetFormat::Csv, "Test intake")
}

/// The row numbers of the problems, for compact assertions.
fn rows(problems: &[RowProblem]) -> Vec<usize> {
    problems.iter().map(|p| p.row).collect()
}

#[test]
fn the_sample_sheet_gives_the_same_policy_from_csv_xlsx_and_ods() {
    let import = |extension: &str| {
        let format = SheetFormat::from_extension(extension).unwrap();
        let import = import_sheet(&sample(extension), format, "General Intake (from spreadsheet)");
        assert_eq!(import.problems, [], "{extension}");
        import
    };
    let from_csv = import("csv");
    assert_eq!(import("xlsx").yaml, from_csv.yaml, "xlsx and csv differ");
    assert_eq!(import("ods").yaml, from_csv.yaml, "ods and csv differ");
    lint_clean(&from_csv);
}

#[test]
fn the_sample_sheet_maps_every_column() {
    let policy = lint_clean(&import_sheet(&sample("xlsx"), SheetFormat::Xlsx, "General Intake"));
    let stages: Vec<&str> = policy.stages().iter().map(|s| s.name()).collect();
    assert_eq!(stages, ["Intake", "Review"]);
    let sets: Vec<(&str, &str, &str)> = policy.evidence_sets().map(|s| (s.stage(), s.id(), s.name())).collect();
    assert_eq!(
        sets,
        [
            ("Intake", "Local.use-case", "Use case"),
            ("Intake", "Local.data", "Data"),
            ("Intake", "Local.model", "Model"),
            ("Review", "Local.risk", "Risk"),
        ]
    );
    let ids: Vec<&str> = policy.inputs().map(|i| i.id()).collect();
    assert_eq!(
        ids,
        [
            "use-case-name",
            "Local.use-case.what-does-it-do-and-who-uses-its-outputs",
            "Local.use-case.business-owner",
            "Local.use-case.target-go-live-date",
            "personal_data",
            "Local.data.which-kinds-of-personal-data",
            "Local.data.where-does-the-data-come-from",
            "model_type",
            "Local.model.how-many-people-does-it-affect-each-year",
            "Local.model.model-card-or-design-note",
            "proposed_tier",
            "Local.risk.why-that-tier",
            "Local.risk.safeguards-in-place",
        ]
    );
    let types: Vec<InputType> = policy.inputs().map(|i| i.input_type()).collect();
    use InputType::*;
    assert_eq!(
        types,
        [
            TextInput,
            TextArea,
            TextInput,
            Date,
            Radio,
            MultiSelect,
            TextArea,
            Select,
            Numeric,
            File,
            Radio,
            TextArea,
            Checkbox
        ]
    );
    let required: Vec<bool> = policy.inputs().map(|i| i.required()).collect();
    assert_eq!(
        required,
        [
            true, true, true, false, true, false, true, true, false, false, true, true, false
        ]
    );

    let name = policy.input("use-case-name").unwrap();
    assert_eq!(name.label(), "Name of the use case");
    assert_eq!(name.help_text(), Some("A short name people will recognise"));
    let owner = policy.input("Local.use-case.business-owner").unwrap();
    assert_eq!(owner.help_text(), Some("Name, role and team"));

    let values = |id: &str| -> Vec<String> {
        policy
            .input(id)
            .unwrap()
            .options()
            .iter()
            .map(|o| o.value.clone())
            .collect()
    };
    // `yes/no` gives a radio with Yes and No; options split on `;` and on `|`.
    assert_eq!(values("personal_data"), ["Yes", "No"]);
    assert_eq!(policy.input("personal_data").unwrap().alias(), Some("personal_data"));
    assert_eq!(
        values("model_type"),
        [
            "Statistical model",
            "In-house machine learning",
            "LLM application",
            "Vendor model or service"
        ]
    );
    assert_eq!(values("proposed_tier"), ["Low", "Medium", "High"]);
    assert_eq!(
        policy
            .input("Local.model.model-card-or-design-note")
            .unwrap()
            .artifact_type(),
        ArtifactType::Metadata
    );
}

#[test]
fn a_small_sheet_becomes_this_yaml() {
    let import = csv("question,type,options,required,help,alias\n\
                      Does it use personal data?,yes/no,,yes,\"Names, e-mail addresses, ids\",pii\n\
                      Owner: name and team,text,,,,\n\
                      Which channels?,multi,Web|Slack|E-mail,x,,\n");
    assert_eq!(import.problems, []);
    let expected = r#"# Test intake
#
# Draft imported from a spreadsheet questionnaire. Before publishing it, check each question's
# type and options, then add what a spreadsheet cannot say: a classification rule over the
# `aliasForClassification` answers, visibility conditions for sections that only sometimes apply,
# approvals (who signs off each stage) and `tests:`; lint it after every change.
stages:
  - name: Test intake
    evidenceSet:
      - id: Local.test-intake
        name: Test intake
        definition:
          - artifactType: input
            id: pii
            aliasForClassification: pii
            required: true
            details:
              type: radio
              label: Does it use personal data?
              helpText: "Names, e-mail addresses, ids"
              options: ["Yes", "No"]
          - artifactType: input
            id: Local.test-intake.owner-name-and-team
            details:
              type: textinput
              label: "Owner: name and team"
          - artifactType: input
            id: Local.test-intake.which-channels
            required: true
            details:
              type: multiselect
              label: Which channels?
              options: [Web, Slack, E-mail]
    # approvals:
    #   - name: Test intake sign-off
    #     approvers: [a-group-name]
"#;
    assert_eq!(import.yaml, expected);
    lint_clean(&import);
}

#[test]
fn bad_rows_are_reported_by_row_number_and_left_out() {
    // Row numbers as a spreadsheet shows them: the blank row 3 counts, and the quoted cell on
    // row 4 spans two lines of the file but is one row.
    let import = csv("section,question,type,options,required,id,alias\n\
                      About,Name of the use case,text,,yes,name,\n\
                      \n\
                      About,\"What does it do?\nIn two lines\",long text,,yes,,\n\
                      About,,text,,yes,,\n\
                      About,Risk tier,slider,,,,\n\
                      About,Channel,dropdown,,,,\n\
                      About,Owner,text,Alice;Bob,,,\n\
                      About,Go-live,date,,maybe,,\n\
                      About,Second name,text,,,name,\n\
                      About,Data,yes/no,,,,pii\n\
                      About,More data,yes/no,,,,pii\n\
                      About,Odd id,text,,,has space,\n\
                      About,Odd alias,text,,,,risk level\n\
                      About,Last question,number,,no,,\n");
    let got: Vec<(usize, &str)> = import.problems.iter().map(|p| (p.row, p.message.as_str())).collect();
    let expect_row = |row: usize, fragment: &str| {
        assert!(
            got.iter().any(|(r, m)| *r == row && m.contains(fragment)),
            "no problem on row {row} mentioning {fragment:?}; got:\n{}",
            import
                .problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
    };
    expect_row(5, "no question");
    expect_row(6, "`slider` is not a question type");
    expect_row(7, "needs options");
    expect_row(8, "takes none");
    expect_row(9, "`required` is `maybe`");
    expect_row(10, "`name` is already used on row 2");
    expect_row(12, "`pii` is already used on row 11");
    expect_row(13, "`has space` may only use");
    expect_row(14, "`risk level` may only use");
    assert_eq!(rows(&import.problems), [5, 6, 7, 8, 9, 10, 12, 13, 14]);
    assert_eq!(
        import.problems[0].to_string(),
        format!("row 5: {}", import.problems[0].message)
    );

    let policy = lint_clean(&import);
    let labels: Vec<&str> = policy.inputs().map(|i| i.label()).collect();
    assert_eq!(
        labels,
        [
            "Name of the use case",
            "What does it do?\nIn two lines",
            "Data",
            "Last question"
        ]
    );
}

#[test]
fn stage_and_section_carry_down_and_names_stay_unique() {
    // Row 4 names only a section: a heading, not a problem.
    let import = csv("Stage,Section,Question\n\
                      Intake,Overview,What is it?\n\
                      ,,What is it?\n\
                      ,Data,\n\
                      ,,Which data?\n\
                      Review,Overview,Reviewer notes\n\
                      ,,What is it?\n\
                      Intake,Data,Retention?\n");
    assert_eq!(import.problems, []);
    let policy = lint_clean(&import);
    let stages: Vec<&str> = policy.stages().iter().map(|s| s.name()).collect();
    assert_eq!(stages, ["Intake", "Review"]);
    let sets: Vec<(&str, &str)> = policy.evidence_sets().map(|s| (s.stage(), s.id())).collect();
    assert_eq!(
        sets,
        [
            ("Intake", "Local.overview"),
            ("Intake", "Local.data"),
            ("Review", "Local.overview-2")
        ]
    );
    let ids: Vec<&str> = policy.inputs().map(|i| i.id()).collect();
    assert_eq!(
        ids,
        [
            "Local.overview.what-is-it",
            "Local.overview.what-is-it-2",
            "Local.data.which-data",
            // A stage named again later gets the later rows, in sheet order.
            "Local.data.retention",
            "Local.overview-2.reviewer-notes",
            "Local.overview-2.what-is-it",
        ]
    );
}

#[test]
fn headers_are_case_insensitive_and_unknown_columns_are_reported() {
    let import = csv("QUESTION;Help Text;Owner;Type\nWhy?;Because;Alice;Long Text\n");
    assert_eq!(rows(&import.problems), [1]);
    assert!(
        import.problems[0].message.contains("`Owner` is not one Charter reads"),
        "{:?}",
        import.problems
    );
    let policy = lint_clean(&import);
    let input = policy.inputs().next().unwrap();
    assert_eq!(
        (input.label(), input.help_text(), input.input_type()),
        ("Why?", Some("Because"), InputType::TextArea)
    );
}

#[test]
fn a_sheet_without_questions_gives_no_draft_and_says_why() {
    let no_column = csv("section,type\nA,text\n");
    assert_eq!(no_column.yaml, "");
    assert_eq!(rows(&no_column.problems), [1]);
    assert!(no_column.problems[0].message.contains("no `question` column"));

    let empty = csv("");
    assert_eq!(empty.yaml, "");
    assert_eq!(rows(&empty.problems), [0]);
    assert!(empty.problems[0].to_string().starts_with("sheet: The sheet is empty"));

    let header_only = csv("question,type\n\n");
    assert_eq!(header_only.yaml, "");
    assert_eq!(rows(&header_only.problems), [0]);
    assert!(header_only.problems[0].message.contains("no questions below it"));

    let all_bad = csv("question,type\nWhy?,slider\n");
    assert_eq!(all_bad.yaml, "");
    assert_eq!(rows(&all_bad.problems), [0, 2]);
    assert!(all_bad.problems[0].message.contains("No question could be imported"));
}

#[test]
fn unreadable_workbooks_are_one_problem() {
    for format in [SheetFormat::Xlsx, SheetFormat::Ods] {
        let import = import_sheet(b"this is not a workbook", format, "x");
        assert_eq!(import.yaml, "");
        assert_eq!(rows(&import.problems), [0], "{format:?}");
        assert!(
            import.problems[0].message.contains("could not be read"),
            "{:?}",
            import.problems
        );
    }
    let latin1 = import_sheet(b"question\nCaf\xe9?\nWhy?\n", SheetFormat::Csv, "x");
    assert_eq!(rows(&latin1.problems), [2]);
    assert!(latin1.problems[0].message.contains("UTF-8"));
    lint_clean(&latin1);
}

#[test]
fn xlsx_rows_are_numbered_as_the_spreadsheet_shows_them() {
    use rust_xlsxwriter::{Format, Workbook};
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    // Two blank rows and a blank column before the header, which is row 3.
    let cells: &[(u32, u16, &str)] = &[
        (2, 1, "Section"),
        (2, 2, "Question"),
        (2, 3, "Type"),
        (2, 4, "Required"),
        (2, 5, "Stage"),
        (3, 1, "About"),
        (3, 2, "Name"),
        (3, 3, "text"),
        (4, 2, "Colour"),
        (4, 3, "dropdown"),
        (6, 2, "Why?"),
    ];
    for (row, col, text) in cells {
        sheet.write_string(*row, *col, *text).unwrap();
    }
    // Numbers and booleans in cells read as their text.
    sheet.write_number(3, 4, 1).unwrap();
    sheet.write_boolean(6, 4, false).unwrap();
    // A stage named once in cells merged down its rows; the section is named on its first row only.
    sheet.merge_range(3, 5, 6, 5, "Intake", &Format::new()).unwrap();
    let bytes = workbook.save_to_buffer().unwrap();

    let import = import_sheet(&bytes, SheetFormat::Xlsx, "Workbook");
    assert_eq!(rows(&import.problems), [5], "{:?}", import.problems);
    assert!(import.problems[0].message.contains("needs options"));
    let policy = lint_clean(&import);
    let inputs: Vec<(&str, bool)> = policy.inputs().map(|i| (i.label(), i.required())).collect();
    assert_eq!(inputs, [("Name", true), ("Why?", false)]);
    let sets: Vec<(&str, &str)> = policy.evidence_sets().map(|s| (s.stage(), s.id())).collect();
    assert_eq!(sets, [("Intake", "Local.about")]);
}

#[test]
fn formats_follow_file_extensions() {
    assert_eq!(SheetFormat::from_extension("xlsx"), Some(SheetFormat::Xlsx));
    assert_eq!(SheetFormat::from_extension(".ODS"), Some(SheetFormat::Ods));
    assert_eq!(SheetFormat::from_extension("csv"), Some(SheetFormat::Csv));
    assert_eq!(SheetFormat::from_extension("pdf"), None);
}
