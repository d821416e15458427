//! The generated crate as it is on disk, read once per regen.
//!
//! A regen compares its output with the crate it replaces several times: the compile gate asks
//! whether the output is exactly that crate (then nothing needs checking), the change report
//! needs the old side's Rust files, `--check` lists what is stale, and the write skips files
//! that did not change. At 2,000 operations the crate is 2,242 files and 34 MB; reading it for
//! each of these (four times, plus as many copies of the output's file map) was a measurable
//! part of a regen after one changed schema. Nothing writes to the folder between the read and
//! the write, so one read serves them all.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use passage_codegen::Generated;

use crate::gate;

/// The files of one generated crate folder: what the generator owns there (types and
/// integrations modules, shard crates) and the crate's own files (`Cargo.toml`, `src/*.rs`).
/// A path the read did not cover is read from disk when asked for, so a file the generator
/// starts writing later is still compared rightly.
#[derive(Debug, Default)]
pub(crate) struct CrateOnDisk {
    dir: PathBuf,
    /// Crate-relative path → text, for every file read.
    files: BTreeMap<String, String>,
    /// The files only the generator writes ([`gate::generator_owned_files`]): one the output
    /// no longer has is stale (and removed on write).
    owned: Vec<String>,
}

impl CrateOnDisk {
    /// Reads the crate in `dir`; a folder without one (or no folder) reads as empty.
    pub(crate) fn read(dir: &Path) -> Result<Self> {
        let owned = gate::generator_owned_files(dir)?;
        let mut paths: Vec<String> = vec!["Cargo.toml".to_owned()];
        if let Ok(entries) = std::fs::read_dir(dir.join("src")) {
            for entry in entries {
                let name = entry?.file_name().to_string_lossy().into_owned();
                if name.ends_with(".rs") {
                    paths.push(format!("src/{name}"));
                }
            }
        }
        paths.extend(owned.iter().cloned());
        let mut files = BTreeMap::new();
        for path in paths {
            match std::fs::read_to_string(dir.join(&path)) {
                Ok(text) => {
                    files.insert(path, text);
                }
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => {
                    return Err(err)
                        .with_context(|| format!("reading {}", dir.join(&path).display()))
                }
            }
        }
        Ok(CrateOnDisk {
            dir: dir.to_path_buf(),
            files,
            owned,
        })
    }

    /// Whether a crate is there (its `src/lib.rs`).
    pub(crate) fn exists(&self) -> bool {
        self.files.contains_key("src/lib.rs")
    }

    /// Whether the file at `path` holds exactly `contents`.
    fn holds(&self, path: &str, contents: &str) -> bool {
        match self.files.get(path) {
            Some(text) => text == contents,
            // Not read up front (a kind of file the read does not list): ask the disk.
            None => std::fs::read_to_string(self.dir.join(path)).is_ok_and(|t| t == contents),
        }
    }

    /// Files that differ from, are missing from, or are extra to the output, as
    /// `generated/{path} ...` lines.
    pub(crate) fn stale(&self, generated: &Generated) -> Vec<String> {
        let written = generated.written();
        let mut stale = Vec::new();
        for (path, contents) in &written {
            if !self.holds(path, contents) {
                let known = self.files.contains_key(*path) || self.dir.join(path).is_file();
                stale.push(if known {
                    format!("generated/{path} differs")
                } else {
                    format!("generated/{path} is missing")
                });
            }
        }
        for extra in &self.owned {
            if !written.contains_key(extra.as_str()) {
                stale.push(format!("generated/{extra} is no longer generated"));
            }
        }
        stale
    }

    /// Whether the output is exactly this crate (nothing to write, nothing to remove).
    pub(crate) fn is(&self, generated: &Generated) -> bool {
        self.stale(generated).is_empty()
    }

    /// The crate's Rust files the change report compares (`src/lib.rs`, the types and
    /// integrations modules), keyed as `Generated::files`.
    pub(crate) fn report_files(&self) -> BTreeMap<String, String> {
        self.files
            .iter()
            .filter(|(path, _)| {
                *path == "src/lib.rs"
                    || path.starts_with("src/types/")
                    || path.starts_with("src/integrations/")
            })
            .map(|(path, text)| (path.clone(), text.clone()))
            .collect()
    }

    /// Writes the output over this crate: files whose text changed or that are new, and
    /// removes the generator's files the output no longer has (with a shard's emptied folder).
    /// Counts what it wrote and removed (crate-relative paths).
    pub(crate) fn write(&self, generated: &Generated) -> Result<super::WriteCounts> {
        let written_files = generated.written();
        let mut written = Vec::new();
        for (path, contents) in &written_files {
            if self.holds(path, contents) {
                continue;
            }
            let target = self.dir.join(path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&target, contents)
                .with_context(|| format!("writing {}", target.display()))?;
            written.push((*path).to_owned());
        }
        let mut removed = Vec::new();
        for extra in &self.owned {
            if written_files.contains_key(extra.as_str()) {
                continue;
            }
            std::fs::remove_file(self.dir.join(extra))?;
            // A shard no longer generated leaves an empty folder: remove it too (not an error
            // when something else is in it).
            if extra.starts_with("shards/") {
                if let Some(folder) = self.dir.join(extra).parent() {
                    let _ = std::fs::remove_dir(folder);
                }
            }
            removed.push(extra.clone());
        }
        Ok(super::WriteCounts {
            written,
            removed,
            pending_snapshots: 0,
            total: written_files.len(),
        })
    }
}
