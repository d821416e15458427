//! The check of a crate no verdict covers (a first regen), split across the cores.
//!
//! `cargo check` of one crate runs on one core, and on a first regen nearly all of its time and
//! memory is the types modules. So the crate is checked as several copies of itself, one per
//! core at once (and more, of at most [`MODULES_PER_COPY`] modules each, for a large catalog),
//! in one scratch workspace: in copy *i*, the types modules of part *i* are the real ones
//! and every other module is its `serde_json::Value` form (the form the gate falls back to,
//! which is a few lines). Everything else (`Cargo.toml` but for the package name, `lib.rs`, the
//! integrations, the support crate) is the real crate's, byte for byte: copies whose files
//! outside `src/types/` would differ are not made, and the whole crate is checked instead.
//!
//! Why a clean split check is a clean crate: modules name nothing of each other (each is one
//! schema's types, calling only the support crate), so a module checks the same in any copy
//! that holds it. The rest of the crate is checked in every copy, with the same `-D warnings`
//! lints as the whole crate; what it asks of a module's types (a trait impl of
//! `OperationArguments`, `Deserialize` through `decode`, `Serialize`, `Debug`, `Clone`,
//! `PartialEq` on a boxed variant) it asks per type, and each type is the real one in one copy.
//! An error anywhere but in a copy's own real modules (the rest of the crate, a `Value` form,
//! no file at all) settles nothing: the whole crate is checked, as without a split.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use passage_codegen::Generated;

use super::{run_cargo_check, types_module, write_crate, CompilerError};

/// The scratch workspace of the split check, beside the full one.
pub(super) fn split_dir(scratch: &Path) -> PathBuf {
    let mut name = scratch.file_name().unwrap_or_default().to_os_string();
    name.push("-split");
    scratch.with_file_name(name)
}

/// Real modules per copy at most, which bounds a check's memory: rustc's memory grows with the
/// modules it checks (2,000 synthetic operations, 2,010 modules: the whole crate 11.2 GB; a copy
/// of 1,005 real modules and 1,005 stand-ins 6.1 GB; the rest of the crate with stand-ins only
/// 0.9 GB), and cargo runs one compiler per core, so about 2.2 GB per copy at this size.
const MODULES_PER_COPY: usize = 250;

/// How many copies a check of `modules` types modules is split into: one per core (at most 8)
/// when each copy gets at least two modules, and more when a copy would hold more than
/// [`MODULES_PER_COPY`]; 1 is no split.
pub(super) fn parts_for(modules: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let for_cores = if cores >= 2 && modules >= 2 * cores {
        cores
    } else {
        1
    };
    for_cores.max(modules.div_ceil(MODULES_PER_COPY))
}

/// One copy of the crate: its own real modules, its files.
#[derive(Debug)]
pub(super) struct Part {
    /// The types modules that are real in this copy.
    pub modules: Vec<String>,
    /// The copy's files (crate-relative paths).
    pub files: BTreeMap<String, String>,
}

/// The package name of the generated crate's manifest, which each copy renames.
const PACKAGE_LINE: &str = "name = \"passage-generated\"";

