//! The sharded layout of a large generated crate: its types modules compiled as several crates.
//!
//! rustc holds a whole crate in memory while it compiles it: checking the crate of a
//! 2,000-operation catalog (2,010 types modules) in one piece took 11.2 GB here, and its dev
//! build failed past 10 GB. Past [`Settings::with_shard_modules`](crate::Settings) modules, the
//! crate is written as a facade (`passage-generated`: the same `lib.rs` API, integrations and
//! registry) over *shard* crates (`passage-generated-shard-{k}` in `shards/{k}/`), each holding
//! about that many of the types modules. Cargo compiles the shards one per core, each in a
//! fraction of the memory, and a build with one integration's feature compiles only that
//! integration's modules in each shard.
//!
//! What makes the split sound: a types module names nothing of another (each names only
//! `crate::__private`, the support crate, which every shard re-exports the same way), so a
//! module compiles the same in any shard. The paths users write do not change: the facade's
//! `types` module re-exports each shard's module (`passage_generated::types::x::X`).
//!
//! Two things must live in the shard of the type they name:
//! - the `OperationArguments` impls (the orphan rule: the trait is the support crate's, so its
//!   impl must be in the crate that defines the type);
//! - decoding: the facade calls one plain (not generic) `__decode` function per result type,
//!   defined in the type's module (in either layout), so each type's `Deserialize` is
//!   instantiated in its shard. A generic `decode::<T>` called from the facade instantiates every
//!   type's deserializer in the facade, which then costs as much memory as the unsharded crate
//!   (8.48 GB measured at 2,000 operations, against 2.18 GB with the plain functions).
//!
//! The types module files stay where they are (`src/types/{module}.rs`): a shard declares them
//! with `#[path]`, so the compile gate, the module cache and the change report see the same files
//! in either layout, and a catalog crossing the threshold moves no file but the glue.
//!
//! A module goes to shard `hash(module name) % shards`: a changed or added schema moves no other
//! module, so an incremental build recompiles one shard (until the shard count changes).

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use sha2::Digest as _;

use crate::{naming, SchemaRole, SchemaUnit};

/// Which shard holds each types module.
#[derive(Debug, Clone)]
pub(crate) struct ShardPlan {
    /// How many shard crates.
    pub count: usize,
    /// Types module name → its shard.
    pub of: BTreeMap<String, usize>,
}

/// The shards of `units` at most `max_modules` per shard on average; `None` (one crate) when
/// there are no more units than that, or `max_modules` is 0 (sharding off).
pub(crate) fn plan(units: &[SchemaUnit], max_modules: Option<usize>) -> Option<ShardPlan> {
    plan_modules(units.iter().map(|unit| unit.module.as_str()), max_modules)
}

fn plan_modules<'a>(
    modules: impl ExactSizeIterator<Item = &'a str>,
    max_modules: Option<usize>,
) -> Option<ShardPlan> {
    let max = max_modules.filter(|&max| max > 0)?;
    if modules.len() <= max {
        return None;
    }
    let count = modules.len().div_ceil(max);
    let of = modules
        .map(|module| (module.to_owned(), shard_of(module, count)))
        .collect();
    Some(ShardPlan { count, of })
}

/// The shard of the types module `module` among `count`: by a hash of the name alone, so that
/// adding or changing another schema never moves it.
fn shard_of(module: &str, count: usize) -> usize {
    let digest = sha2::Sha256::digest(module.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_le_bytes(first) % count as u64) as usize
}

impl ShardPlan {
    /// The package name of shard `k`.
    pub fn package(k: usize) -> String {
        format!("passage-generated-shard-{k}")
    }

    /// The library (extern crate) name of the shard holding `module`.
    pub fn library_of(&self, module: &str) -> syn::Ident {
        format_ident!("passage_generated_shard_{}", self.of[module])
    }

    /// The folder of shard `k`, relative to the generated crate.
    pub fn folder(k: usize) -> String {
        format!("shards/{k}")
    }
}

/// `shards/{k}/Cargo.toml` and `shards/{k}/lib.rs` of every shard, and the lines the facade's
/// manifest needs: its dependency on each shard and, per integration feature, the shards' features
/// it turns on.
pub(crate) struct ShardFiles {
    /// Shard files keyed by path relative to the generated crate.
    pub files: BTreeMap<String, String>,
    /// `[dependencies]` lines of the facade.
    pub dependencies: String,
    /// Feature name → the shard features (`passage-generated-shard-{k}/{feature}`) it enables.
    pub forwards: BTreeMap<String, Vec<String>>,
}

