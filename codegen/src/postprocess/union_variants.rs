//! Unions: readable variant names, a catch-all `Unknown(serde_json::Value)` variant, and the
//! removal of typify's impls that match on the variants exhaustively.

use std::collections::BTreeSet;

use proc_macro2::Span;
use quote::quote;
use syn::{Item, ItemEnum};

use super::{impl_trait_name, is_union, retain_derives, serde_args, type_name};

/// Types used as fields of union variants: their single-value enums are discriminator tags.
pub(super) fn union_tag_types(file: &syn::File) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for item in &file.items {
        if let Item::Enum(e) = item {
            if !is_union(e) {
                continue;
            }
            for variant in &e.variants {
                for field in variant.fields.iter() {
                    out.insert(type_name(&field.ty));
                }
            }
        }
    }
    // Only single-value enums can be tags.
    out.retain(|name| {
        file.items.iter().any(|item| match item {
            Item::Enum(e) => e.ident == name.as_str() && e.variants.len() == 1,
            _ => false,
        })
    });
    out
}

/// Replaces typify's `Variant0`, `Variant1`... by names users can read: the variant's tag value
/// (`Delivery`), or else the one required field only that variant has (`DryRun`).
pub(super) fn name_union_variants(
    e: &mut ItemEnum,
    union_tags: &BTreeSet<String>,
    tag_values: &std::collections::BTreeMap<String, syn::Ident>,
) -> Vec<(String, String)> {
    let generic = |ident: &syn::Ident| {
        ident
            .to_string()
            .strip_prefix("Variant")
            .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
    };
    if !e.variants.iter().all(|v| generic(&v.ident)) {
        return Vec::new();
    }
    let field_names = |v: &syn::Variant| -> Vec<String> {
        v.fields
            .iter()
            .filter(|f| !type_name(&f.ty).starts_with("Option"))
            .filter_map(|f| f.ident.as_ref().map(|i| i.to_string()))
            .filter(|n| n != "extra")
            .collect()
    };
    let all_fields: Vec<Vec<String>> = e.variants.iter().map(field_names).collect();
    let mut names = Vec::new();
    for (i, variant) in e.variants.iter().enumerate() {
        let tag = variant
            .fields
            .iter()
            .map(|f| type_name(&f.ty))
            .find(|t| union_tags.contains(t))
            .and_then(|t| tag_values.get(&t).cloned());
        let name = tag.map(|t| t.to_string()).or_else(|| {
            all_fields[i]
                .iter()
                .find(|field| {
                    all_fields
                        .iter()
                        .enumerate()
                        .all(|(j, other)| j == i || !other.contains(field))
                })
                .map(|field| crate::naming::pascal(field))
        });
        names.push(name);
    }
    let unique: BTreeSet<&String> = names.iter().flatten().collect();
    if names.iter().any(Option::is_none)
        || unique.len() != names.len()
        || unique.contains(&"Unknown".to_string())
    {
        return Vec::new();
    }
    let mut renamed = Vec::new();
    for (variant, name) in e.variants.iter_mut().zip(names) {
        if let Some(name) = name {
            // typify named the variant's nested types after it (`{Enum}Variant0Card`).
            renamed.push((
                format!("{}{}", e.ident, variant.ident),
                format!("{}{name}", e.ident),
            ));
            variant.ident = syn::Ident::new(&name, Span::call_site());
        }
    }
    renamed
}

