//! The compile gate: regen type-checks the crate it is about to write, before writing it.
//!
//! The generated files go into a scratch workspace under the target directory
//! (`<target>/regen-gate/`, `Cargo.lock` copied from the repository so the check is offline and
//! uses the same dependency versions), and `cargo check --all-features` runs there with
//! `-D warnings`, all distinct schemas in one batch. Each compiler error is traced to the
//! `src/types/<module>.rs` it points at; regen then types those modules as `serde_json::Value`
//! (with the compiler's first error in the warning) and checks again. An error outside a types
//! module is a generator bug: regen stops and writes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use passage_codegen::Generated;

/// What one check found.
#[derive(Debug, Default)]
pub struct GateReport {
    /// Module name (`src/types/{module}.rs`) → the compiler's first error there.
    pub failing_modules: BTreeMap<String, String>,
    /// Errors outside the types modules (generator bugs).
    pub other_errors: Vec<String>,
}

impl GateReport {
    /// Whether the crate compiled.
    pub fn is_clean(&self) -> bool {
        self.failing_modules.is_empty() && self.other_errors.is_empty()
    }
}

/// The target directory cargo uses for this workspace (`CARGO_TARGET_DIR` or `target/`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                crate::workspace_root().join(dir)
            }
        }
        _ => crate::workspace_root().join("target"),
    }
}

/// One build directory for every scratch workspace: the dependencies (serde, serde_json) are
/// built once, each workspace's own crates are told apart by their path.
pub fn shared_build_dir() -> PathBuf {
    target_dir().join("regen-gate/build")
}