/// Emits every shard of `plan`. `header` is the generated-file header for a comment marker;
/// `format` turns tokens into a file.
pub(crate) fn emit(
    plan: &ShardPlan,
    units: &[SchemaUnit],
    names: &naming::CrateNames,
    header: &dyn Fn(&str) -> String,
    format: &dyn Fn(TokenStream, &str) -> Result<String, crate::CodegenError>,
) -> Result<ShardFiles, crate::CodegenError> {
    let mut files = BTreeMap::new();
    let mut forwards: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    let mut dependencies = String::new();
    for k in 0..plan.count {
        let mine: Vec<&SchemaUnit> = units.iter().filter(|u| plan.of[&u.module] == k).collect();
        let features: BTreeSet<&String> = mine
            .iter()
            .flat_map(|unit| unit.integrations.iter())
            .map(|integration| &names.features[integration])
            .collect();
        for feature in &features {
            forwards.entry((*feature).clone()).or_default().insert(k);
        }
        let package = ShardPlan::package(k);
        let folder = ShardPlan::folder(k);
        dependencies.push_str(&format!("{package} = {{ path = \"{folder}\" }}\n"));
        let mut cargo = header("#");
        cargo.push_str(&format!(
            "[package]\n\
             name = \"{package}\"\n\
             description = \"Part {k} of passage-generated's types: a catalog of many schemas is \
             compiled as several crates. Use them through passage-generated.\"\n\
             version.workspace = true\n\
             edition.workspace = true\n\
             rust-version.workspace = true\n\
             license.workspace = true\n\
             publish = false\n\
             repository.workspace = true\n\n\
             [lib]\npath = \"lib.rs\"\n\n\
             [features]\n"
        ));
        for feature in &features {
            cargo.push_str(&format!("{feature} = []\n"));
        }
        cargo.push_str(
            "\n[dependencies]\n\
             serde.workspace = true\n\
             serde_json.workspace = true\n\
             passage-generated-support.workspace = true\n",
        );
        files.insert(format!("{folder}/Cargo.toml"), cargo);
        let lib = format(shard_lib(k, plan.count, &mine, names), "lib.rs")?;
        files.insert(format!("{folder}/lib.rs"), format!("{}{lib}", header("//")));
    }
    let forwards = forwards
        .into_iter()
        .map(|(feature, shards)| {
            let enabled = shards
                .into_iter()
                .map(|k| format!("{}/{feature}", ShardPlan::package(k)))
                .collect();
            (feature, enabled)
        })
        .collect();
    Ok(ShardFiles {
        files,
        dependencies,
        forwards,
    })
}

/// `lib.rs` of shard `k` of `count`: its types modules (the files under the facade's
/// `src/types/`) and their `OperationArguments` impls.
fn shard_lib(
    k: usize,
    count: usize,
    units: &[&SchemaUnit],
    names: &naming::CrateNames,
) -> TokenStream {
    let mut modules = Vec::new();
    let mut impls = Vec::new();
    for unit in units {
        let cfg = super::cfg_any(
            &unit.integrations.iter().map(String::as_str).collect(),
            names,
        );
        let module = format_ident!("{}", unit.module);
        let doc = super::module_doc(unit);
        modules.push(quote! { #[doc = #doc] #cfg pub mod #module; });
        if unit.role == SchemaRole::Arguments {
            impls.push(super::arguments_impl(unit, names));
        }
    }
    let doc = format!(
        "Part {k} of {count} of the `passage-generated` crate's types: a catalog of many schemas is \
         compiled as several crates, each in a fraction of the memory one crate would take. Use the \
         types through `passage_generated::types`, which re-exports these modules."
    );
    quote! {
        #![doc = #doc]
        #![cfg_attr(rustfmt, rustfmt::skip)]
        // As in the facade's `lib.rs`: `missing_docs` (schemas without descriptions),
        // `unused_imports`/`unused_macros`/`unreachable_patterns` (code behind features that are
        // off), `clippy::result_large_err` (as in the facade).
        #![allow(missing_docs, unused_imports, unused_macros, unreachable_patterns, clippy::result_large_err)]
        #![forbid(unsafe_code)]

        /// This shard's types modules, re-exported by `passage_generated::types`: the files of
        /// the facade's `src/types/` (a `#[path]` on this inline module sets the folder its
        /// modules are read from; one on each module would be read from `shards/{k}/types/`,
        /// which does not exist).
        #[path = "../../src/types"]
        pub mod types {
            #(#modules)*
        }

        pub use ::passage_generated_support::OperationArguments;

        #(#impls)*

        /// The support code generated types name as `crate::__private::…`.
        #[doc(hidden)]
        pub mod __private {
            pub use ::passage_generated_support::*;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("op_{i}_read_result")).collect()
    }

    #[test]
    fn a_crate_of_at_most_the_shard_size_stays_one_crate() {
        let modules = names(10);
        let plan = |max| plan_modules(modules.iter().map(String::as_str), max);
        assert!(plan(None).is_none());
        assert!(plan(Some(0)).is_none(), "0 turns sharding off");
        assert!(plan(Some(10)).is_none());
        let plan = plan(Some(4)).expect("11 > 4");
        assert_eq!(plan.count, 3);
        assert_eq!(plan.of.len(), 10);
        assert!(plan.of.values().all(|&k| k < 3));
    }

    #[test]
    fn adding_a_module_moves_no_other_while_the_shard_count_holds() {
        let before = names(200);
        let mut after = before.clone();
        after.push("brand_new_read_result".into());
        let a = plan_modules(before.iter().map(String::as_str), Some(50)).unwrap();
        let b = plan_modules(after.iter().map(String::as_str), Some(50)).unwrap();
        assert_eq!((a.count, b.count), (4, 5));
        // Past a multiple of the size the count changes; below it nothing moves.
        let c = plan_modules(before[..199].iter().map(String::as_str), Some(50)).unwrap();
        assert_eq!(c.count, 4);
        for module in &before[..199] {
            assert_eq!(a.of[module], c.of[module], "{module} moved");
        }
        // The hash spreads the modules: no shard is empty or holds twice its share.
        let mut sizes = vec![0; a.count];
        for &k in a.of.values() {
            sizes[k] += 1;
        }
        assert!(sizes.iter().all(|&n| n > 0 && n < 100), "{sizes:?}");
    }
}
