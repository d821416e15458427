//! The reviewed snapshots of generated code (`codegen/tests/snapshots/`, asserted by
//! `codegen/tests/operation_snapshots.rs` with insta): regen writes a pending `.snap.new` in
//! insta's format for every operation whose code changed, `regen --check` compares, and
//! `cargo xtask review [--accept]` lists and accepts the pending ones without cargo-insta.
//!
//! Pending files are git-ignored, so `git status` never shows a review waiting: `review` and
//! `regen --check` are the places that say so.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use passage_catalog::Catalog;
use passage_codegen::Generated;

/// Where the snapshots live, relative to the workspace root.
pub const SNAPSHOT_DIR: &str = "codegen/tests/snapshots";

/// The insta test whose snapshots regen writes: one per catalog operation.
const SNAPSHOT_TEST: &str = "operation_snapshots";

/// `cargo xtask review` arguments.
#[derive(Debug, clap::Args)]
pub struct ReviewArgs {
    /// Accept every pending snapshot (its `.snap.new` replaces the `.snap`, as `cargo insta
    /// accept` does) and delete the snapshots of operations the pinned catalog no longer has.
    #[arg(long)]
    pub accept: bool,
    /// Print each pending snapshot's whole diff instead of its first changed lines.
    #[arg(long)]
    pub diff: bool,
}

fn snapshot_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{SNAPSHOT_TEST}__{name}.snap"))
}

fn pending_file(snapshot: &Path) -> PathBuf {
    let mut path = snapshot.as_os_str().to_owned();
    path.push(".new");
    PathBuf::from(path)
}

/// The body of an insta snapshot file (after its `---` front matter).
fn snapshot_body(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("---\n")?;
    let end = rest.find("\n---\n")?;
    Some(&rest[end + 5..])
}

/// Whether the snapshot file at `path` holds `code` (insta compares bodies, trailing space aside).
fn holds(path: &Path, code: &str) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .as_deref()
        .and_then(snapshot_body)
        .map(str::trim_end)
        == Some(code.trim_end())
}

fn render_snapshot(code: &str) -> String {
    format!(
        "---\nsource: codegen/tests/{SNAPSHOT_TEST}.rs\nexpression: \"&snapshot.code\"\n---\n{}\n",
        code.trim_end()
    )
}

fn expected_snapshots(generated: &Generated) -> BTreeMap<&str, &str> {
    generated
        .snapshots
        .iter()
        .map(|s| (s.name.as_str(), s.code.as_str()))
        .collect()
}

/// Operation names (`integration__resource__action`) of the `.snap` files in `dir`.
fn snapshot_names(dir: &Path, suffix: &str) -> Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(names);
    };
    let prefix = format!("{SNAPSHOT_TEST}__");
    for entry in entries {
        let file = entry?.file_name().to_string_lossy().into_owned();
        if let Some(name) = file
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(suffix))
        {
            names.insert(name.to_owned());
        }
    }
    Ok(names)
}

/// How the snapshots on disk compare with what the generator makes now.
#[derive(Debug, Default)]
pub struct SnapshotState {
    /// Operations whose snapshot differs (or is missing) and whose `.snap.new` holds exactly
    /// the new code: waiting for review, `cargo xtask review --accept` settles them.
    pub pending: Vec<String>,
    /// Operations whose snapshot differs with no `.snap.new`, or a `.snap.new` holding other
    /// code than the generator makes now: regen has not written their pending review.
    pub unwritten: Vec<String>,
    /// `.snap.new` files of operations whose snapshot already matches, or that no longer
    /// exist: accepting them would undo the current code; regen removes them.
    pub outdated_pending: Vec<String>,
    /// `.snap` files of operations the catalog no longer has.
    pub orphans: Vec<String>,
}

impl SnapshotState {
    /// One line per stale item, for `regen --check`.
    pub fn items(&self) -> Vec<String> {
        let mut items = Vec::new();
        for name in &self.pending {
            items.push(format!("snapshot {name}: pending review (.snap.new)"));
        }
        for name in &self.unwritten {
            items.push(format!(
                "snapshot {name} differs and has no up-to-date .snap.new"
            ));
        }
        for name in &self.outdated_pending {
            items.push(format!(
                "snapshot {name}: its .snap.new is outdated (not what regen makes now)"
            ));
        }
        for name in &self.orphans {
            items.push(format!("snapshot {name} belongs to no operation"));
        }
        items
    }
}

/// Compares the snapshots in `dir` with `generated`'s.
pub fn compare(dir: &Path, generated: &Generated) -> Result<SnapshotState> {
    let expected = expected_snapshots(generated);
    let mut state = SnapshotState::default();
    for (name, code) in &expected {
        let snapshot = snapshot_file(dir, name);
        let pending = pending_file(&snapshot);
        if holds(&snapshot, code) {
            if pending.exists() && !holds(&pending, code) {
                state.outdated_pending.push((*name).to_owned());
            }
        } else if holds(&pending, code) {
            state.pending.push((*name).to_owned());
        } else {
            state.unwritten.push((*name).to_owned());
        }
    }
    for name in snapshot_names(dir, ".snap.new")? {
        if !expected.contains_key(name.as_str()) {
            state.outdated_pending.push(name);
        }
    }
    for name in snapshot_names(dir, ".snap")? {
        if !expected.contains_key(name.as_str()) {
            state.orphans.push(name);
        }
    }
    Ok(state)
}

