//! What `cargo xtask regen --check` says when something is stale: which files, the one state
//! that explains them, and a fix that changes that state.
//!
//! States, in the order they are looked for (the first that holds explains the rest):
//! the pin differs from `--catalog FILE`/`--fetch`; the pinned catalog is not the one
//! `generated/` was made from (its SHA-256 in `generated/src/provenance.rs`); the generator's
//! versions changed; the generator's code changed (same catalog, same versions, other output);
//! and, with `generated/` up to date, snapshots pending review or not yet written.

use std::fmt;
use std::path::Path;

use passage_codegen::{Generated, Provenance, PROVENANCE_FILE};

use crate::snapshots::SnapshotState;

/// Why `generated/` or the snapshots are stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// `--catalog FILE` or `--fetch` brings a catalog other than the pinned one.
    PinDiffers {
        /// `FILE` or `the live catalog`.
        source: String,
        /// The regen command that pins it.
        regen: String,
    },
    /// The pinned catalog is not the one `generated/` was made from.
    CatalogChanged {
        /// SHA-256 recorded in the provenance file.
        recorded: String,
        /// SHA-256 of `catalog/providers.json`.
        pinned: String,
    },
    /// `generated/` records no provenance (a partial copy, or files deleted).
    NoProvenance,
    /// passage-codegen's or typify's version differs from the recorded one.
    GeneratorVersionChanged {
        /// `passage-codegen A, typify B` as recorded.
        recorded: String,
        /// The same, running now.
        running: String,
    },
    /// Same catalog and versions, yet other output.
    GeneratorChanged,
    /// `generated/` is up to date; snapshots wait in `.snap.new` files for review.
    SnapshotsPending {
        /// How many operations.
        count: usize,
    },
    /// `generated/` is up to date; some snapshots differ without an up-to-date pending file,
    /// or belong to no operation.
    SnapshotsUnwritten,
}

/// What `regen --check` found: the stale items and the state explaining them.
#[derive(Debug, Clone)]
pub struct Diagnosis {
    /// One line per stale file or snapshot.
    pub items: Vec<String>,
    /// Why.
    pub state: State,
}

/// Inputs of [`diagnose`].
pub struct Observed<'a> {
    /// The output directory (`generated/`, or `--out-dir`).
    pub out_dir: &'a Path,
    /// What the generator makes now.
    pub generated: &'a Generated,
    /// SHA-256 of `catalog/providers.json` as pinned.
    pub pinned_sha256: String,
    /// `Some((source, regen command))` when `--catalog`/`--fetch` brings another catalog.
    pub pin_differs: Option<(String, String)>,
    /// Stale files of the output directory.
    pub stale_files: Vec<String>,
    /// The snapshots (`None` for an `--out-dir` experiment, which has none).
    pub snapshots: Option<SnapshotState>,
}

/// The diagnosis, or `None` when everything is up to date.
pub fn diagnose(observed: Observed<'_>) -> Option<Diagnosis> {
    let mut items = observed.stale_files.clone();
    let snapshots = observed.snapshots.unwrap_or_default();
    items.extend(snapshots.items());
    if let Some((source, regen)) = observed.pin_differs {
        items.push(format!("catalog/providers.json differs from {source}"));
        return Some(Diagnosis {
            items,
            state: State::PinDiffers { source, regen },
        });
    }
    if items.is_empty() {
        return None;
    }
    let state = if !observed.stale_files.is_empty() {
        let recorded = std::fs::read_to_string(observed.out_dir.join(PROVENANCE_FILE))
            .ok()
            .or_else(|| std::fs::read_to_string(observed.out_dir.join("src/lib.rs")).ok())
            .and_then(|text| Provenance::parse(&text));
        file_state(
            recorded.as_ref(),
            &observed.generated.provenance,
            &observed.pinned_sha256,
        )
    } else if snapshots.unwritten.is_empty()
        && snapshots.outdated_pending.is_empty()
        && snapshots.orphans.is_empty()
    {
        State::SnapshotsPending {
            count: snapshots.pending.len(),
        }
    } else {
        State::SnapshotsUnwritten
    };
    Some(Diagnosis { items, state })
}