/// `parts` copies of `generated`, its modules dealt out largest first to the copy with the
/// fewest bytes so far, every other module taken from `stubs` (the same catalog generated with
/// every module as `serde_json::Value`). `None` when `stubs` differs from `generated` outside
/// the types modules or lacks a module, or the manifest has no package name to rename: the
/// caller checks the whole crate.
pub(super) fn split_crates(
    generated: &Generated,
    stubs: &Generated,
    parts: usize,
) -> Option<Vec<Part>> {
    if parts < 2 {
        return None;
    }
    // Compared in place: at 2,000 operations these files are megabytes.
    fn outside(files: &BTreeMap<String, String>) -> impl Iterator<Item = (&String, &String)> {
        files
            .iter()
            .filter(|(path, _)| types_module(path).is_none())
    }
    if !outside(&generated.files).eq(outside(&stubs.files)) {
        return None;
    }
    let manifest = generated.files.get("Cargo.toml")?;
    if !manifest.contains(PACKAGE_LINE) {
        return None;
    }
    let mut modules: Vec<(&str, usize)> = generated
        .files
        .iter()
        .filter_map(|(path, text)| Some((types_module(path)?, text.len())))
        .collect();
    // Largest first, each to the lightest copy: copies of near-equal size finish together.
    modules.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut assigned: Vec<(usize, Vec<String>)> = vec![(0, Vec::new()); parts];
    for (module, size) in modules {
        let lightest = assigned
            .iter_mut()
            .min_by_key(|(bytes, _)| *bytes)
            .expect("at least two parts");
        lightest.0 += size;
        lightest.1.push(module.to_owned());
    }
    assigned
        .into_iter()
        .enumerate()
        .map(|(i, (_, mut own))| {
            own.sort();
            let mut files = BTreeMap::new();
            for (path, text) in &generated.files {
                let text = match types_module(path) {
                    Some(module) if own.binary_search_by(|m| m.as_str().cmp(module)).is_err() => {
                        stubs.files.get(path)?
                    }
                    _ => text,
                };
                files.insert(path.clone(), text.clone());
            }
            files.insert(
                "Cargo.toml".to_owned(),
                manifest.replacen(PACKAGE_LINE, &format!("name = \"{}\"", package(i)), 1),
            );
            Some(Part {
                modules: own,
                files,
            })
        })
        .collect()
}

/// The package name of copy `i`.
fn package(i: usize) -> String {
    format!("passage-generated-part{i}")
}

/// The packages of the copies a split workspace at `dir` holds now.
pub(super) fn packages_in(dir: &Path) -> Vec<String> {
    (0..)
        .take_while(|&i| dir.join(folder(i)).join("Cargo.toml").is_file())
        .map(package)
        .collect()
}

/// The folder of copy `i` in the split workspace.
fn folder(i: usize) -> String {
    format!("part{i}")
}

/// What a split check found.
#[derive(Debug, PartialEq)]
pub(super) enum SplitOutcome {
    /// Every copy compiled: the crate compiles.
    Clean,
    /// Errors only in real modules of their copies: module → the compiler's first error there.
    Failing(BTreeMap<String, String>),
    /// An error the split cannot settle (outside a copy's real modules): check the whole crate.
    Unsettled(Vec<String>),
}

/// Writes the copies into the workspace `dir` and checks them in one `cargo check`, which runs
/// one compiler per copy at once.
pub(super) fn check(parts: &[Part], dir: &Path) -> Result<SplitOutcome> {
    let members: Vec<String> = (0..parts.len()).map(folder).collect();
    for (part, member) in parts.iter().zip(&members) {
        write_crate(&part.files, &dir.join(member))?;
    }
    // Copies an earlier split made on more cores are no members now: removed, so that no
    // folder of the workspace is a crate it does not check.
    for stale in (parts.len()..).map(folder) {
        if !dir.join(&stale).is_dir() {
            break;
        }
        std::fs::remove_dir_all(dir.join(&stale))?;
    }
    let members: Vec<&str> = members.iter().map(String::as_str).collect();
    super::write_workspace_manifest(dir, &members)?;
    let errors = run_cargo_check(dir, &["--workspace"])?;
    Ok(judge(parts, &errors))
}