/// Writes a `.snap.new` for every operation whose snapshot differs from `generated`'s, and
/// removes the `.snap.new` files nothing needs any more (their operation matches again or is
/// gone), so that accepting every pending file is always right. Returns how many are pending.
pub fn write_pending(dir: &Path, generated: &Generated) -> Result<usize> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let expected = expected_snapshots(generated);
    let mut pending = 0;
    for (name, code) in &expected {
        let snapshot = snapshot_file(dir, name);
        let new = pending_file(&snapshot);
        if holds(&snapshot, code) {
            remove_if_present(&new)?;
            continue;
        }
        pending += 1;
        if !holds(&new, code) {
            std::fs::write(&new, render_snapshot(code))
                .with_context(|| format!("writing {}", new.display()))?;
        }
    }
    for name in snapshot_names(dir, ".snap.new")? {
        if !expected.contains_key(name.as_str()) {
            remove_if_present(&pending_file(&snapshot_file(dir, &name)))?;
        }
    }
    Ok(pending)
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            Err(err).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// `cargo xtask review [--accept] [--diff]` on the workspace at `root`.
pub fn review(root: &Path, args: &ReviewArgs) -> Result<bool> {
    let dir = root.join(SNAPSHOT_DIR);
    let pending = pending_files(&dir)?;
    let orphans = orphans(root, &dir)?;
    if pending.is_empty() && orphans.is_empty() {
        println!("no snapshot pending review in {SNAPSHOT_DIR}/");
        return Ok(true);
    }
    println!(
        "{} snapshot(s) pending review in {SNAPSHOT_DIR}/:",
        pending.len()
    );
    for new in &pending {
        let accepted = new.with_extension("");
        let old = std::fs::read_to_string(&accepted).ok();
        let new_text =
            std::fs::read_to_string(new).with_context(|| format!("reading {}", new.display()))?;
        println!(
            "{}",
            describe(&accepted, old.as_deref(), &new_text, args.diff)
        );
    }
    for orphan in &orphans {
        println!(
            "  {}: its operation is no longer in catalog/providers.json (deleted on accept)",
            file_name(orphan)
        );
    }
    if !args.accept {
        println!(
            "accept them all: `cargo xtask review --accept` (then commit {SNAPSHOT_DIR}/ with generated/)"
        );
        return Ok(true);
    }
    for new in &pending {
        let accepted = new.with_extension("");
        std::fs::rename(new, &accepted).with_context(|| format!("accepting {}", new.display()))?;
    }
    for orphan in &orphans {
        remove_if_present(orphan)?;
    }
    println!(
        "accepted {} snapshot(s), deleted {} orphan(s): commit {SNAPSHOT_DIR}/",
        pending.len(),
        orphans.len()
    );
    Ok(true)
}

/// Every `.snap.new` in `dir` (of any insta test there), sorted.
fn pending_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(out);
    };
    for entry in entries {
        let path = entry?.path();
        if path.to_string_lossy().ends_with(".snap.new") {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Operation snapshots whose operation the pinned catalog no longer has.
fn orphans(root: &Path, dir: &Path) -> Result<Vec<PathBuf>> {
    let catalog_path = root.join("catalog/providers.json");
    let bytes = std::fs::read(&catalog_path)
        .with_context(|| format!("reading {}", catalog_path.display()))?;
    let catalog = Catalog::from_slice(&bytes).context("the pinned catalog")?;
    let operations: BTreeSet<String> = catalog
        .operations()
        .map(|op| format!("{}__{}__{}", op.integration, op.resource, op.action))
        .collect();
    Ok(snapshot_names(dir, ".snap")?
        .into_iter()
        .filter(|name| !operations.contains(name))
        .map(|name| snapshot_file(dir, &name))
        .collect())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `  name: +3 -1 line(s)` and the first changed lines (or the whole diff with `full`).
fn describe(accepted: &Path, old: Option<&str>, new: &str, full: bool) -> String {
    const SHOWN: usize = 8;
    let name = file_name(accepted);
    let new_body = snapshot_body(new).unwrap_or(new);
    let Some(old) = old else {
        return format!(
            "  {name}: new snapshot, {} line(s)",
            new_body.lines().count()
        );
    };
    let old_body = snapshot_body(old).unwrap_or(old);
    let diff = similar::TextDiff::from_lines(old_body, new_body);
    if full {
        let unified = diff
            .unified_diff()
            .context_radius(3)
            .header(&name, &format!("{name}.new"))
            .to_string();
        return format!("  {name}:\n{unified}");
    }
    let mut added = 0;
    let mut removed = 0;
    let mut shown = Vec::new();
    for change in diff.iter_all_changes() {
        let sign = match change.tag() {
            similar::ChangeTag::Insert => {
                added += 1;
                '+'
            }
            similar::ChangeTag::Delete => {
                removed += 1;
                '-'
            }
            similar::ChangeTag::Equal => continue,
        };
        if shown.len() < SHOWN {
            shown.push(format!("      {sign} {}", change.value().trim_end()));
        }
    }
    let mut out = if added + removed == 0 {
        format!("  {name}: same code, new metadata")
    } else {
        format!("  {name}: +{added} -{removed} line(s)")
    };
    for line in &shown {
        out.push('\n');
        out.push_str(line);
    }
    if added + removed > shown.len() {
        out.push_str("\n      ... (whole diff: `cargo xtask review --diff`)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_counts_changed_lines_and_shows_the_first() {
        let old = render_snapshot("a\nb\nc\n");
        let new = render_snapshot("a\nB\nc\nd\n");
        let text = describe(Path::new("x.snap"), Some(&old), &new, false);
        assert!(text.starts_with("  x.snap: +2 -1 line(s)"), "{text}");
        assert!(text.contains("- b") && text.contains("+ B") && text.contains("+ d"));
        let fresh = describe(Path::new("y.snap"), None, &new, false);
        assert_eq!(fresh, "  y.snap: new snapshot, 4 line(s)");
    }
}
