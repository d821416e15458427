//! The Rust API difference between two builds of the generated crate, computed from the
//! generated code itself: both crates' files are parsed with `syn` and their public items
//! compared (structs and their fields with types, enums and variants, type aliases and their
//! targets, functions, constants, traits, re-exports, `#[non_exhaustive]`, `#[cfg]` feature
//! gates, and the traits each type implements: derives, hand-written `impl`s and the
//! `Deserialize` the `open_struct!`/`open_enum!` support macros expand to).
//!
//! Why this is of equal strength to cargo-semver-checks *for these crates* (which is not on
//! this machine, and would need the network to install): cargo-semver-checks compares rustdoc
//! JSON of two builds, item by item, against its lint list. What the generated crate exposes is
//! only data types and a fixed support layer: `pub struct`s whose fields are all `pub`, `pub
//! enum`s with unit, tuple and struct variants, `pub type` aliases, derived or macro-made trait
//! impls, and the hand-written (catalog-independent) functions of `lib.rs`. It has no generics
//! with bounds, no sealed traits, no `#[doc(hidden)]` re-exports of private modules, no
//! inherent methods that depend on the catalog beyond `OperationResult`'s. For that item set,
//! every cargo-semver-checks lint that can fire has its counterpart here (`struct_missing`,
//! `struct_pub_field_missing`, `constructible_struct_adds_field`, field type changed,
//! `enum_missing`, `enum_variant_missing`, `enum_variant_added` on exhaustive enums,
//! `enum_marked_non_exhaustive`, `type_alias` retargeting, `derive_trait_impl_removed`,
//! `function_missing`/signature changed, `feature_missing` via the `#[cfg]` gates), and the
//! comparison is on the same source rustdoc would document. Type identity is by path text:
//! a field whose type is renamed counts as retyped, which is what it is for user code.
//! An item that leaves the crate but whose path a `pub use` still resolves (it moved to another
//! crate, as `DecodeError` did to `passage-generated-support`) is reported as re-exported, not
//! removed: its new definition lives outside the one crate this diff reads, and is not compared.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use quote::ToTokens;

/// How much an API change matters to code built on the previous crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ApiSeverity {
    /// Something new; existing code compiles.
    Addition,
    /// Existing code may no longer compile.
    Breaking,
}

/// What kind of API change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ApiChangeKind {
    /// A public item appeared.
    ItemAdded,
    /// A public item disappeared.
    ItemRemoved,
    /// An item disappeared and one of the same shape appeared under another path or name.
    ItemRenamed,
    /// The item became another kind of item (struct → enum, ...).
    KindChanged,
    /// A public field appeared.
    FieldAdded,
    /// A public field disappeared.
    FieldRemoved,
    /// A field's type changed.
    FieldRetyped,
    /// A variant appeared.
    VariantAdded,
    /// A variant disappeared.
    VariantRemoved,
    /// A variant's fields changed.
    VariantChanged,
    /// A type alias points at another type.
    AliasRetargeted,
    /// A function's or constant's signature changed.
    SignatureChanged,
    /// `#[non_exhaustive]` appeared or disappeared.
    NonExhaustiveChanged,
    /// A trait implementation (derive, `impl`, support macro) appeared or disappeared.
    TraitImplChanged,
    /// The `#[cfg]` feature gate changed.
    FeatureGateChanged,
    /// An item defined here became a `pub use` of the same name from elsewhere (another crate):
    /// the path still resolves; the definition is not compared (this diff sees one crate).
    ItemReexported,
}

/// One change of the public API.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiChange {
    /// Path of the item inside the crate (`types::payment_method_read_result::PaymentMethodReadResult`).
    pub item: String,
    /// What changed.
    pub kind: ApiChangeKind,
    /// Whether it breaks.
    pub severity: ApiSeverity,
    /// Details for a reader, e.g. "field `wallet_id: Option<String>` added; breaks struct literals".
    pub detail: String,
}

impl fmt::Display for ApiChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.severity {
            ApiSeverity::Breaking => "BREAKING  ",
            ApiSeverity::Addition => "addition  ",
        };
        write!(f, "{tag} `{}`: {}", self.item, self.detail)
    }
}

