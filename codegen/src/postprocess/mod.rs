//! Post-processing of typify's output with `syn`: makes the generated types tolerant readers.
//!
//! - String enums become *open* enums: a value the schema does not list decodes into an
//!   `Unknown(String)` variant that keeps it, and re-serializes unchanged. Single-value enums that
//!   tag the variants of a union stay closed, so that the union can still tell its variants apart.
//! - Unions (untagged or tagged enums) get a last `Unknown(serde_json::Value)` variant, so a variant
//!   Passage adds later is kept raw instead of failing the whole decode.
//! - `deny_unknown_fields` is removed wherever typify put it.

mod cleanup;
mod fields;
mod integers;
mod null_values;
mod open_enums;
mod typeless_objects;
mod union_variants;

use std::collections::BTreeSet;

use syn::{Attribute, Fields, Item, ItemEnum, Meta};

use cleanup::{drop_placeholder_docs, drop_unused_error_module};
use fields::{
    dedupe_field_names, keep_empty_collections, nullable_optional_fields,
    strip_deny_unknown_fields, unique_extra_keys,
};
pub(crate) use integers::is_integer_shape;
use integers::lenient_integer_fields;
use null_values::present_optional_fields;
use open_enums::{open_enum, string_enum_variants};
pub(crate) use typeless_objects::is_widenable as is_typeless_object;
use typeless_objects::widen_typeless_objects;
use union_variants::{
    add_unknown_variant, drop_exhaustive_impls, name_union_variants, rename_variant_types,
    union_tag_types,
};

/// A unit variant of a string enum: its identifier, wire value and doc attributes.
type EnumValue = (syn::Ident, String, Vec<Attribute>);

/// Rewrites typify's output in place.
pub(crate) fn make_tolerant(file: &mut syn::File) {
    strip_deny_unknown_fields(file);
    dedupe_field_names(file);
    nullable_optional_fields(file);
    lenient_integer_fields(file);
    unique_extra_keys(file);
    keep_empty_collections(file);
    let union_tags = union_tag_types(file);
    let open: Vec<(syn::Ident, Vec<EnumValue>)> = file
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Enum(e) if !union_tags.contains(&e.ident.to_string()) => {
                string_enum_variants(e).map(|v| (e.ident.clone(), v))
            }
            _ => None,
        })
        .collect();
    let open_names: BTreeSet<String> = open.iter().map(|(name, _)| name.to_string()).collect();
    let tag_values: std::collections::BTreeMap<String, syn::Ident> = file
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Enum(e) if union_tags.contains(&e.ident.to_string()) => e
                .variants
                .first()
                .map(|v| (e.ident.to_string(), v.ident.clone())),
            _ => None,
        })
        .collect();
    drop_placeholder_docs(file);
    // A union's tag enum has one value: typify's string conversions on it are noise.
    file.items.retain(|item| match item {
        Item::Impl(imp) => {
            let tag = union_tags.contains(&type_name(&imp.self_ty));
            !(tag
                && matches!(
                    impl_trait_name(imp).as_deref(),
                    Some("Display" | "FromStr" | "TryFrom")
                ))
        }
        _ => true,
    });
    // Drop typify's impls that match exhaustively on the closed variants; ours replace them.
    file.items.retain(|item| match item {
        Item::Impl(imp) => {
            let self_name = type_name(&imp.self_ty);
            let trait_name = imp
                .trait_
                .as_ref()
                .and_then(|(_, path, _)| path.segments.last())
                .map(|s| s.ident.to_string());
            !(open_names.contains(&self_name)
                && matches!(
                    trait_name.as_deref(),
                    Some("Display" | "FromStr" | "TryFrom")
                ))
        }
        _ => true,
    });
    let mut new_items = Vec::with_capacity(file.items.len());
    let mut variant_renames = Vec::new();
    let mut extended = BTreeSet::new();
    for item in std::mem::take(&mut file.items) {
        match item {
            Item::Enum(e) if open_names.contains(&e.ident.to_string()) => {
                let variants = open
                    .iter()
                    .find(|(name, _)| *name == e.ident)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                let tokens = open_enum(&e, &variants);
                let parsed: syn::File = syn::parse2(tokens).expect("open enum tokens parse");
                new_items.extend(parsed.items);
            }
            Item::Enum(mut e) if is_union(&e) => {
                variant_renames.extend(name_union_variants(&mut e, &union_tags, &tag_values));
                if add_unknown_variant(&mut e) {
                    extended.insert(e.ident.to_string());
                }
                new_items.push(Item::Enum(e));
            }
            other => new_items.push(other),
        }
    }
    file.items = new_items;
    drop_exhaustive_impls(file, &extended);
    rename_variant_types(file, &variant_renames);
    crate::unions::strict_unions(file, &extended);
    present_optional_fields(file);
    crate::open_structs::rewrite(file);
    widen_typeless_objects(file);
    drop_unused_error_module(file);
}

/// The serde container attributes of an enum, as token text (`untagged`, `tag = "kind"`).
pub(crate) fn container_serde(e: &ItemEnum) -> String {
    e.attrs
        .iter()
        .filter_map(serde_args)
        .collect::<Vec<_>>()
        .join(",")
}

/// The last path segment of a type (`Option` for `::std::option::Option<T>`).
pub(crate) fn type_name(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// The token text inside `#[serde(...)]`.
pub(crate) fn serde_args(attr: &Attribute) -> Option<String> {
    if !attr.path().is_ident("serde") {
        return None;
    }
    match &attr.meta {
        Meta::List(list) => Some(list.tokens.to_string()),
        _ => None,
    }
}

fn is_union(e: &ItemEnum) -> bool {
    let container = e
        .attrs
        .iter()
        .filter_map(serde_args)
        .collect::<Vec<_>>()
        .join(",");
    let tagged = container.contains("untagged") || container.contains("tag =");
    tagged || e.variants.iter().any(|v| !matches!(v.fields, Fields::Unit))
}

/// Keeps only the derives whose (last path segment) name `keep` accepts.
pub(crate) fn retain_derives(attrs: &mut [Attribute], keep: impl Fn(&str) -> bool) {
    for attr in attrs.iter_mut().filter(|a| a.path().is_ident("derive")) {
        if let Ok(list) = attr.parse_args_with(
            syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
        ) {
            let kept: Vec<syn::Path> = list
                .into_iter()
                .filter(|p| p.segments.last().is_none_or(|s| keep(&s.ident.to_string())))
                .collect();
            *attr = syn::parse_quote!(#[derive(#(#kept),*)]);
        }
    }
}

fn impl_trait_name(imp: &syn::ItemImpl) -> Option<String> {
    imp.trait_
        .as_ref()
        .and_then(|(_, path, _)| path.segments.last())
        .map(|s| s.ident.to_string())
}

/// The `#[serde(rename = "...")]` value among `attrs`.
pub(crate) fn serde_rename_of(attrs: &[Attribute]) -> Option<String> {
    attrs.iter().find_map(|attr| {
        if !attr.path().is_ident("serde") {
            return None;
        }
        let items = attr
            .parse_args_with(syn::punctuated::Punctuated::<Meta, syn::Token![,]>::parse_terminated)
            .ok()?;
        items.into_iter().find_map(|meta| match meta {
            Meta::NameValue(nv) if nv.path.is_ident("rename") => match nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(lit),
                    ..
                }) => Some(lit.value()),
                _ => None,
            },
            _ => None,
        })
    })
}
