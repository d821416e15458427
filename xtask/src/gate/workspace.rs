//! The scratch workspaces the gate checks in: the generated crate's files, a manifest with the
//! repository's dependency versions, its lock file.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use passage_codegen::Generated;

/// Writes (only changed files of) a workspace holding the generated crate and the crates named
/// in `extra_members` (folders the caller fills, e.g. a harness that uses the generated crate).
pub fn write_workspace(generated: &Generated, dir: &Path, extra_members: &[&str]) -> Result<()> {
    write_crate(&generated.files, &dir.join("generated"))?;
    write_manifest(dir, extra_members)
}

/// Writes (only changed) `files` into `crate_dir`, removing module files they no longer hold.
pub(super) fn write_crate(files: &BTreeMap<String, String>, crate_dir: &Path) -> Result<()> {
    for rel in generator_owned_files(crate_dir)? {
        if !files.contains_key(&rel) {
            std::fs::remove_file(crate_dir.join(&rel))?;
        }
    }
    for (path, contents) in files {
        write_if_changed(&crate_dir.join(path), contents)?;
    }
    Ok(())
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
    // Made first, so that its canonical path (the version's tag) is the same on every call.
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
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
        own_version(&workspace_section(&root, "[workspace.package]")?, dir),
        workspace_section(&root, "[workspace.dependencies]")?
    );
    write_if_changed(&dir.join("Cargo.toml"), &manifest)?;
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).context("reading Cargo.lock")?;
    write_if_changed(&dir.join("Cargo.lock"), &lock)?;
    Ok(())
}

/// The `[workspace.package]` section with its version given build metadata of this
/// workspace's own (`0.1.0+scratch.{hash of dir}`), which every member inherits.
///
/// Why: the scratch workspaces share one build directory ([`super::shared_build_dir`]), and
/// cargo identifies a member by its name, version and path *relative to its workspace root*.
/// Two workspaces each with a `generated` member named `passage-generated` were one unit to
/// cargo: after a check in one, a crate in the other whose files were older than that build
/// was taken as fresh, and its errors never reported (reproduced by
/// `tests::scratch_workspaces_sharing_the_build_directory_do_not_share_a_crate`; it made the
/// split check report a broken copy clean when another test checked at the same time). Build
/// metadata changes no version requirement (`^0.1.0` still matches) and nothing of the
/// generated files.
fn own_version(section: &str, dir: &Path) -> String {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let tag = &crate::regen::sha_hex(dir.to_string_lossy().as_bytes())[..12];
    section
        .lines()
        .map(|line| match line.strip_prefix("version = \"") {
            Some(rest) => match rest.split_once('"') {
                Some((version, after)) if !version.contains('+') => {
                    format!("version = \"{version}+scratch.{tag}\"{after}")
                }
                _ => line.to_owned(),
            },
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Folders of the generated crate whose `.rs` files are all generated, one per module: a file
/// there that the generator no longer produces is stale.
const MODULE_DIRS: [&str; 2] = ["src/types", "src/integrations"];

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

/// The files of the sharded layout's shard crates under `crate_dir` (`shards/*/Cargo.toml`,
/// `shards/*/lib.rs`, as crate-relative paths, sorted): all generated, so one the generator no
/// longer produces is stale.
pub(crate) fn shard_files(crate_dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(crate_dir.join("shards")) else {
        return Ok(out);
    };
    for entry in entries {
        let name = entry?.file_name().to_string_lossy().into_owned();
        for file in ["Cargo.toml", "lib.rs"] {
            if crate_dir.join("shards").join(&name).join(file).is_file() {
                out.push(format!("shards/{name}/{file}"));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Every file of the crate at `crate_dir` that only the generator writes and that it may have
/// to remove: [`module_files`] and [`shard_files`].
pub(crate) fn generator_owned_files(crate_dir: &Path) -> Result<Vec<String>> {
    let mut out = module_files(crate_dir)?;
    out.extend(shard_files(crate_dir)?);
    Ok(out)
}

/// The crate the generated crate's support code lives in, and its folder in the repository.
const SUPPORT_CRATE: &str = "passage-generated-support ";
pub(super) const SUPPORT_CRATE_DIR: &str = "generated-support";

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
