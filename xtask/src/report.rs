//! `cargo xtask regen --report DIR`: the change report as files for a pull request.
//!
//! - `DIR/report.md`: Markdown fit for a pull-request comment (the changes with their wire
//!   verdicts, each counterexample, the Rust API changes), ending with the line
//!   `semver: major|minor|patch`.
//! - `DIR/counterexamples/NN.json` (`01`, `02`, ... in report order): `{"operation":
//!   "INTEGRATION RESOURCE/ACTION", "role": "result|arguments", "valid_under": "old|new",
//!   "payload": ...}`. Acceptance checks read these fields; keep them as they are.
//!
//! The report itself is computed by `passage_codegen::diff` (pure); this module only renders
//! and writes it.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use passage_codegen::api_diff::ApiSeverity;
use passage_codegen::diff::{role_name, ChangeReport, Impact};

/// Writes `report.md` and the counterexample files into `dir` (created if missing). Files of a
/// previous run in `counterexamples/` are removed first, so the folder holds this report's only.
pub(crate) fn write(dir: &Path, report: &ChangeReport) -> Result<()> {
    let examples = dir.join("counterexamples");
    std::fs::create_dir_all(&examples)
        .with_context(|| format!("creating {}", examples.display()))?;
    for entry in std::fs::read_dir(&examples)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    for (i, example) in report.counterexamples.iter().enumerate() {
        let file = examples.join(format!("{:02}.json", i + 1));
        let value = serde_json::json!({
            "operation": example.operation,
            "role": role_name(example.role),
            "valid_under": example.valid_under.as_str(),
            "payload": example.payload,
        });
        let mut text = serde_json::to_string_pretty(&value)?;
        text.push('\n');
        std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
    }
    let file = dir.join("report.md");
    std::fs::write(&file, markdown(report)).with_context(|| format!("writing {}", file.display()))
}

/// The report as Markdown.
pub(crate) fn markdown(report: &ChangeReport) -> String {
    let mut out = String::new();
    let bump = report.semver().as_str();
    let breaking = report
        .changes
        .iter()
        .filter(|c| c.impact == Impact::Breaking)
        .count();
    // `write!` to a String cannot fail.
    let _ = writeln!(out, "## Catalog change report\n");
    let _ = writeln!(
        out,
        "{} catalog change(s), {breaking} breaking on the wire; the generated crate needs a **{bump}** bump.\n",
        report.changes.len()
    );
    if !report.changes.is_empty() {
        let _ = writeln!(
            out,
            "| verdict | operation | change | proof |\n|---|---|---|---|"
        );
        for change in &report.changes {
            let verdict = match change.impact {
                Impact::Breaking => "**BREAKING**",
                Impact::Compatible => "compatible",
            };
            let proof = change
                .counterexample
                .map(|i| format!("[{:02}](#counterexample-{:02})", i + 1, i + 1))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| {verdict} | `{}` | {} | {proof} |",
                change.operation,
                cell(&change.description)
            );
        }
        let _ = writeln!(out);
    }
    if !report.counterexamples.is_empty() {
        let _ = writeln!(out, "### Counterexamples\n");
    }
    for (i, example) in report.counterexamples.iter().enumerate() {
        let other = match example.valid_under.as_str() {
            "old" => "new",
            _ => "old",
        };
        let _ = writeln!(
            out,
            "#### Counterexample {:02}\n\n`{}` {}: valid under the **{}** schema, refused by the {other} \
             (`counterexamples/{:02}.json`): {}\n",
            i + 1,
            example.operation,
            role_name(example.role),
            example.valid_under.as_str(),
            i + 1,
            cell(&example.refused_because)
        );
        if !example.shared_with.is_empty() {
            let _ = writeln!(
                out,
                "Same schemas, same proof: {}.\n",
                example.shared_with.join(", ")
            );
        }
        let payload = serde_json::to_string_pretty(&example.payload).unwrap_or_default();
        let _ = writeln!(out, "```json\n{payload}\n```\n");
    }
    for note in &report.unchecked {
        let _ = writeln!(out, "Unchecked (no validator): {}\n", cell(note));
    }
    if let Some(api) = &report.api {
        let _ = writeln!(out, "### Rust API of `passage-generated`\n");
        if api.is_empty() {
            let _ = writeln!(out, "Unchanged.\n");
        } else {
            let _ = writeln!(
                out,
                "| impact | item | change | operations |\n|---|---|---|---|"
            );
            for impact in api {
                let severity = match impact.change.severity {
                    ApiSeverity::Breaking => "**BREAKING**",
                    ApiSeverity::Addition => "addition",
                };
                let _ = writeln!(
                    out,
                    "| {severity} | `{}` | {} | {} |",
                    impact.change.item,
                    cell(&impact.change.detail),
                    cell(&impact.operations.join(", "))
                );
            }
            let _ = writeln!(out);
        }
    }
    let _ = writeln!(out, "semver: {bump}");
    out
}

/// Text safe inside a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