/// Renames the types typify named after a union's `VariantN` (`OrderFulfillmentVariant0Kind`)
/// after the variant's new name (`OrderFulfillmentDeliveryKind`), in code and doc text alike.
/// Skipped when a new name would collide with a name already in the file.
pub(super) fn rename_variant_types(file: &mut syn::File, renames: &[(String, String)]) {
    if renames.is_empty() {
        return;
    }
    let text = quote!(#file).to_string();
    if renames.iter().any(|(_, new)| contains_name(&text, new)) {
        return;
    }
    let mut renamed = text;
    for (old, new) in renames {
        renamed = replace_name(&renamed, old, new);
    }
    if let Ok(parsed) = syn::parse_str::<syn::File>(&renamed) {
        *file = parsed;
    }
}

/// Positions where `name` starts an identifier in `text` (the identifier may go on with an
/// uppercase letter: `Enum` matches in `EnumCard`, not in `Enumeration` or `MyEnum`).
pub(super) fn name_positions<'a>(text: &'a str, name: &'a str) -> impl Iterator<Item = usize> + 'a {
    let ident_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(name)
        .map(|(at, _)| at)
        .filter(move |&at| {
            let before = text[..at].chars().next_back();
            let after = text[at + name.len()..].chars().next();
            before.is_none_or(|c| !ident_char(c))
                && after.is_none_or(|c| c.is_ascii_uppercase() || !ident_char(c))
        })
}

pub(super) fn contains_name(text: &str, name: &str) -> bool {
    name_positions(text, name).next().is_some()
}

pub(super) fn replace_name(text: &str, old: &str, new: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for at in name_positions(text, old) {
        out.push_str(&text[last..at]);
        out.push_str(new);
        last = at + old.len();
    }
    out.push_str(&text[last..]);
    out
}

/// Adds the catch-all variant; `false` when the enum already has one.
pub(super) fn add_unknown_variant(e: &mut ItemEnum) -> bool {
    if e.variants.iter().any(|v| v.ident == "Unknown") {
        return false;
    }
    let container = e
        .attrs
        .iter()
        .filter_map(serde_args)
        .collect::<Vec<_>>()
        .join(",");
    let variant: syn::Variant = if container.contains("untagged") {
        syn::parse_quote! {
            /// A shape this version of the schema does not describe; kept as raw JSON.
            Unknown(::serde_json::Value)
        }
    } else {
        syn::parse_quote! {
            /// A shape this version of the schema does not describe; kept as raw JSON.
            #[serde(untagged)]
            Unknown(::serde_json::Value)
        }
    };
    e.variants.push(variant);
    // `serde_json::Value` is neither Copy nor Eq/Hash/Ord.
    retain_derives(&mut e.attrs, |name| {
        !matches!(name, "Copy" | "Eq" | "Hash" | "Ord" | "PartialOrd")
    });
    true
}

/// typify's impls on an enum (`Display`, `FromStr`, `TryFrom<&str>`, ...) can `match` on its
/// variants; once a variant is added, such a match is no longer exhaustive. Every impl of an
/// extended enum that matches on its variants without a catch-all arm is dropped, as are its
/// string conversions (`Display`, `FromStr`, `TryFrom`), which enumerate the variants too.
pub(super) fn drop_exhaustive_impls(file: &mut syn::File, extended: &BTreeSet<String>) {
    if extended.is_empty() {
        return;
    }
    let mut dropped_from_str = BTreeSet::new();
    file.items.retain(|item| {
        let Item::Impl(imp) = item else { return true };
        let self_name = type_name(&imp.self_ty);
        if !extended.contains(&self_name) {
            return true;
        }
        // typify's string conversions of a union try or print each variant in turn; written
        // for the closed set, they cannot know the catch-all (and `if let Ok(v) = s.parse()` on
        // a `String` variant is an irrefutable pattern, a warning).
        let string_conversion = matches!(
            impl_trait_name(imp).as_deref(),
            Some("Display" | "FromStr" | "TryFrom")
        );
        if !string_conversion && !matches_exhaustively(imp, &self_name) {
            return true;
        }
        if impl_trait_name(imp).as_deref() == Some("FromStr") {
            dropped_from_str.insert(self_name);
        }
        false
    });
    file.items.retain(|item| {
        let Item::Impl(imp) = item else { return true };
        let self_name = type_name(&imp.self_ty);
        !(dropped_from_str.contains(&self_name)
            && matches!(impl_trait_name(imp).as_deref(), Some("TryFrom" | "FromStr")))
    });
}

/// Whether the impl holds a `match` with an arm naming a variant of `enum_name` (`Self::X`,
/// `Name::X`) and no catch-all arm.
pub(super) fn matches_exhaustively(imp: &syn::ItemImpl, enum_name: &str) -> bool {
    use syn::visit::Visit;
    struct Finder<'a> {
        enum_name: &'a str,
        found: bool,
    }
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_expr_match(&mut self, m: &'ast syn::ExprMatch) {
            let names_variant = m
                .arms
                .iter()
                .any(|arm| pattern_names_variant(&arm.pat, self.enum_name));
            let catch_all = m
                .arms
                .iter()
                .any(|arm| matches!(arm.pat, syn::Pat::Wild(_) | syn::Pat::Ident(_)));
            if names_variant && !catch_all {
                self.found = true;
            }
            syn::visit::visit_expr_match(self, m);
        }
    }
    let mut finder = Finder {
        enum_name,
        found: false,
    };
    finder.visit_item_impl(imp);
    finder.found
}

pub(super) fn pattern_names_variant(pat: &syn::Pat, enum_name: &str) -> bool {
    let path = match pat {
        syn::Pat::Path(p) => &p.path,
        syn::Pat::TupleStruct(p) => &p.path,
        syn::Pat::Struct(p) => &p.path,
        syn::Pat::Reference(r) => return pattern_names_variant(&r.pat, enum_name),
        syn::Pat::Or(or) => return or.cases.iter().any(|c| pattern_names_variant(c, enum_name)),
        _ => return false,
    };
    path.segments.len() >= 2
        && path
            .segments
            .iter()
            .rev()
            .nth(1)
            .is_some_and(|s| s.ident == "Self" || s.ident == enum_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_only_whole_identifier_prefixes() {
        let text = "EnumVariant0 EnumVariant0Card `EnumVariant0Kind` EnumVariant01 MyEnumVariant0 EnumVariant0x";
        assert_eq!(
            replace_name(text, "EnumVariant0", "EnumDryRun"),
            "EnumDryRun EnumDryRunCard `EnumDryRunKind` EnumVariant01 MyEnumVariant0 EnumVariant0x"
        );
        assert!(contains_name("a EnumDryRunCard", "EnumDryRun"));
        assert!(!contains_name("a MyEnumDryRun", "EnumDryRun"));
    }
}