/// Type-checks `generated` in the scratch workspace `dir`.
pub fn check(generated: &Generated, dir: &Path) -> Result<GateReport> {
    write_workspace(generated, dir, &[])?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(&cargo)
        .args([
            "check",
            "--offline",
            "--quiet",
            "--all-features",
            "--message-format=json",
            "-p",
            "passage-generated",
        ])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", shared_build_dir())
        .env("RUSTFLAGS", "-D warnings")
        .env_remove("RUSTC_WRAPPER")
        .output()
        .with_context(|| format!("running {cargo} check in {}", dir.display()))?;
    let report = parse_messages(&String::from_utf8_lossy(&output.stdout));
    if !output.status.success() && report.is_clean() {
        bail!(
            "cargo check of the generated crate failed without a compiler error:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(report)
}

/// Writes (only changed files of) a workspace holding the generated crate and the crates named
/// in `extra_members` (folders the caller fills, e.g. a harness that uses the generated crate).
pub fn write_workspace(generated: &Generated, dir: &Path, extra_members: &[&str]) -> Result<()> {
    let crate_dir = dir.join("generated");
    for rel in module_files(&crate_dir)? {
        if !generated.files.contains_key(&rel) {
            std::fs::remove_file(crate_dir.join(&rel))?;
        }
    }
    for (path, contents) in &generated.files {
        write_if_changed(&crate_dir.join(path), contents)?;
    }
    write_manifest(dir, extra_members)
}

/// Writes the manifest and lock file of a scratch workspace at `dir` whose members are the
/// generated crate in `dir/generated` and `extra_members`.
pub fn write_manifest(dir: &Path, extra_members: &[&str]) -> Result<()> {
    let root = crate::workspace_root();
    let members: Vec<String> = std::iter::once("\"generated\"".to_string())
        .chain(extra_members.iter().map(|name| format!("\"{name}\"")))
        .collect();
    let manifest = format!(
        "# Scratch workspace of `cargo xtask`: written and checked by the regen compile gate.\n\
         [workspace]\nresolver = \"2\"\nmembers = [{}]\n\n\
         [workspace.package]\n{}\n\
         [workspace.dependencies]\n{}",
        members.join(", "),
        workspace_section(&root, "[workspace.package]")?,
        workspace_section(&root, "[workspace.dependencies]")?
    );
    write_if_changed(&dir.join("Cargo.toml"), &manifest)?;
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).context("reading Cargo.lock")?;
    write_if_changed(&dir.join("Cargo.lock"), &lock)?;
    Ok(())
}

/// Folders of the generated crate whose `.rs` files are all generated, one per module: a file
/// there that the generator no longer produces is stale.
pub(crate) const MODULE_DIRS: [&str; 2] = ["src/types", "src/integrations"];

/// The `.rs` files in [`MODULE_DIRS`] of the crate at `crate_dir`, as crate-relative paths,
/// sorted.
pub(crate) fn module_files(crate_dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for dir in MODULE_DIRS {
        let Ok(entries) = std::fs::read_dir(crate_dir.join(dir)) else {
            continue;
        };
        for entry in entries {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if name.ends_with(".rs") {
                out.push(format!("{dir}/{name}"));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A section of the repository's manifest (`[workspace.package]`, `[workspace.dependencies]`
/// without the workspace's own crates), copied so versions, features and metadata agree.
fn workspace_section(root: &Path, header: &str) -> Result<String> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))?;
    let mut out = String::new();
    let mut in_section = false;
    for line in manifest.lines() {
        if line.starts_with('[') {
            in_section = line.trim() == header;
            continue;
        }
        if in_section && !line.starts_with("passage-") && !line.trim().is_empty() {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

pub(crate) fn write_if_changed(path: &Path, contents: &str) -> Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(contents) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}

/// Traces `cargo check --message-format=json` errors to the types module they point at.
fn parse_messages(stdout: &str) -> GateReport {
    let mut report = GateReport::default();
    for line in stdout.lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-message" {
            continue;
        }
        let diagnostic = &message["message"];
        if diagnostic["level"] != "error" {
            continue;
        }
        let spans = diagnostic["spans"].as_array().cloned().unwrap_or_default();
        let primary = spans
            .iter()
            .find(|s| s["is_primary"] == true)
            .or_else(|| spans.first());
        let text = diagnostic["message"].as_str().unwrap_or_default();
        let code = diagnostic["code"]["code"].as_str();
        let location = primary.map(|span| {
            format!(
                "{}:{}",
                span["file_name"].as_str().unwrap_or_default(),
                span["line_start"]
            )
        });
        let summary = match (code, &location) {
            (Some(code), Some(at)) => format!("error[{code}]: {text} (at {at})"),
            (None, Some(at)) => format!("error: {text} (at {at})"),
            (Some(code), None) => format!("error[{code}]: {text}"),
            (None, None) => format!("error: {text}"),
        };
        let module = primary
            .and_then(|span| span["file_name"].as_str())
            .and_then(|file| file.strip_prefix("generated/src/types/"))
            .and_then(|file| file.strip_suffix(".rs"))
            .map(str::to_string);
        match module {
            Some(module) => {
                report.failing_modules.entry(module).or_insert(summary);
            }
            None => {
                if text.starts_with("aborting due to") || text.starts_with("could not compile") {
                    continue;
                }
                report.other_errors.push(summary);
            }
        }
    }
    report
}

/// Generates from `catalog` and runs the compile gate until the crate compiles: modules that do
/// not compile are typed as `serde_json::Value` (with the compiler's first error as their
/// warning) and the crate is generated and checked again. Fails, writing nothing, when an error
/// lies outside the types modules.
pub fn generate_gated(
    catalog: &[u8],
    mut settings: passage_codegen::Settings,
    scratch: &Path,
) -> Result<Generated> {
    const MAX_ROUNDS: usize = 4;
    for _ in 0..MAX_ROUNDS {
        let generated = passage_codegen::generate(catalog, &settings)?;
        let report = check(&generated, scratch)?;
        if report.is_clean() {
            return Ok(generated);
        }
        if !report.other_errors.is_empty() {
            bail!(
                "the generated crate does not compile outside its types modules (a generator \
                 bug); nothing was written:\n  {}",
                report.other_errors.join("\n  ")
            );
        }
        for (module, error) in report.failing_modules {
            settings = settings.with_untyped_module(
                module,
                format!("its generated code does not compile: {error}"),
            );
        }
    }
    bail!(
        "the generated crate still does not compile after {MAX_ROUNDS} rounds of the compile gate"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_integration_files_are_removed_like_stale_types_modules() {
        let dir = tempfile::tempdir().unwrap();
        let crate_dir = dir.path().join("generated");
        for file in [
            "src/types/kept.rs",
            "src/types/gone.rs",
            "src/integrations/kept.rs",
            "src/integrations/gone.rs",
            "src/integrations/notes.txt",
        ] {
            write_if_changed(&crate_dir.join(file), "// old\n").unwrap();
        }
        assert_eq!(
            module_files(&crate_dir).unwrap(),
            [
                "src/integrations/gone.rs",
                "src/integrations/kept.rs",
                "src/types/gone.rs",
                "src/types/kept.rs"
            ]
        );
        let generated = Generated {
            files: [
                ("src/types/kept.rs".to_string(), "// new\n".to_string()),
                (
                    "src/integrations/kept.rs".to_string(),
                    "// new\n".to_string(),
                ),
            ]
            .into_iter()
            .collect(),
            snapshots: Vec::new(),
            warnings: Vec::new(),
            provenance: passage_codegen::Provenance {
                catalog_sha256: String::new(),
                codegen_version: String::new(),
                typify_version: String::new(),
            },
        };
        write_workspace(&generated, dir.path(), &[]).unwrap();
        assert_eq!(
            module_files(&crate_dir).unwrap(),
            ["src/integrations/kept.rs", "src/types/kept.rs"]
        );
        assert_eq!(
            std::fs::read_to_string(crate_dir.join("src/integrations/kept.rs")).unwrap(),
            "// new\n"
        );
    }

    #[test]
    fn errors_are_traced_to_their_types_module() {
        let lines = [
            r#"{"reason":"compiler-message","message":{"level":"error","message":"field `any` is already declared","code":{"code":"E0124"},"spans":[{"is_primary":true,"file_name":"generated/src/types/x_read_result.rs","line_start":12}]}}"#,
            r#"{"reason":"compiler-message","message":{"level":"error","message":"second error","code":null,"spans":[{"is_primary":true,"file_name":"generated/src/types/x_read_result.rs","line_start":30}]}}"#,
            r#"{"reason":"compiler-message","message":{"level":"error","message":"mismatched types","code":{"code":"E0308"},"spans":[{"is_primary":true,"file_name":"generated/src/lib.rs","line_start":5}]}}"#,
            r#"{"reason":"compiler-message","message":{"level":"warning","message":"unused","spans":[]}}"#,
            r#"{"reason":"build-finished","success":false}"#,
        ]
        .join("\n");
        let report = parse_messages(&lines);
        assert_eq!(report.failing_modules.len(), 1);
        assert_eq!(
            report.failing_modules["x_read_result"],
            "error[E0124]: field `any` is already declared (at generated/src/types/x_read_result.rs:12)"
        );
        assert_eq!(
            report.other_errors,
            vec!["error[E0308]: mismatched types (at generated/src/lib.rs:5)".to_string()]
        );
        assert!(!report.is_clean());
    }
}
