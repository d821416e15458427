//! The delta crate: only the changed types modules of a crate whose rest compiled before, checked
//! on their own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use passage_codegen::Generated;

use super::{types_count, types_module};

/// The scratch workspace of the delta crate, beside the full one.
pub(super) fn delta_dir(scratch: &Path) -> PathBuf {
    let mut name = scratch.file_name().unwrap_or_default().to_os_string();
    name.push("-delta");
    scratch.with_file_name(name)
}

/// A crate holding only `modules` of `generated` (at their usual paths, so errors trace the same
/// way), the support module `__private` they use, and a `use` of every item the rest of the crate
/// names in them (so a module that lost a type `lib.rs` needs fails here too). `None` when there
/// is nothing to check or the support module cannot be found: the caller checks the whole crate.
pub(super) fn delta_crate(generated: &Generated, modules: &[String]) -> Option<Generated> {
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
        sharded: Default::default(),
        snapshots: Vec::new(),
        warnings: Vec::new(),
        provenance: generated.provenance.clone(),
    })
}