/// Sorts each error to the copy whose file it is in, and into the copy's real modules or not.
fn judge(parts: &[Part], errors: &[CompilerError]) -> SplitOutcome {
    let mut failing = BTreeMap::new();
    let mut unsettled = Vec::new();
    for error in errors {
        let own_module = error.file.as_deref().and_then(|file| {
            let (member, path) = file.split_once('/')?;
            let i: usize = member.strip_prefix("part")?.parse().ok()?;
            let module = types_module(path)?;
            parts
                .get(i)?
                .modules
                .iter()
                .any(|m| m == module)
                .then_some(module)
        });
        match own_module {
            Some(module) => {
                failing
                    .entry(module.to_owned())
                    .or_insert_with(|| error.summary.clone());
            }
            None => unsettled.push(error.summary.clone()),
        }
    }
    if !unsettled.is_empty() {
        SplitOutcome::Unsettled(unsettled)
    } else if !failing.is_empty() {
        SplitOutcome::Failing(failing)
    } else {
        SplitOutcome::Clean
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{crate_of, pinned};
    use super::*;

    /// The version inherited from the workspace, as the generated manifest has it: each scratch
    /// workspace gives its members a version of its own (`workspace::own_version`).
    const MANIFEST: &str = "[package]\nname = \"passage-generated\"\nversion.workspace = true\n";

    fn typed_and_stubs() -> (Generated, Generated) {
        let lib = "pub mod types { pub mod a; pub mod b; pub mod c; pub mod d; pub mod e; }";
        let typed = crate_of(&[
            ("Cargo.toml", MANIFEST),
            ("src/lib.rs", lib),
            ("src/integrations/x.rs", "pub type A = crate::types::a::A;"),
            ("src/types/a.rs", "pub struct A { long: u8, longer: u16 }"),
            ("src/types/b.rs", "pub struct B(u8);"),
            ("src/types/c.rs", "pub struct C { c: u32 }"),
            ("src/types/d.rs", "pub struct D;"),
            ("src/types/e.rs", "pub struct E { e: u64, f: u64 }"),
        ]);
        let mut stubs = typed.clone();
        for module in ["a", "b", "c", "d", "e"] {
            stubs.files.insert(
                format!("src/types/{module}.rs"),
                format!("pub struct {}(serde_json::Value);", module.to_uppercase()),
            );
        }
        (typed, stubs)
    }

    #[test]
    fn every_module_is_real_in_exactly_one_copy_and_a_stub_in_the_others() {
        let (typed, stubs) = typed_and_stubs();
        let parts = split_crates(&typed, &stubs, 2).expect("a split");
        assert_eq!(parts.len(), 2);
        let mut real: Vec<&String> = parts.iter().flat_map(|p| &p.modules).collect();
        real.sort();
        assert_eq!(real, ["a", "b", "c", "d", "e"]);
        // Largest first to the lightest copy: a (38 bytes) to 0, e (31) to 1, c (23) to 1
        // (54), b (17) to 0 (55), d (13) to 1 (67).
        assert_eq!(parts[0].modules, ["a", "b"]);
        assert_eq!(parts[1].modules, ["c", "d", "e"]);
        for (i, part) in parts.iter().enumerate() {
            assert_eq!(
                part.files["Cargo.toml"],
                format!(
                    "[package]\nname = \"passage-generated-part{i}\"\nversion.workspace = true\n"
                )
            );
            for (path, text) in &part.files {
                let expected = match types_module(path) {
                    Some(module) if !part.modules.iter().any(|m| m == module) => &stubs.files[path],
                    _ if path == "Cargo.toml" => continue,
                    _ => &typed.files[path],
                };
                assert_eq!(text, expected, "{path} in copy {i}");
            }
            assert_eq!(part.files.len(), typed.files.len());
        }
    }

    #[test]
    fn copies_follow_the_cores_and_bound_the_modules_per_copy() {
        assert_eq!(parts_for(0), 1);
        assert_eq!(parts_for(3), 1, "fewer than two modules per core: no split");
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        assert_eq!(parts_for(200), if cores >= 2 { cores } else { 1 });
        assert_eq!(
            parts_for(2010),
            cores.max(9),
            "at most 250 real modules per copy"
        );
        assert!(2010usize.div_ceil(parts_for(2010)) <= MODULES_PER_COPY);
    }

    #[test]
    fn no_split_when_the_rest_of_the_crate_would_differ_or_cannot_be_renamed() {
        let (typed, stubs) = typed_and_stubs();
        assert!(split_crates(&typed, &stubs, 1).is_none(), "one part");
        let mut other_lib = stubs.clone();
        other_lib
            .files
            .insert("src/lib.rs".into(), "pub mod types { pub mod a; }".into());
        assert!(split_crates(&typed, &other_lib, 2).is_none());
        let mut missing = stubs.clone();
        missing.files.remove("src/types/c.rs");
        assert!(split_crates(&typed, &missing, 2).is_none());
        let mut renamed = typed.clone();
        renamed
            .files
            .insert("Cargo.toml".into(), "[package]\nname = \"x\"\n".into());
        let mut renamed_stubs = stubs.clone();
        renamed_stubs
            .files
            .insert("Cargo.toml".into(), "[package]\nname = \"x\"\n".into());
        assert!(split_crates(&renamed, &renamed_stubs, 2).is_none());
    }

    #[test]
    fn errors_in_a_copys_own_modules_fail_them_and_any_other_error_settles_nothing() {
        let (typed, stubs) = typed_and_stubs();
        let parts = split_crates(&typed, &stubs, 2).unwrap();
        let error = |file: Option<&str>, summary: &str| CompilerError {
            file: file.map(str::to_owned),
            summary: summary.to_owned(),
        };
        assert_eq!(judge(&parts, &[]), SplitOutcome::Clean);
        let outcome = judge(
            &parts,
            &[
                error(Some("part0/src/types/a.rs"), "error: one"),
                error(Some("part0/src/types/a.rs"), "error: later"),
                error(Some("part1/src/types/e.rs"), "error: two"),
            ],
        );
        assert_eq!(
            outcome,
            SplitOutcome::Failing(
                [
                    ("a".into(), "error: one".into()),
                    ("e".into(), "error: two".into())
                ]
                .into()
            )
        );
        // `a` is a stub in copy 1: its error is the stub's, not the module's.
        for unsettling in [
            error(Some("part1/src/types/a.rs"), "error: in a stub"),
            error(Some("part0/src/lib.rs"), "error: in lib.rs"),
            error(Some("part7/src/types/a.rs"), "error: no such copy"),
            error(None, "error: no file"),
        ] {
            let outcome = judge(
                &parts,
                &[
                    error(Some("part0/src/types/a.rs"), "error: one"),
                    unsettling,
                ],
            );
            assert!(
                matches!(&outcome, SplitOutcome::Unsettled(errors) if errors.len() == 1),
                "{outcome:?}"
            );
        }
    }

    /// The pinned catalog's crate split in two and checked by cargo: clean; a module broken in
    /// its own copy fails that module alone; the same break in a stub, or in `lib.rs`, settles
    /// nothing.
    #[test]
    fn cargo_checks_the_copies_and_traces_each_error_to_its_copy() {
        let (catalog, settings) = pinned();
        let typed = passage_codegen::generate(&catalog, &settings).unwrap();
        let stubs =
            passage_codegen::generate(&catalog, &super::super::all_untyped(&settings, &typed))
                .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut parts = split_crates(&typed, &stubs, 2).expect("the stubs keep the rest");
        assert_eq!(check(&parts, dir.path()).unwrap(), SplitOutcome::Clean);

        let own = parts[1].modules[0].clone();
        let path = format!("src/types/{own}.rs");
        let broken = |text: &str| format!("{text}\npub fn broken() -> u8 {{ \"x\" }}\n");
        let text = parts[1].files[&path].clone();
        parts[1].files.insert(path.clone(), broken(&text));
        match check(&parts, dir.path()).unwrap() {
            SplitOutcome::Failing(failing) => {
                assert_eq!(failing.keys().collect::<Vec<_>>(), [&own]);
                assert!(failing[&own].contains("E0308"), "{failing:?}");
            }
            other => panic!("expected {own} to fail: {other:?}"),
        }
        parts[1].files.insert(path.clone(), text);
        // Copy 0 holds `own` as its stand-in: a break there is not the module's.
        let stub = parts[0].files[&path].clone();
        parts[0].files.insert(path.clone(), broken(&stub));
        assert!(matches!(
            check(&parts, dir.path()).unwrap(),
            SplitOutcome::Unsettled(errors) if errors.len() == 1 && errors[0].contains("part0/")
        ));
        parts[0].files.insert(path, stub);
        let lib = parts[0].files["src/lib.rs"].clone();
        parts[0].files.insert("src/lib.rs".into(), broken(&lib));
        assert!(matches!(
            check(&parts, dir.path()).unwrap(),
            SplitOutcome::Unsettled(errors) if errors[0].contains("part0/src/lib.rs")
        ));
    }
}