/// The public items of one crate, keyed by path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicApi {
    items: BTreeMap<String, Item>,
    /// Paths a `pub use` makes resolve (`module::Name`, the name after `as` if renamed); glob
    /// imports are not expanded.
    reexports: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    shape: Shape,
    cfg: Option<String>,
    non_exhaustive: bool,
    traits: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    /// Named or positional fields: `(name, type)`, `None` for a private field.
    Struct(Vec<(String, Option<String>)>),
    /// Variant name → its fields as text.
    Enum(BTreeMap<String, String>),
    Alias(String),
    /// Any other item, by its signature text.
    Other {
        kind: &'static str,
        signature: String,
    },
}

impl Shape {
    fn kind(&self) -> &'static str {
        match self {
            Shape::Struct(_) => "struct",
            Shape::Enum(_) => "enum",
            Shape::Alias(_) => "type alias",
            Shape::Other { kind, .. } => kind,
        }
    }
}

impl PublicApi {
    /// Parses the crate's files (`src/lib.rs`, `src/types/*.rs`, `src/integrations/*.rs`,
    /// keyed by crate-relative path as `Generated::files` holds them). Other files and files
    /// that do not parse are skipped: a file that does not parse has no API to compare, and the
    /// generator's own round trip through `syn` already refuses such output.
    pub fn from_files<'a>(files: impl IntoIterator<Item = (&'a String, &'a String)>) -> Self {
        let mut api = PublicApi::default();
        let mut impls: Vec<(String, String)> = Vec::new();
        for (path, text) in files {
            let Some(module) = module_of(path) else {
                continue;
            };
            let Ok(file) = syn::parse_file(text) else {
                continue;
            };
            api.collect(&module, &file.items, &mut impls);
        }
        for (self_name, trait_name) in impls {
            if let Some(item) = api.items.get_mut(&self_name) {
                item.traits.insert(trait_name);
            }
        }
        api
    }

    /// The type an alias names, as a crate path without spaces or `crate::`
    /// (`types::payment_method_read_result::PaymentMethodReadResult`).
    pub fn alias_target(&self, path: &str) -> Option<String> {
        match &self.items.get(path)?.shape {
            Shape::Alias(target) => {
                let text: String = target.chars().filter(|c| !c.is_whitespace()).collect();
                Some(text.strip_prefix("crate::").unwrap_or(&text).to_string())
            }
            _ => None,
        }
    }

    fn collect(&mut self, module: &str, items: &[syn::Item], impls: &mut Vec<(String, String)>) {
        let join = |name: &str| {
            if module.is_empty() {
                name.to_string()
            } else {
                format!("{module}::{name}")
            }
        };
        for item in items {
            // `#[doc(hidden)]` items (the `__private` support module) are not public API, as
            // rustdoc and cargo-semver-checks treat them.
            if item_attrs(item).iter().any(is_doc_hidden) {
                continue;
            }
            let (name, attrs, shape) = match item {
                syn::Item::Struct(s) if is_pub(&s.vis) => {
                    let fields = s
                        .fields
                        .iter()
                        .enumerate()
                        .map(|(i, f)| {
                            let name = f.ident.as_ref().map_or(i.to_string(), |id| id.to_string());
                            (name, is_pub(&f.vis).then(|| tokens(&f.ty)))
                        })
                        .collect();
                    (s.ident.to_string(), &s.attrs, Shape::Struct(fields))
                }
                syn::Item::Enum(e) if is_pub(&e.vis) => {
                    let variants = e
                        .variants
                        .iter()
                        .map(|v| (v.ident.to_string(), tokens(&v.fields)))
                        .collect();
                    (e.ident.to_string(), &e.attrs, Shape::Enum(variants))
                }
                syn::Item::Type(t) if is_pub(&t.vis) => {
                    (t.ident.to_string(), &t.attrs, Shape::Alias(tokens(&t.ty)))
                }
                syn::Item::Fn(f) if is_pub(&f.vis) => {
                    (f.sig.ident.to_string(), &f.attrs, other("function", &f.sig))
                }
                syn::Item::Const(c) if is_pub(&c.vis) => {
                    (c.ident.to_string(), &c.attrs, other("constant", &c.ty))
                }
                syn::Item::Static(s) if is_pub(&s.vis) => {
                    (s.ident.to_string(), &s.attrs, other("static", &s.ty))
                }
                syn::Item::Trait(t) if is_pub(&t.vis) => (
                    t.ident.to_string(),
                    &t.attrs,
                    other("trait", &t.items_signature()),
                ),
                syn::Item::Use(u) if is_pub(&u.vis) => {
                    let mut names = Vec::new();
                    use_names(&u.tree, &mut names);
                    self.reexports.extend(names.iter().map(|name| join(name)));
                    let text = tokens(&u.tree);
                    (format!("use {text}"), &u.attrs, other("re-export", &u.tree))
                }
                syn::Item::Mod(m) if is_pub(&m.vis) => {
                    let path = join(&m.ident.to_string());
                    if let Some((_, content)) = &m.content {
                        self.collect(&path, content, impls);
                    }
                    (
                        m.ident.to_string(),
                        &m.attrs,
                        Shape::Other {
                            kind: "module",
                            signature: String::new(),
                        },
                    )
                }
                syn::Item::Impl(i) => {
                    let self_name = last_segment(&i.self_ty);
                    match &i.trait_ {
                        Some((_, trait_path, _)) => {
                            let trait_name = trait_path
                                .segments
                                .last()
                                .map(|s| s.ident.to_string())
                                .unwrap_or_default();
                            impls.push((resolve(module, &i.self_ty, &self_name), trait_name));
                        }
                        None => {
                            // Inherent methods are API of the type: `Type::method`.
                            for inner in &i.items {
                                if let syn::ImplItem::Fn(f) = inner {
                                    if is_pub(&f.vis) {
                                        let path = format!(
                                            "{}::{}",
                                            resolve(module, &i.self_ty, &self_name),
                                            f.sig.ident
                                        );
                                        self.items.insert(
                                            path,
                                            Item {
                                                shape: other("method", &f.sig),
                                                cfg: cfg_of(&i.attrs),
                                                non_exhaustive: false,
                                                traits: BTreeSet::new(),
                                            },
                                        );
                                    }
                                }
                            }
                        }
                    }
                    continue;
                }
                syn::Item::Macro(m) => {
                    // `open_struct!(Name, ...)` and `open_enum!(Name, ...)` implement
                    // `Deserialize` for the type they name first.
                    let macro_name = m.mac.path.segments.last().map(|s| s.ident.to_string());
                    if matches!(macro_name.as_deref(), Some("open_struct" | "open_enum")) {
                        let first = m.mac.tokens.clone().into_iter().next();
                        if let Some(proc_macro2::TokenTree::Ident(ident)) = first {
                            impls.push((join(&ident.to_string()), "Deserialize".into()));
                        }
                    }
                    continue;
                }
                _ => continue,
            };
            let mut traits = BTreeSet::new();
            for attr in attrs.iter().filter(|a| a.path().is_ident("derive")) {
                let _ = attr.parse_nested_meta(|meta| {
                    if let Some(last) = meta.path.segments.last() {
                        traits.insert(last.ident.to_string());
                    }
                    Ok(())
                });
            }
            self.items.insert(
                join(&name),
                Item {
                    shape,
                    cfg: cfg_of(attrs),
                    non_exhaustive: attrs.iter().any(|a| a.path().is_ident("non_exhaustive")),
                    traits,
                },
            );
        }
    }
}

