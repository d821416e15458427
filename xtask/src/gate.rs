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

use crate::progress::Progress;
use sha2::{Digest as _, Sha256};

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
    let members: Vec<&str> = std::iter::once("generated")
        .chain(extra_members.iter().copied())
        .collect();
    write_workspace_manifest(dir, &members)
}

/// Writes the manifest and lock file of a scratch workspace at `dir` whose members are the
/// folders `members`, with the repository's dependency versions and lock file.
pub fn write_workspace_manifest(dir: &Path, members: &[&str]) -> Result<()> {
    let root = crate::workspace_root();
    let members: Vec<String> = members.iter().map(|name| format!("\"{name}\"")).collect();
    let manifest = format!(
        "# Scratch workspace of `cargo xtask`: written and checked by the regen compile gate.\n\
         [workspace]\nresolver = \"2\"\nmembers = [{}]\n\n\
         [workspace.package]\n{}\n\
         [workspace.dependencies]\n{}\n\
         # No debug info: the gate only type-checks, the corpus harness runs once; keeps the\n\
         # shared build directory small.\n\
         [profile.dev]\ndebug = false\n",
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

/// The crate the generated crate's support code lives in, and its folder in the repository.
const SUPPORT_CRATE: &str = "passage-generated-support ";
const SUPPORT_CRATE_DIR: &str = "generated-support";

/// A section of the repository's manifest (`[workspace.package]`, `[workspace.dependencies]`
/// without the workspace's own crates but the generated crate's support crate, by absolute
/// path), copied so versions, features and metadata agree.
fn workspace_section(root: &Path, header: &str) -> Result<String> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))?;
    let mut out = String::new();
    let mut in_section = false;
    for line in manifest.lines() {
        if line.starts_with('[') {
            in_section = line.trim() == header;
            continue;
        }
        if !in_section || line.trim().is_empty() {
            continue;
        }
        if line.starts_with(SUPPORT_CRATE) {
            // The generated crate's support crate, by absolute path: the scratch workspace
            // lives elsewhere.
            let dir = root.join(SUPPORT_CRATE_DIR);
            let line = line.replacen(
                &format!("path = \"{SUPPORT_CRATE_DIR}\""),
                &format!("path = {:?}", dir.display().to_string()),
                1,
            );
            out.push_str(&line);
            out.push('\n');
        } else if !line.starts_with("passage-") {
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
///
/// Verdicts are remembered (see [`Verdicts`]): a crate that passed before is not checked again,
/// and a module that failed before is typed as `Value` at once, with the error it had.
///
/// `out_dir` is where the crate is about to be written. When the output is exactly the crate
/// already there, regen writes nothing, so there is nothing to gate: no check runs. This is the
/// verdict derived from the checked-in crate: a `regen --check` on a fresh clone (no verdicts in
/// `target/`) of an up-to-date repository checks nothing, and the checked-in crate itself is
/// compiled by the workspace's own build and clippy.
pub fn generate_gated(
    catalog: &[u8],
    mut settings: passage_codegen::Settings,
    scratch: &Path,
    verdicts: &Verdicts,
    out_dir: Option<&Path>,
    progress: &Progress,
) -> Result<Generated> {
    const MAX_ROUNDS: usize = 4;
    let mut checks = 0;
    let mut retyped_from_verdicts = std::collections::BTreeSet::new();
    // Every module retyped so far and why, for the error when the rounds run out (a crate that
    // still fails after retyping is a generator bug: the maintainer needs the module and error).
    let mut retyped: Vec<String> = Vec::new();
    let mut retype = |settings: passage_codegen::Settings, module: String, error: &str| {
        retyped.push(format!(
            "{module}: {}",
            error.lines().next().unwrap_or_default()
        ));
        settings.with_untyped_module(
            module,
            format!("its generated code does not compile: {error}"),
        )
    };
    loop {
        let generated = passage_codegen::generate(catalog, &settings)?;
        if let Some(dir) = out_dir {
            if crate::stale_generated(dir, &generated)?.is_empty() {
                progress.note(
                    "compile gate: the crate on disk is exactly this output, nothing to write, \
                     no cargo check needed",
                );
                return Ok(generated);
            }
        }
        // A module is retyped from a verdict once: were its `Value` form ever recorded as
        // failing too (a generator bug), the check below says so instead of looping.
        let known_failures: Vec<_> = verdicts
            .known_failures(&generated)
            .into_iter()
            .filter(|(module, _)| retyped_from_verdicts.insert(module.clone()))
            .collect();
        if !known_failures.is_empty() {
            for (module, error) in known_failures {
                settings = retype(settings, module, &error);
            }
            continue;
        }
        if verdicts.passed(&generated) {
            progress.note(if checks == 0 {
                "compile gate: this exact crate compiled before, no cargo check needed"
            } else {
                "compile gate: the retyped crate compiled before, no cargo check needed"
            });
            return Ok(generated);
        }
        if checks == MAX_ROUNDS {
            break;
        }
        checks += 1;
        // When the rest of the crate passed before, only the modules that changed are checked,
        // in a small crate of their own (a changed schema costs a check of its module, not of
        // the whole crate); anything that crate cannot settle falls back to the full check.
        if verdicts.skeleton_passed(&generated) {
            let unverified = verdicts.unverified_modules(&generated);
            if let Some(delta) = delta_crate(&generated, &unverified) {
                let stage = progress.waiting(format!(
                    "compile gate: cargo check of {} changed types module(s) of {} (the rest \
                     compiled before)",
                    unverified.len(),
                    types_count(&generated)
                ));
                let report = check(&delta, &delta_dir(scratch))?;
                stage.done(gate_summary(&report, unverified.len()));
                if report.other_errors.is_empty() {
                    for module in &unverified {
                        if !report.failing_modules.contains_key(module) {
                            verdicts.record_module_pass(&generated, module);
                        }
                    }
                    if report.is_clean() {
                        verdicts.record_pass(&generated);
                        return Ok(generated);
                    }
                    for (module, error) in report.failing_modules {
                        verdicts.record_failure(&generated, &module, &error);
                        settings = retype(settings, module, &error);
                    }
                    continue;
                }
            }
        }
        let stage = progress.waiting(format!(
            "compile gate: cargo check of the whole generated crate ({} types module(s); the \
             first run also builds serde and serde_json)",
            types_count(&generated)
        ));
        let report = check(&generated, scratch)?;
        stage.done(gate_summary(&report, types_count(&generated)));
        if report.is_clean() {
            verdicts.record_pass(&generated);
            verdicts.record_skeleton_pass(&generated);
            for module in verdicts.unverified_modules(&generated) {
                verdicts.record_module_pass(&generated, &module);
            }
            return Ok(generated);
        }
        for (module, error) in &report.failing_modules {
            verdicts.record_failure(&generated, module, error);
        }
        if !report.other_errors.is_empty() {
            bail!(
                "the generated crate does not compile outside its types modules (a generator \
                 bug); nothing was written:\n  {}",
                report.other_errors.join("\n  ")
            );
        }
        for (module, error) in report.failing_modules {
            settings = retype(settings, module, &error);
        }
    }
    bail!(
        "the generated crate still does not compile after {MAX_ROUNDS} rounds of the compile \
         gate (a generator bug); nothing was written. Modules retyped as serde_json::Value, in \
         order, with the compiler's first error:\n  {}",
        retyped.join("\n  ")
    )
}

/// The number of `src/types/` modules of `generated`.
fn types_count(generated: &Generated) -> usize {
    generated
        .files
        .keys()
        .filter(|path| types_module(path).is_some())
        .count()
}

/// `compile gate: 11 module(s) compiled`, or what failed.
fn gate_summary(report: &GateReport, checked: usize) -> String {
    if report.is_clean() {
        format!("compile gate: {checked} types module(s) compiled")
    } else if report.other_errors.is_empty() {
        format!(
            "compile gate: {} of {checked} types module(s) do not compile; retyping them as \
             serde_json::Value",
            report.failing_modules.len()
        )
    } else {
        format!(
            "compile gate: {} error(s) outside the types modules",
            report.other_errors.len()
        )
    }
}

/// What earlier gate runs found, in `<target>/regen-gate/verdicts/`, so that a regen whose
/// output did not change (or changed only where it was already judged) runs no `cargo check`.
///
/// Every verdict is keyed by a SHA-256 over the *context* (the `rustc -vV` of the toolchain,
/// the repository's `Cargo.lock` and manifest, `RUSTFLAGS`, and the identity of the running
/// generator build: its executable's path, size and modification time, so a rebuilt generator
/// never reuses a verdict of the old one) and the judged text: the whole crate for a pass, one
/// types module for a failure. A verdict file that cannot be read or does not have the expected
/// form is ignored, never trusted: the crate is checked again.
pub struct Verdicts {
    dir: PathBuf,
    /// `None` when the context could not be established: then nothing is remembered.
    context: Option<String>,
}

impl Verdicts {
    /// Verdicts stored under `dir`, for the current context.
    pub fn open(dir: PathBuf) -> Self {
        let context = verdict_context();
        Verdicts { dir, context }
    }

    /// Remembers nothing and trusts nothing: every crate is checked.
    pub fn disabled() -> Self {
        Verdicts {
            dir: PathBuf::new(),
            context: None,
        }
    }

    #[cfg(test)]
    fn with_context(dir: PathBuf, context: &str) -> Self {
        Verdicts {
            dir,
            context: Some(context.to_owned()),
        }
    }

    /// SHA-256 over `tag`, the context and each `(path, text)` pair, lengths first.
    fn files_key<'a>(
        &self,
        tag: &str,
        files: impl Iterator<Item = (&'a str, std::borrow::Cow<'a, str>)>,
    ) -> Option<String> {
        let context = self.context.as_ref()?;
        let mut hasher = Sha256::new();
        hasher.update(tag.as_bytes());
        hasher.update(b"\0");
        hasher.update(context.as_bytes());
        for (path, text) in files {
            hasher.update((path.len() as u64).to_le_bytes());
            hasher.update(path.as_bytes());
            hasher.update((text.len() as u64).to_le_bytes());
            hasher.update(text.as_bytes());
        }
        Some(hex::encode(hasher.finalize()))
    }

    fn crate_key(&self, generated: &Generated) -> Option<String> {
        self.files_key(
            "crate",
            generated
                .files
                .iter()
                .map(|(path, text)| (path.as_str(), std::borrow::Cow::Borrowed(text.as_str()))),
        )
    }

    fn module_key(&self, module: &str, contents: &str) -> Option<String> {
        let context = self.context.as_ref()?;
        let mut hasher = Sha256::new();
        hasher.update(b"module\0");
        hasher.update(context.as_bytes());
        hasher.update((module.len() as u64).to_le_bytes());
        hasher.update(module.as_bytes());
        hasher.update(without_header(contents).as_bytes());
        Some(hex::encode(hasher.finalize()))
    }

    /// Key of everything but the types modules (manifest, `lib.rs`, per-integration files).
    fn skeleton_key(&self, generated: &Generated) -> Option<String> {
        self.files_key(
            "skeleton",
            generated
                .files
                .iter()
                .filter(|(path, _)| types_module(path).is_none())
                .map(|(path, text)| {
                    (
                        path.as_str(),
                        std::borrow::Cow::Owned(code_shape(path, text)),
                    )
                }),
        )
    }

    fn module_pass_key(&self, module: &str, contents: &str) -> Option<String> {
        self.module_key(module, contents)
            .map(|key| hex::encode(Sha256::digest(format!("pass\0{key}"))))
    }

    /// Whether everything but the types modules, exactly as in `generated`, passed before as
    /// part of a whole crate that passed.
    pub fn skeleton_passed(&self, generated: &Generated) -> bool {
        self.skeleton_key(generated)
            .and_then(|key| std::fs::read(self.dir.join(key)).ok())
            .is_some_and(|bytes| bytes == PASS)
    }

    /// Types modules of `generated` whose exact text has not passed a check before.
    pub fn unverified_modules(&self, generated: &Generated) -> Vec<String> {
        generated
            .files
            .iter()
            .filter_map(|(path, contents)| {
                let module = types_module(path)?;
                let passed = self
                    .module_pass_key(module, contents)
                    .and_then(|key| std::fs::read(self.dir.join(key)).ok())
                    .is_some_and(|bytes| bytes == PASS);
                (!passed).then(|| module.to_owned())
            })
            .collect()
    }

    fn record_skeleton_pass(&self, generated: &Generated) {
        if let Some(key) = self.skeleton_key(generated) {
            self.write(&key, PASS);
        }
    }

    fn record_module_pass(&self, generated: &Generated, module: &str) {
        let Some(contents) = generated.files.get(&format!("src/types/{module}.rs")) else {
            return;
        };
        if let Some(key) = self.module_pass_key(module, contents) {
            self.write(&key, PASS);
        }
    }

    /// Whether exactly this crate passed the gate before.
    pub fn passed(&self, generated: &Generated) -> bool {
        self.crate_key(generated)
            .and_then(|key| std::fs::read(self.dir.join(key)).ok())
            .is_some_and(|bytes| bytes == PASS)
    }

    /// Types modules of `generated` whose exact text failed to compile before, with the error.
    pub fn known_failures(&self, generated: &Generated) -> Vec<(String, String)> {
        let mut failures = Vec::new();
        for (path, contents) in &generated.files {
            let Some(module) = types_module(path) else {
                continue;
            };
            let Some(key) = self.module_key(module, contents) else {
                return Vec::new();
            };
            let Ok(text) = std::fs::read_to_string(self.dir.join(key)) else {
                continue;
            };
            if let Some(error) = text.strip_prefix(FAIL_PREFIX) {
                if !error.trim().is_empty() {
                    failures.push((module.to_owned(), error.to_owned()));
                }
            }
        }
        failures
    }

    /// Remembers that `generated` compiled. Best effort: a verdict that cannot be written only
    /// costs a check next time.
    pub fn record_pass(&self, generated: &Generated) {
        if let Some(key) = self.crate_key(generated) {
            self.write(&key, PASS);
        }
    }

    /// Remembers that the types module `module` of `generated` failed with `error`.
    pub fn record_failure(&self, generated: &Generated, module: &str, error: &str) {
        let Some(contents) = generated.files.get(&format!("src/types/{module}.rs")) else {
            return;
        };
        if let Some(key) = self.module_key(module, contents) {
            self.write(&key, format!("{FAIL_PREFIX}{error}").as_bytes());
        }
    }

    fn write(&self, key: &str, bytes: &[u8]) {
        // Written whole then renamed, so a reader never sees half a verdict.
        let tmp = self.dir.join(format!(".{key}.{}", std::process::id()));
        let written = std::fs::create_dir_all(&self.dir)
            .and_then(|()| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, self.dir.join(key)));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// What of a file decides whether it compiles: for Rust source, its tokens with the text of every
/// string literal in expression or pattern position emptied (the registry's schema strings,
/// descriptions, match arms on resource names: their content changes no type); attributes
/// (`#[path]`, `#[cfg]`) and macro input (`include_str!`) are kept as they are. Any other file,
/// or source that does not parse, is taken whole.
fn code_shape(path: &str, contents: &str) -> String {
    use syn::visit_mut::VisitMut;

    struct EmptyStrings;
    impl VisitMut for EmptyStrings {
        fn visit_attribute_mut(&mut self, _: &mut syn::Attribute) {}
        fn visit_expr_lit_mut(&mut self, lit: &mut syn::ExprLit) {
            if let syn::Lit::Str(text) = &lit.lit {
                lit.lit = syn::Lit::Str(syn::LitStr::new("", text.span()));
            }
        }
    }

    if !path.ends_with(".rs") {
        return without_header(contents).to_owned();
    }
    match syn::parse_file(contents) {
        Ok(mut file) => {
            EmptyStrings.visit_file_mut(&mut file);
            quote::ToTokens::to_token_stream(&file).to_string()
        }
        Err(_) => contents.to_owned(),
    }
}

/// `text` after its leading comment lines (`// ...` in Rust, `# ...` in TOML): the provenance
/// header, which names the catalog's SHA-256 and so changes in every file when one schema
/// changes, and decides nothing about compiling. Doc comments (`//!`, `///`) are kept.
fn without_header(text: &str) -> &str {
    let mut rest = text;
    while let Some(line_end) = rest.find('\n') {
        let line = &rest[..line_end];
        let comment =
            (line.starts_with("//") && !line.starts_with("//!") && !line.starts_with("///"))
                || line.starts_with('#') && !line.starts_with("#!") && !line.starts_with("#[");
        if !comment {
            break;
        }
        rest = &rest[line_end + 1..];
    }
    rest
}

/// The scratch workspace of the delta crate, beside the full one.
fn delta_dir(scratch: &Path) -> PathBuf {
    let mut name = scratch.file_name().unwrap_or_default().to_os_string();
    name.push("-delta");
    scratch.with_file_name(name)
}

/// A crate holding only `modules` of `generated` (at their usual paths, so errors trace the same
/// way), the support module `__private` they use, and a `use` of every item the rest of the crate
/// names in them (so a module that lost a type `lib.rs` needs fails here too). `None` when there
/// is nothing to check or the support module cannot be found: the caller checks the whole crate.
fn delta_crate(generated: &Generated, modules: &[String]) -> Option<Generated> {
    // Past half the modules, the whole crate is as cheap and checks more.
    if modules.is_empty() || modules.len() * 2 > types_count(generated) {
        return None;
    }
    let lib: syn::File = syn::parse_file(generated.files.get("src/lib.rs")?).ok()?;
    let support = lib.items.iter().find_map(|item| match item {
        syn::Item::Mod(module) if module.ident == "__private" => Some(module.clone()),
        _ => None,
    })?;
    let mut files = BTreeMap::new();
    if support.content.is_none() {
        // `mod __private;` in its own file.
        for path in ["src/__private.rs", "src/__private/mod.rs"] {
            if let Some(text) = generated.files.get(path) {
                files.insert(path.to_owned(), text.clone());
            }
        }
    }
    let others: Vec<&String> = generated
        .files
        .iter()
        .filter(|(path, _)| types_module(path).is_none())
        .map(|(_, text)| text)
        .collect();
    let mut lib_text = String::from(
        "// The compile gate's delta crate: the changed types modules and their support code.\n\
         #![allow(missing_docs, dead_code, unused_imports, unused_macros, unreachable_patterns, clippy::all)]\n\
         pub mod types {\n",
    );
    let mut uses = String::new();
    for module in modules {
        let path = format!("src/types/{module}.rs");
        files.insert(path.clone(), generated.files.get(&path)?.clone());
        lib_text.push_str(&format!("    pub mod {module};\n"));
        let mut names = std::collections::BTreeSet::new();
        let needle = format!("types::{module}::");
        for text in &others {
            for (at, _) in text.match_indices(&needle) {
                let name: String = text[at + needle.len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    names.insert(name);
                }
            }
        }
        for name in names {
            uses.push_str(&format!("pub use crate::types::{module}::{name} as _;\n"));
        }
    }
    lib_text.push_str("}\n");
    lib_text.push_str(&uses);
    lib_text.push_str(&prettyplease::unparse(&syn::File {
        shebang: None,
        attrs: Vec::new(),
        items: vec![syn::Item::Mod(support)],
    }));
    files.insert("src/lib.rs".to_owned(), lib_text);
    files.insert(
        "Cargo.toml".to_owned(),
        generated.files.get("Cargo.toml")?.clone(),
    );
    Some(Generated {
        files,
        snapshots: Vec::new(),
        warnings: Vec::new(),
        provenance: generated.provenance.clone(),
    })
}

const PASS: &[u8] = b"pass\n";
const FAIL_PREFIX: &str = "fail\n";

/// `src/types/{module}.rs` → `module`.
fn types_module(path: &str) -> Option<&str> {
    path.strip_prefix("src/types/")?.strip_suffix(".rs")
}

/// The context a verdict holds in (see [`Verdicts`]); `None` if any part cannot be read.
fn verdict_context() -> Option<String> {
    let root = crate::workspace_root();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc).arg("-vV").output().ok()?;
    if !version.status.success() {
        return None;
    }
    let exe = std::env::current_exe().ok()?;
    let meta = std::fs::metadata(&exe).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    let mut hasher = Sha256::new();
    hasher.update(&version.stdout);
    hasher.update(std::fs::read(root.join("Cargo.lock")).ok()?);
    hasher.update(std::fs::read(root.join("Cargo.toml")).ok()?);
    // The generated crate compiles against the support crate: a change there is a new context.
    let support = root.join(SUPPORT_CRATE_DIR);
    hasher.update(std::fs::read(support.join("Cargo.toml")).ok()?);
    let mut sources: Vec<_> = std::fs::read_dir(support.join("src"))
        .ok()?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    sources.sort();
    for path in sources {
        hasher.update(path.display().to_string());
        hasher.update(std::fs::read(&path).ok()?);
    }
    hasher.update(std::env::var("RUSTFLAGS").unwrap_or_default());
    hasher.update(exe.display().to_string());
    hasher.update(meta.len().to_le_bytes());
    hasher.update(modified.as_nanos().to_le_bytes());
    Some(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crate_of(files: &[(&str, &str)]) -> Generated {
        Generated {
            files: files
                .iter()
                .map(|(path, text)| (path.to_string(), text.to_string()))
                .collect(),
            snapshots: Vec::new(),
            warnings: Vec::new(),
            provenance: passage_codegen::Provenance {
                catalog_sha256: String::new(),
                codegen_version: String::new(),
                typify_version: String::new(),
            },
        }
    }

    #[test]
    fn an_output_equal_to_the_crate_on_disk_is_not_checked_and_any_difference_is() {
        let catalog = std::fs::read(crate::workspace_root().join("catalog/providers.json"))
            .expect("the pinned catalog");
        let settings = passage_codegen::Settings::default()
            .with_typer(std::sync::Arc::new(passage_codegen::typing::InProcessTyper));
        let generated = passage_codegen::generate(&catalog, &settings).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("generated");
        crate::write_generated(&out, &generated).unwrap();
        // A scratch folder under a plain file: any attempt to check the crate fails loudly.
        let blocker = dir.path().join("not-a-folder");
        std::fs::write(&blocker, "").unwrap();
        let scratch = blocker.join("scratch");
        let progress = Progress::lines("test");
        let gated = generate_gated(
            &catalog,
            settings.clone(),
            &scratch,
            &Verdicts::disabled(),
            Some(&out),
            &progress,
        )
        .expect("the crate on disk is the output: no check");
        assert_eq!(gated.files, generated.files);

        let lib = out.join("src/lib.rs");
        let text = std::fs::read_to_string(&lib).unwrap();
        std::fs::write(&lib, format!("{text}\n// edited\n")).unwrap();
        let err = generate_gated(
            &catalog,
            settings,
            &scratch,
            &Verdicts::disabled(),
            Some(&out),
            &progress,
        )
        .expect_err("a crate on disk that differs is checked (here: the check cannot start)");
        assert!(
            err.chain()
                .any(|cause| cause.downcast_ref::<std::io::Error>().is_some()),
            "the check was attempted and failed on the scratch folder: {err:#}"
        );
    }

    #[test]
    fn the_delta_crate_holds_the_changed_modules_their_support_and_the_names_used_elsewhere() {
        let generated = crate_of(&[
            ("Cargo.toml", "[package]\nname = \"passage-generated\"\n"),
            (
                "src/lib.rs",
                "pub mod types { pub mod a; pub mod b; pub mod c; }\n\
                 pub type X = crate::types::a::Alpha;\n\
                 #[doc(hidden)] pub mod __private { pub fn helper() {} }\n",
            ),
            (
                "src/integrations/one.rs",
                "pub type Y = crate::types::a::AlphaItem;",
            ),
            ("src/types/a.rs", "pub struct Alpha; pub struct AlphaItem;"),
            ("src/types/b.rs", "pub struct Beta;"),
            ("src/types/c.rs", "pub struct Gamma;"),
        ]);
        let delta = delta_crate(&generated, &["a".to_string()]).expect("a delta crate");
        assert_eq!(
            delta.files.keys().collect::<Vec<_>>(),
            ["Cargo.toml", "src/lib.rs", "src/types/a.rs"]
        );
        let lib = &delta.files["src/lib.rs"];
        assert!(lib.contains("pub mod types {\n    pub mod a;\n}"), "{lib}");
        assert!(
            lib.contains("pub use crate::types::a::Alpha as _;"),
            "{lib}"
        );
        assert!(
            lib.contains("pub use crate::types::a::AlphaItem as _;"),
            "{lib}"
        );
        assert!(lib.contains("pub mod __private"), "{lib}");
        assert!(!lib.contains("Beta") && !lib.contains("pub mod b"), "{lib}");

        assert!(
            delta_crate(&generated, &["a".into(), "b".into()]).is_none(),
            "past half the modules the whole crate is checked"
        );
        assert!(delta_crate(&generated, &[]).is_none());
        let without_support = crate_of(&[
            ("Cargo.toml", ""),
            (
                "src/lib.rs",
                "pub mod types { pub mod a; pub mod b; pub mod c; }",
            ),
            ("src/types/a.rs", ""),
            ("src/types/b.rs", ""),
            ("src/types/c.rs", ""),
        ]);
        assert!(delta_crate(&without_support, &["a".into()]).is_none());
    }

    #[test]
    fn the_skeleton_ignores_string_contents_but_not_code_attributes_or_macro_input() {
        let shape = |text: &str| code_shape("src/integrations/x.rs", text);
        let base = r#"#[path = "a.rs"] mod a; const S: Option<&str> = Some("{\"type\":\"object\"}");
            fn f(r: &str) -> u8 { match r { "read" => 1, _ => 0 } }"#;
        let other_strings = r#"#[path = "a.rs"] mod a; const S: Option<&str> = Some("{\"type\":\"array\"}");
            fn f(r: &str) -> u8 { match r { "write" => 1, _ => 0 } }"#;
        assert_eq!(shape(base), shape(other_strings));
        let other_path = base.replace("a.rs", "b.rs");
        assert_ne!(
            shape(base),
            shape(&other_path),
            "#[path] decides what compiles"
        );
        let other_type = base.replace("Option<&str>", "Option<String>");
        assert_ne!(shape(base), shape(&other_type));
        let with_macro = |file: &str| format!("const T: &str = include_str!(\"{file}\");");
        assert_ne!(shape(&with_macro("x.json")), shape(&with_macro("y.json")));
        assert_ne!(
            code_shape("Cargo.toml", "a = \"1\""),
            code_shape("Cargo.toml", "a = \"2\"")
        );
    }

    #[test]
    fn verdicts_hold_for_the_exact_crate_and_context_only() {
        let dir = tempfile::tempdir().unwrap();
        let verdicts = Verdicts::with_context(dir.path().to_path_buf(), "toolchain A");
        let one = crate_of(&[
            ("src/lib.rs", "pub mod types;"),
            ("src/types/a.rs", "pub struct A;"),
        ]);
        assert!(!verdicts.passed(&one), "nothing recorded yet");
        verdicts.record_pass(&one);
        assert!(verdicts.passed(&one));

        let edited = crate_of(&[
            ("src/lib.rs", "pub mod types;"),
            ("src/types/a.rs", "pub struct B;"),
        ]);
        assert!(
            !verdicts.passed(&edited),
            "a changed module is checked again"
        );
        let moved = crate_of(&[
            ("src/lib.rs", "pub mod types;"),
            ("src/types/b.rs", "pub struct A;"),
        ]);
        assert!(!verdicts.passed(&moved), "a renamed file is checked again");
        let other_toolchain = Verdicts::with_context(dir.path().to_path_buf(), "toolchain B");
        assert!(
            !other_toolchain.passed(&one),
            "another context trusts nothing"
        );
    }

    #[test]
    fn failures_are_remembered_per_module_text_and_corrupt_verdicts_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let verdicts = Verdicts::with_context(dir.path().to_path_buf(), "ctx");
        assert_eq!(
            without_header("// @generated\n// catalog sha256: 00\n//! Types.\npub struct A;\n"),
            "//! Types.\npub struct A;\n"
        );
        assert_eq!(
            without_header("# @generated\n# sha: 1\n[package]\n"),
            "[package]\n"
        );
        let generated = crate_of(&[
            ("src/lib.rs", "pub mod types;"),
            ("src/types/bad.rs", "pub struct X { a: u8, a: u8 }"),
            ("src/types/good.rs", "pub struct Y;"),
        ]);
        verdicts.record_failure(
            &generated,
            "bad",
            "error[E0124]: field `a` is already declared",
        );
        assert_eq!(
            verdicts.known_failures(&generated),
            vec![(
                "bad".to_string(),
                "error[E0124]: field `a` is already declared".to_string()
            )]
        );
        // Another provenance header (another catalog) is the same module.
        let other_header = crate_of(&[(
            "src/types/bad.rs",
            "// catalog sha256: ff\npub struct X { a: u8, a: u8 }",
        )]);
        assert_eq!(verdicts.known_failures(&other_header).len(), 1);
        // The same module name with other text is not the module that failed.
        let fixed = crate_of(&[("src/types/bad.rs", "pub struct X { a: u8 }")]);
        assert!(verdicts.known_failures(&fixed).is_empty());

        // Every verdict file overwritten with garbage: none is trusted, pass or failure.
        verdicts.record_pass(&generated);
        assert!(verdicts.passed(&generated));
        let mut files = 0;
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            std::fs::write(entry.unwrap().path(), b"\xff\x00garbage").unwrap();
            files += 1;
        }
        assert_eq!(files, 2, "one pass and one failure verdict");
        assert!(!verdicts.passed(&generated));
        assert!(verdicts.known_failures(&generated).is_empty());
    }

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