/// Why the output files are stale, from the provenance they record.
fn file_state(recorded: Option<&Provenance>, running: &Provenance, pinned_sha256: &str) -> State {
    let Some(recorded) = recorded else {
        return State::NoProvenance;
    };
    if recorded.catalog_sha256 != pinned_sha256 {
        return State::CatalogChanged {
            recorded: recorded.catalog_sha256.clone(),
            pinned: pinned_sha256.to_owned(),
        };
    }
    let versions = |p: &Provenance| {
        format!(
            "passage-codegen {}, typify {}",
            p.codegen_version, p.typify_version
        )
    };
    if versions(recorded) != versions(running) {
        return State::GeneratorVersionChanged {
            recorded: versions(recorded),
            running: versions(running),
        };
    }
    State::GeneratorChanged
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

impl State {
    /// One sentence: what changed.
    pub fn why(&self) -> String {
        match self {
            State::PinDiffers { source, .. } => {
                format!("the catalog changed: {source} is not the pinned catalog/providers.json")
            }
            State::CatalogChanged { recorded, pinned } => format!(
                "the catalog changed: catalog/providers.json (sha256 {}) is not the catalog \
                 generated/ was made from (sha256 {}, recorded in generated/{PROVENANCE_FILE})",
                short(pinned),
                short(recorded)
            ),
            State::NoProvenance => format!(
                "generated/{PROVENANCE_FILE} is missing or unreadable: what generated/ was made \
                 from is unknown"
            ),
            State::GeneratorVersionChanged { recorded, running } => format!(
                "the generator changed: generated/ was made by {recorded}, this is {running}"
            ),
            State::GeneratorChanged => "the generator changed: generated/ was made from this \
                 catalog by these generator versions, yet differs from what they make now (the \
                 generator's code under codegen/ or the toolchain changed, or a generated file \
                 was edited by hand)"
                .to_owned(),
            State::SnapshotsPending { count } => format!(
                "snapshots pending review: generated/ is up to date, and {count} operation \
                 snapshot(s) wait in codegen/tests/snapshots/*.snap.new (git-ignored: git status \
                 does not show them)"
            ),
            State::SnapshotsUnwritten => "snapshots stale: generated/ is up to date, but some \
                 operation snapshots differ from the generated code without an up-to-date \
                 pending .snap.new, or belong to no operation"
                .to_owned(),
        }
    }

    /// The commands that bring everything up to date from this state.
    pub fn fix(&self) -> String {
        const REVIEW: &str = "review the snapshot changes with `cargo xtask review`, accept them \
                              with `cargo xtask review --accept`, and commit";
        match self {
            State::PinDiffers { regen, .. } => {
                format!("run `{regen}` (pins it and regenerates), then {REVIEW}")
            }
            State::CatalogChanged { .. } => format!(
                "run `cargo xtask regen` (regenerates from the pinned catalog), then {REVIEW}"
            ),
            State::NoProvenance
            | State::GeneratorVersionChanged { .. }
            | State::GeneratorChanged
            | State::SnapshotsUnwritten => {
                format!("run `cargo xtask regen` (writes the pending snapshots), then {REVIEW}")
            }
            State::SnapshotsPending { .. } => format!("{REVIEW} (no regen needed)"),
        }
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "stale ({} item(s)):", self.items.len())?;
        for item in &self.items {
            writeln!(f, "  {item}")?;
        }
        writeln!(f, "why: {}", self.state.why())?;
        write!(f, "fix: {}", self.state.fix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provenance(sha: &str, codegen: &str) -> Provenance {
        Provenance {
            catalog_sha256: sha.into(),
            codegen_version: codegen.into(),
            typify_version: "0.8.0".into(),
        }
    }

    #[test]
    fn the_recorded_provenance_tells_catalog_from_generator() {
        let running = provenance("aa", "0.2.0");
        assert!(matches!(
            file_state(Some(&provenance("bb", "0.2.0")), &running, "aa"),
            State::CatalogChanged { .. }
        ));
        assert!(matches!(
            file_state(Some(&provenance("aa", "0.1.0")), &running, "aa"),
            State::GeneratorVersionChanged { .. }
        ));
        assert_eq!(
            file_state(Some(&provenance("aa", "0.2.0")), &running, "aa"),
            State::GeneratorChanged
        );
        assert_eq!(file_state(None, &running, "aa"), State::NoProvenance);
    }

    #[test]
    fn every_fix_names_a_command_that_changes_its_state() {
        let pending = State::SnapshotsPending { count: 2 };
        assert!(pending.fix().contains("cargo xtask review --accept"));
        assert!(!pending.fix().contains("cargo xtask regen`"));
        for state in [
            State::GeneratorChanged,
            State::CatalogChanged {
                recorded: "b".into(),
                pinned: "a".into(),
            },
        ] {
            assert!(state.fix().contains("`cargo xtask regen`"), "{state:?}");
        }
    }
}
