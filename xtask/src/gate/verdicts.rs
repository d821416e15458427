//! What earlier gate runs found, remembered per crate and per module text (see [`Verdicts`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use passage_codegen::Generated;
use sha2::{Digest as _, Sha256};

use super::types_module;
use super::workspace::SUPPORT_CRATE_DIR;

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
    pub(super) fn with_context(dir: PathBuf, context: &str) -> Self {
        Verdicts {
            dir,
            context: Some(context.to_owned()),
        }
    }

    /// Whether verdicts can be kept: the context (toolchain, lockfile, support crate, this
    /// binary) could be read.
    pub fn has_context(&self) -> bool {
        self.context.is_some()
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
                        std::borrow::Cow::Owned(self.shape_digest(path, text)),
                    )
                }),
        )
    }

    /// The SHA-256 of [`code_shape`] of one file, remembered per exact text and context: a
    /// syntax parse of `lib.rs` and of every integration module was a fifth of a regen after one
    /// schema changed at 2,000 operations, where one integration module changes. A memo that is
    /// not 64 hex digits is ignored and computed again.
    fn shape_digest(&self, path: &str, text: &str) -> String {
        let memo = self.files_key("shape", std::iter::once((path, text.into())));
        if let Some(bytes) = memo
            .as_ref()
            .and_then(|memo| std::fs::read(self.dir.join(memo)).ok())
        {
            if bytes.len() == 64 && bytes.iter().all(u8::is_ascii_hexdigit) {
                return String::from_utf8_lossy(&bytes).into_owned();
            }
        }
        let digest = hex::encode(Sha256::digest(code_shape(path, text)));
        if let Some(memo) = memo {
            self.write(&memo, digest.as_bytes());
        }
        digest
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

    /// Records a crate that compiled whole: the crate, its skeleton and every types module.
    pub(super) fn record_crate_pass(&self, generated: &Generated) {
        self.record_pass(generated);
        self.record_skeleton_pass(generated);
        for module in self.unverified_modules(generated) {
            self.record_module_pass(generated, &module);
        }
    }

    pub(super) fn record_skeleton_pass(&self, generated: &Generated) {
        if let Some(key) = self.skeleton_key(generated) {
            self.write(&key, PASS);
        }
    }

    pub(super) fn record_module_pass(&self, generated: &Generated, module: &str) {
        let Some(contents) = generated.files.get(&format!("src/types/{module}.rs")) else {
            return;
        };
        if let Some(key) = self.module_pass_key(module, contents) {
            self.write(&key, PASS);
        }
    }

    /// Key of the sharded layout's glue ([`Generated::sharded`]) by shape.
    fn layout_key(&self, generated: &Generated) -> Option<String> {
        self.files_key(
            "layout",
            generated.sharded.iter().map(|(path, text)| {
                (
                    path.as_str(),
                    std::borrow::Cow::Owned(self.shape_digest(path, text)),
                )
            }),
        )
    }

    /// Whether the sharded layout's glue, by shape, compiled before.
    pub(super) fn layout_passed(&self, generated: &Generated) -> bool {
        self.layout_key(generated)
            .and_then(|key| std::fs::read(self.dir.join(key)).ok())
            .is_some_and(|bytes| bytes == PASS)
    }

    /// Remembers that the sharded layout's glue compiled.
    pub(super) fn record_layout_pass(&self, generated: &Generated) {
        if let Some(key) = self.layout_key(generated) {
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
pub(super) fn code_shape(path: &str, contents: &str) -> String {
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
pub(super) fn without_header(text: &str) -> &str {
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

const PASS: &[u8] = b"pass\n";
const FAIL_PREFIX: &str = "fail\n";

/// Every file under `dir`, its subfolders included (a module split into a folder is still part
/// of the context).
fn rust_sources(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            rust_sources(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// The context a verdict holds in (see [`Verdicts`]); `None` if any part cannot be read.
fn verdict_context() -> Option<String> {
    let root = crate::workspace_root();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc).arg("-vV").output().ok()?;
    if !version.status.success() {
        return None;
    }
    let build = crate::cache::generator_build()?;
    let mut hasher = Sha256::new();
    hasher.update(&version.stdout);
    hasher.update(std::fs::read(root.join("Cargo.lock")).ok()?);
    hasher.update(std::fs::read(root.join("Cargo.toml")).ok()?);
    // The generated crate compiles against the support crate: a change there is a new context.
    let support = root.join(SUPPORT_CRATE_DIR);
    hasher.update(std::fs::read(support.join("Cargo.toml")).ok()?);
    let mut sources = Vec::new();
    rust_sources(&support.join("src"), &mut sources).ok()?;
    sources.sort();
    for path in sources {
        hasher.update(path.display().to_string());
        hasher.update(std::fs::read(&path).ok()?);
    }
    hasher.update(std::env::var("RUSTFLAGS").unwrap_or_default());
    hasher.update(build);
    Some(hex::encode(hasher.finalize()))
}