trait ItemsSignature {
    fn items_signature(&self) -> proc_macro2::TokenStream;
}

impl ItemsSignature for syn::ItemTrait {
    /// A trait's supertraits and item signatures, without default bodies or docs.
    fn items_signature(&self) -> proc_macro2::TokenStream {
        let bounds = &self.supertraits;
        let items = self.items.iter().map(|item| match item {
            syn::TraitItem::Const(c) => {
                let (ident, ty) = (&c.ident, &c.ty);
                quote::quote!(const #ident: #ty;)
            }
            syn::TraitItem::Fn(f) => {
                let sig = &f.sig;
                quote::quote!(#sig;)
            }
            syn::TraitItem::Type(t) => {
                let ident = &t.ident;
                quote::quote!(type #ident;)
            }
            other => other.to_token_stream(),
        });
        quote::quote!(: #bounds { #(#items)* })
    }
}

/// The names a use tree brings into scope (`a::{B, c::D as E}` → `B`, `E`; globs: none).
fn use_names(tree: &syn::UseTree, out: &mut Vec<String>) {
    match tree {
        syn::UseTree::Path(path) => use_names(&path.tree, out),
        syn::UseTree::Name(name) => out.push(name.ident.to_string()),
        syn::UseTree::Rename(rename) => out.push(rename.rename.to_string()),
        syn::UseTree::Group(group) => group.items.iter().for_each(|t| use_names(t, out)),
        syn::UseTree::Glob(_) => {}
    }
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Struct(i) => &i.attrs,
        syn::Item::Enum(i) => &i.attrs,
        syn::Item::Type(i) => &i.attrs,
        syn::Item::Fn(i) => &i.attrs,
        syn::Item::Const(i) => &i.attrs,
        syn::Item::Static(i) => &i.attrs,
        syn::Item::Trait(i) => &i.attrs,
        syn::Item::Use(i) => &i.attrs,
        syn::Item::Mod(i) => &i.attrs,
        _ => &[],
    }
}

fn is_doc_hidden(attr: &syn::Attribute) -> bool {
    attr.path().is_ident("doc") && tokens(&attr.meta).replace(' ', "") == "doc(hidden)"
}

fn other(kind: &'static str, node: &impl ToTokens) -> Shape {
    Shape::Other {
        kind,
        signature: tokens(node),
    }
}

/// Token text as a person writes it: `::std::option::Option<i64>`, not `:: std :: option ::
/// Option < i64 >`; standard-library paths shortened to the prelude name.
fn tokens(node: &impl ToTokens) -> String {
    let mut text = node.to_token_stream().to_string();
    for (from, to) in [
        (" :: ", "::"),
        (":: ", "::"),
        (" < ", "<"),
        (" <", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ,", ","),
        (",>", ">"),
        ("& '", "&'"),
        ("& ", "&"),
    ] {
        text = text.replace(from, to);
    }
    for prefix in ["::std::option::", "::std::string::", "::std::vec::"] {
        text = text.replace(prefix, "");
    }
    text
}

fn is_pub(vis: &syn::Visibility) -> bool {
    matches!(vis, syn::Visibility::Public(_))
}

fn cfg_of(attrs: &[syn::Attribute]) -> Option<String> {
    attrs
        .iter()
        .find(|a| a.path().is_ident("cfg"))
        .map(|a| tokens(&a.meta))
}

/// The cargo features a `cfg` names; an item under `any(feature = ..)` is available with each.
fn features(cfg: &Option<String>) -> Option<BTreeSet<String>> {
    let text = cfg.as_ref()?;
    Some(
        text.split("feature = \"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .map(String::from)
            .collect(),
    )
}

fn last_segment(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        other => tokens(other),
    }
}

/// The item path an `impl`'s self type names: `crate::types::m::T` → `types::m::T`; a bare
/// `T` is in the current module.
fn resolve(module: &str, ty: &syn::Type, last: &str) -> String {
    if let syn::Type::Path(p) = ty {
        let segments: Vec<String> = p
            .path
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect();
        if segments.first().map(String::as_str) == Some("crate") {
            return segments[1..].join("::");
        }
    }
    if module.is_empty() {
        last.to_string()
    } else {
        format!("{module}::{last}")
    }
}

/// The module path of a crate file: `src/lib.rs` → ``, `src/types/x.rs` → `types::x`,
/// `src/integrations/x.rs` → `x` (declared `#[path = "integrations/x.rs"] pub mod x`).
/// `src/provenance.rs` is private (its constants are re-exported by name, compared in `lib.rs`).
fn module_of(path: &str) -> Option<String> {
    let stem = |p: &str| p.strip_suffix(".rs").map(String::from);
    if path == "src/lib.rs" {
        return Some(String::new());
    }
    if let Some(rest) = path.strip_prefix("src/types/") {
        return stem(rest).map(|m| format!("types::{m}"));
    }
    path.strip_prefix("src/integrations/").and_then(stem)
}

/// Compares two crates' public APIs: every change, sorted by item path.
pub fn compare(old: &PublicApi, new: &PublicApi) -> Vec<ApiChange> {
    let mut changes = Vec::new();
    let removed: Vec<&String> = old
        .items
        .keys()
        .filter(|k| !new.items.contains_key(*k))
        .collect();
    let added: Vec<&String> = new
        .items
        .keys()
        .filter(|k| !old.items.contains_key(*k))
        .collect();
    let mut renamed_to: BTreeSet<&String> = BTreeSet::new();
    for path in &removed {
        let before = &old.items[*path];
        // The same shape under another path: a module renamed (a schema one integration now
        // publishes differently) or a type renamed. Still a break for code naming the old path.
        let twin = if before.shape.kind() == "module" {
            None
        } else {
            added
                .iter()
                .find(|p| !renamed_to.contains(*p) && new.items[**p].shape == before.shape)
        };
        if new.reexports.contains(*path) {
            // Moved to another crate behind a re-export (the support crate took
            // `DecodeError`): code naming the path still compiles, unless the definition
            // itself changed, which this one-crate diff cannot see.
            changes.push(ApiChange {
                item: (*path).clone(),
                kind: ApiChangeKind::ItemReexported,
                severity: ApiSeverity::Addition,
                detail: format!(
                    "{} now re-exported from elsewhere (`pub use`); the path still resolves, \
                     the definition it names is not compared",
                    before.shape.kind()
                ),
            });
            continue;
        }
        match twin {
            Some(target) => {
                renamed_to.insert(target);
                changes.push(ApiChange {
                    item: (*path).clone(),
                    kind: ApiChangeKind::ItemRenamed,
                    severity: ApiSeverity::Breaking,
                    detail: format!("{} renamed to `{target}` (same shape)", before.shape.kind()),
                });
            }
            _ => changes.push(ApiChange {
                item: (*path).clone(),
                kind: ApiChangeKind::ItemRemoved,
                severity: ApiSeverity::Breaking,
                detail: format!("{} removed", before.shape.kind()),
            }),
        }
    }
    for path in added.iter().filter(|p| !renamed_to.contains(*p)) {
        changes.push(ApiChange {
            item: (*path).clone(),
            kind: ApiChangeKind::ItemAdded,
            severity: ApiSeverity::Addition,
            detail: format!("{} added", new.items[*path].shape.kind()),
        });
    }
    for (path, before) in &old.items {
        if let Some(after) = new.items.get(path) {
            compare_item(path, before, after, &mut changes);
        }
    }
    changes.sort();
    changes
}

fn compare_item(path: &str, before: &Item, after: &Item, changes: &mut Vec<ApiChange>) {
    let mut push = |kind, severity, detail: String| {
        changes.push(ApiChange {
            item: path.to_string(),
            kind,
            severity,
            detail,
        })
    };
    use ApiChangeKind as K;
    use ApiSeverity::{Addition, Breaking};
    match (&before.shape, &after.shape) {
        (Shape::Struct(old), Shape::Struct(new)) => {
            let old_map: BTreeMap<_, _> = old.iter().cloned().collect();
            let new_map: BTreeMap<_, _> = new.iter().cloned().collect();
            // A struct literal needs every field: possible only while all are public and the
            // struct is not `#[non_exhaustive]`.
            let constructible = !before.non_exhaustive && old.iter().all(|(_, ty)| ty.is_some());
            for (name, ty) in &new_map {
                match (old_map.get(name), ty) {
                    (None, Some(ty)) => {
                        let (severity, why) = if constructible {
                            (
                                Breaking,
                                "breaks struct literals (the struct is not #[non_exhaustive])",
                            )
                        } else {
                            (Addition, "struct literals were already impossible")
                        };
                        push(
                            K::FieldAdded,
                            severity,
                            format!("field `{name}: {ty}` added; {why}"),
                        );
                    }
                    (Some(Some(old_ty)), Some(new_ty)) if old_ty != new_ty => push(
                        K::FieldRetyped,
                        Breaking,
                        format!("field `{name}` retyped: `{old_ty}` -> `{new_ty}`"),
                    ),
                    (Some(Some(_)), None) => push(
                        K::FieldRemoved,
                        Breaking,
                        format!("field `{name}` made private"),
                    ),
                    _ => {}
                }
            }
            for (name, ty) in &old_map {
                if ty.is_some() && !new_map.contains_key(name) {
                    push(K::FieldRemoved, Breaking, format!("field `{name}` removed"));
                }
            }
        }
        (Shape::Enum(old), Shape::Enum(new)) => {
            for (name, fields) in new {
                match old.get(name) {
                    None if before.non_exhaustive => push(
                        K::VariantAdded,
                        Addition,
                        format!("variant `{name}` added (the enum is #[non_exhaustive])"),
                    ),
                    None => push(
                        K::VariantAdded,
                        Breaking,
                        format!("variant `{name}` added; breaks exhaustive `match`es (the enum is not #[non_exhaustive])"),
                    ),
                    Some(old_fields) if old_fields != fields => push(
                        K::VariantChanged,
                        Breaking,
                        format!("variant `{name}` changed: `{old_fields}` -> `{fields}`"),
                    ),
                    Some(_) => {}
                }
            }
            for name in old.keys().filter(|n| !new.contains_key(*n)) {
                push(
                    K::VariantRemoved,
                    Breaking,
                    format!("variant `{name}` removed"),
                );
            }
        }
        (Shape::Alias(old), Shape::Alias(new)) if old != new => push(
            K::AliasRetargeted,
            Breaking,
            format!("now names `{new}` (was `{old}`)"),
        ),
        (
            Shape::Other {
                kind: a,
                signature: x,
            },
            Shape::Other {
                kind: b,
                signature: y,
            },
        ) if a == b && x != y => push(
            K::SignatureChanged,
            Breaking,
            format!("{a} signature: `{x}` -> `{y}`"),
        ),
        (old, new) if old.kind() != new.kind() => push(
            K::KindChanged,
            Breaking,
            format!("{} became a {}", old.kind(), new.kind()),
        ),
        _ => {}
    }
    match (before.non_exhaustive, after.non_exhaustive) {
        (false, true) => push(
            K::NonExhaustiveChanged,
            Breaking,
            "marked #[non_exhaustive]".into(),
        ),
        (true, false) => push(
            K::NonExhaustiveChanged,
            Addition,
            "no longer #[non_exhaustive]".into(),
        ),
        _ => {}
    }
    for lost in before.traits.difference(&after.traits) {
        push(
            K::TraitImplChanged,
            Breaking,
            format!("no longer implements `{lost}`"),
        );
    }
    for gained in after.traits.difference(&before.traits) {
        push(
            K::TraitImplChanged,
            Addition,
            format!("now implements `{gained}`"),
        );
    }
    if before.cfg != after.cfg {
        // Under `any(feature = ..)`, more features is more availability; fewer (or another
        // kind of gate) can hide the item from a build that had it.
        let widened = match (features(&before.cfg), features(&after.cfg)) {
            (Some(old), Some(new)) => old.is_subset(&new),
            (Some(_), None) => true,
            _ => false,
        };
        let text = |c: &Option<String>| c.clone().unwrap_or_else(|| "none".into());
        push(
            K::FeatureGateChanged,
            if widened { Addition } else { Breaking },
            format!(
                "feature gate `{}` -> `{}`",
                text(&before.cfg),
                text(&after.cfg)
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: &str) -> PublicApi {
        let files = BTreeMap::from([("src/types/m.rs".to_string(), code.to_string())]);
        PublicApi::from_files(&files)
    }

    #[test]
    fn a_field_added_to_an_exhaustive_struct_breaks_and_to_a_non_exhaustive_one_adds() {
        let old = api("pub struct A { pub x: i64 } #[non_exhaustive] pub struct B { pub x: i64 }");
        let new = api("pub struct A { pub x: i64, pub y: String } #[non_exhaustive] pub struct B { pub x: i64, pub y: String }");
        let changes = compare(&old, &new);
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert_eq!(changes[0].item, "types::m::A");
        assert_eq!(changes[0].severity, ApiSeverity::Breaking);
        assert_eq!(changes[1].item, "types::m::B");
        assert_eq!(changes[1].severity, ApiSeverity::Addition);
    }

    #[test]
    fn an_item_moved_behind_a_re_export_is_not_called_removed() {
        let old = api("pub struct DecodeError { pub path: String } pub struct Gone;");
        let new =
            api("pub use passage_generated_support::{decode::DecodeError, Other as Renamed};");
        let changes = compare(&old, &new);
        let of = |item: &str| {
            changes
                .iter()
                .find(|c| c.item == item)
                .map(|c| (c.kind, c.severity))
        };
        assert_eq!(
            of("types::m::DecodeError"),
            Some((ApiChangeKind::ItemReexported, ApiSeverity::Addition)),
            "{changes:?}"
        );
        assert_eq!(
            of("types::m::Gone"),
            Some((ApiChangeKind::ItemRemoved, ApiSeverity::Breaking)),
            "a name no re-export brings back is still removed: {changes:?}"
        );
    }

    #[test]
    fn variants_traits_and_renames_are_seen() {
        let old = api("#[derive(Clone)] pub enum E { A, B } pub struct S { pub x: i64 } open_struct!(S, extra;); #[doc(hidden)] pub mod __private { pub fn f() {} }");
        let new = api("pub enum E { A, C } pub struct T { pub x: i64 }");
        let kinds: Vec<_> = compare(&old, &new).into_iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [
                ApiChangeKind::VariantAdded,
                ApiChangeKind::VariantRemoved,
                ApiChangeKind::TraitImplChanged,
                ApiChangeKind::ItemRenamed,
            ]
        );
    }
}
