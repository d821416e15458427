//! Post-processing of typify's output with `syn`: makes the generated types tolerant readers.
//!
//! - String enums become *open* enums: a value the schema does not list decodes into an
//!   `Unknown(String)` variant that keeps it, and re-serializes unchanged. Single-value enums that
//!   tag the variants of a union stay closed, so that the union can still tell its variants apart.
//! - Unions (untagged or tagged enums) get a last `Unknown(serde_json::Value)` variant, so a variant
//!   Passage adds later is kept raw instead of failing the whole decode.
//! - `deny_unknown_fields` is removed wherever typify put it.

use std::collections::BTreeSet;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Attribute, Fields, Item, ItemEnum, Meta};

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
    crate::open_structs::rewrite(file);
    drop_unused_error_module(file);
}

/// typify documents a type that has no description with its own name (`///`Item``): a
/// placeholder that says nothing. Such docs are dropped.
fn drop_placeholder_docs(file: &mut syn::File) {
    for item in &mut file.items {
        let (ident, attrs) = match item {
            Item::Struct(s) => (s.ident.to_string(), &mut s.attrs),
            Item::Enum(e) => (e.ident.to_string(), &mut e.attrs),
            Item::Type(t) => (t.ident.to_string(), &mut t.attrs),
            _ => continue,
        };
        let placeholder = format!("`{ident}`");
        attrs.retain(|attr| match &attr.meta {
            Meta::NameValue(nv) if nv.path.is_ident("doc") => !matches!(
                &nv.value,
                syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(text), .. }) if text.value().trim() == placeholder
            ),
            _ => true,
        });
    }
}

/// typify emits a `pub mod error { ConversionError }` in every output; once the impls that used
/// it are replaced, it is dead weight in each types module.
fn drop_unused_error_module(file: &mut syn::File) {
    let uses_it = file.items.iter().any(|item| match item {
        Item::Mod(m) if m.ident == "error" => false,
        other => quote!(#other).to_string().contains("ConversionError"),
    });
    if !uses_it {
        file.items
            .retain(|item| !matches!(item, Item::Mod(m) if m.ident == "error"));
    }
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

/// Types used as fields of union variants: their single-value enums are discriminator tags.
fn union_tag_types(file: &syn::File) -> BTreeSet<String> {
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

/// `Some(variants)` when every variant is a unit variant naming a string value.
fn string_enum_variants(e: &ItemEnum) -> Option<Vec<EnumValue>> {
    if e.variants.is_empty() || is_union(e) {
        return None;
    }
    let mut out = Vec::new();
    for variant in &e.variants {
        if !matches!(variant.fields, Fields::Unit) {
            return None;
        }
        let mut value = variant.ident.to_string();
        for attr in &variant.attrs {
            if let Some(args) = serde_args(attr) {
                let rename: Option<syn::LitStr> = attr
                    .parse_args_with(|input: syn::parse::ParseStream| {
                        let mut found = None;
                        while !input.is_empty() {
                            let key: syn::Ident = input.parse()?;
                            if input.peek(syn::Token![=]) {
                                input.parse::<syn::Token![=]>()?;
                                let lit: syn::LitStr = input.parse()?;
                                if key == "rename" {
                                    found = Some(lit);
                                }
                            }
                            if input.peek(syn::Token![,]) {
                                input.parse::<syn::Token![,]>()?;
                            }
                        }
                        Ok(found)
                    })
                    .ok()
                    .flatten();
                match rename {
                    Some(lit) => value = lit.value(),
                    None if args.contains("rename") => return None,
                    None => {}
                }
            }
        }
        let docs = variant
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("doc"))
            .cloned()
            .collect();
        out.push((variant.ident.clone(), value, docs));
    }
    Some(out)
}

fn open_enum(e: &ItemEnum, variants: &[EnumValue]) -> TokenStream {
    let name = &e.ident;
    let docs: Vec<&Attribute> = e
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .collect();
    let catch_all = if variants.iter().any(|(ident, _, _)| ident == "Unknown") {
        syn::Ident::new("Unlisted", Span::call_site())
    } else {
        format_ident!("Unknown")
    };
    let idents: Vec<&syn::Ident> = variants.iter().map(|(i, _, _)| i).collect();
    let values: Vec<&String> = variants.iter().map(|(_, v, _)| v).collect();
    let variant_docs: Vec<TokenStream> = variants
        .iter()
        .map(|(_, value, docs)| {
            if docs.is_empty() {
                let text = format!("`{value}`");
                quote!(#[doc = #text])
            } else {
                quote!(#(#docs)*)
            }
        })
        .collect();
    quote! {
        #(#docs)*
        ///
        /// Open enum: a value the schema does not list is kept in the catch-all variant.
        #[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
        pub enum #name {
            #( #variant_docs #idents, )*
            /// A value this version of the schema does not list (Passage added it later); kept as sent.
            #catch_all(::std::string::String),
        }

        // as_str / is_known / From<&str> / From<String> / FromStr / Display / serde impls.
        crate::__private::open_enum!(#name, #catch_all; #( #idents => #values ),*);
    }
}

/// Replaces typify's `Variant0`, `Variant1`... by names users can read: the variant's tag value
/// (`Delivery`), or else the one required field only that variant has (`DryRun`).
fn name_union_variants(
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
fn rename_variant_types(file: &mut syn::File, renames: &[(String, String)]) {
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
fn name_positions<'a>(text: &'a str, name: &'a str) -> impl Iterator<Item = usize> + 'a {
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

fn contains_name(text: &str, name: &str) -> bool {
    name_positions(text, name).next().is_some()
}

fn replace_name(text: &str, old: &str, new: &str) -> String {
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
fn add_unknown_variant(e: &mut ItemEnum) -> bool {
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

/// typify's impls on an enum (`Display`, `FromStr`, `TryFrom<&str>`, ...) can `match` on its
/// variants; once a variant is added, such a match is no longer exhaustive. Every impl of an
/// extended enum that matches on its variants without a catch-all arm is dropped, as are its
/// string conversions (`Display`, `FromStr`, `TryFrom`), which enumerate the variants too.
fn drop_exhaustive_impls(file: &mut syn::File, extended: &BTreeSet<String>) {
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

fn impl_trait_name(imp: &syn::ItemImpl) -> Option<String> {
    imp.trait_
        .as_ref()
        .and_then(|(_, path, _)| path.segments.last())
        .map(|s| s.ident.to_string())
}

/// Whether the impl holds a `match` with an arm naming a variant of `enum_name` (`Self::X`,
/// `Name::X`) and no catch-all arm.
fn matches_exhaustively(imp: &syn::ItemImpl, enum_name: &str) -> bool {
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

fn pattern_names_variant(pat: &syn::Pat, enum_name: &str) -> bool {
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

/// typify types an optional array or map as a bare collection that defaults to empty and is
/// skipped when empty, so `"items": []` would come back absent. An `Option` keeps the
/// difference between absent and empty, and a round trip changes nothing.
fn keep_empty_collections(file: &mut syn::File) {
    use syn::visit_mut::VisitMut;
    struct Wrap;
    impl VisitMut for Wrap {
        fn visit_field_mut(&mut self, field: &mut syn::Field) {
            let mut wrapped = false;
            for attr in &mut field.attrs {
                let Some(args) = serde_args(attr) else {
                    continue;
                };
                if !(args.contains("is_empty") && args.contains("skip_serializing_if")) {
                    continue;
                }
                let Ok(items) = attr.parse_args_with(
                    syn::punctuated::Punctuated::<Meta, syn::Token![,]>::parse_terminated,
                ) else {
                    continue;
                };
                let kept: Vec<TokenStream> = items
                    .into_iter()
                    .map(|meta| {
                        if meta.path().is_ident("skip_serializing_if") {
                            quote!(skip_serializing_if = "::std::option::Option::is_none")
                        } else {
                            quote!(#meta)
                        }
                    })
                    .collect();
                *attr = syn::parse_quote!(#[serde(#(#kept),*)]);
                wrapped = true;
            }
            if wrapped {
                let ty = &field.ty;
                field.ty = syn::parse_quote!(::std::option::Option<#ty>);
            }
        }
    }
    Wrap.visit_file_mut(file);
}

/// Two properties can sanitize to the same Rust name (`any` and `Any`, `a-b` and `a_b`); typify
/// then declares the field twice. The second and later get a numeric suffix (`any_2`) and a
/// `#[serde(rename)]` to their wire name, in the struct (or enum variant) and in every struct
/// expression that builds it (`Default` impls), by order of occurrence.
fn dedupe_field_names(file: &mut syn::File) {
    use syn::visit_mut::VisitMut;
    // type name → (index of field among named fields → new ident)
    let mut renames: std::collections::BTreeMap<String, Vec<(String, Option<syn::Ident>)>> =
        Default::default();
    for item in &mut file.items {
        match item {
            Item::Struct(st) => {
                if let Fields::Named(named) = &mut st.fields {
                    if let Some(plan) = dedupe_named_fields(named) {
                        renames.insert(st.ident.to_string(), plan);
                    }
                }
            }
            Item::Enum(e) => {
                for variant in &mut e.variants {
                    if let Fields::Named(named) = &mut variant.fields {
                        if let Some(plan) = dedupe_named_fields(named) {
                            renames.insert(format!("{}::{}", e.ident, variant.ident), plan);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if renames.is_empty() {
        return;
    }
    struct Exprs<'a> {
        renames: &'a std::collections::BTreeMap<String, Vec<(String, Option<syn::Ident>)>>,
        self_name: Option<String>,
    }
    impl VisitMut for Exprs<'_> {
        fn visit_item_impl_mut(&mut self, imp: &mut syn::ItemImpl) {
            let previous = self.self_name.replace(type_name(&imp.self_ty));
            syn::visit_mut::visit_item_impl_mut(self, imp);
            self.self_name = previous;
        }
        fn visit_expr_struct_mut(&mut self, expr: &mut syn::ExprStruct) {
            let segments: Vec<String> = expr
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .map(|s| match (&self.self_name, s.as_str()) {
                    (Some(name), "Self") => name.clone(),
                    _ => s,
                })
                .collect();
            let key = segments.join("::");
            if let Some(plan) = self.renames.get(&key) {
                let mut seen: std::collections::BTreeMap<String, usize> = Default::default();
                for field in expr.fields.iter_mut() {
                    let syn::Member::Named(ident) = &field.member else {
                        continue;
                    };
                    let name = ident.to_string();
                    let n = seen.entry(name.clone()).or_default();
                    let new = plan
                        .iter()
                        .filter(|(original, _)| *original == name)
                        .nth(*n)
                        .and_then(|(_, new)| new.clone());
                    *n += 1;
                    if let Some(new) = new {
                        field.member = syn::Member::Named(new);
                    }
                }
            }
            syn::visit_mut::visit_expr_struct_mut(self, expr);
        }
    }
    Exprs {
        renames: &renames,
        self_name: None,
    }
    .visit_file_mut(file);
}

/// Renames repeated field idents in place; `Some` when anything changed.
fn dedupe_named_fields(named: &mut syn::FieldsNamed) -> Option<Vec<(String, Option<syn::Ident>)>> {
    let mut seen: std::collections::BTreeMap<String, usize> = Default::default();
    let taken: BTreeSet<String> = named
        .named
        .iter()
        .filter_map(|f| f.ident.as_ref().map(|i| i.to_string()))
        .collect();
    let mut plan = Vec::new();
    let mut changed = false;
    for field in named.named.iter_mut() {
        let Some(ident) = field.ident.clone() else {
            continue;
        };
        let n = seen.entry(ident.to_string()).or_default();
        *n += 1;
        if *n == 1 {
            plan.push((ident.to_string(), None));
            continue;
        }
        let bare = ident
            .to_string()
            .trim_start_matches("r#")
            .trim_end_matches('_')
            .to_string();
        let mut candidate = format!("{bare}_{n}");
        while taken.contains(&candidate) {
            candidate.push('_');
        }
        let wire = serde_rename_of(&field.attrs).unwrap_or_else(|| bare.clone());
        let new = syn::Ident::new(&candidate, Span::call_site());
        if serde_rename_of(&field.attrs).is_none() {
            field
                .attrs
                .push(syn::parse_quote!(#[serde(rename = #wire)]));
        }
        field.ident = Some(new.clone());
        plan.push((ident.to_string(), Some(new)));
        changed = true;
    }
    changed.then_some(plan)
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

/// Optional properties that allow `null` (marked by normalization with
/// [`crate::normalize::NULLABLE_OPTIONAL_DOC`]) become `Option<Option<T>>`: absent is `None`,
/// `null` is `Some(None)`, and both come back as they were.
fn nullable_optional_fields(file: &mut syn::File) {
    use syn::visit_mut::VisitMut;
    struct Rewrite;
    impl VisitMut for Rewrite {
        fn visit_field_mut(&mut self, field: &mut syn::Field) {
            let marked = field.attrs.iter().any(|a| {
                a.path().is_ident("doc")
                    && quote!(#a)
                        .to_string()
                        .contains("`None` is absent, `Some(None)` is `null`")
            });
            if !marked || type_name(&field.ty) != "Option" {
                return;
            }
            let rename = serde_rename_of(&field.attrs);
            field.attrs.retain(|a| !a.path().is_ident("serde"));
            let rename = rename.map(|r| quote!(rename = #r,));
            field.attrs.push(syn::parse_quote!(#[serde(
                #rename
                default,
                deserialize_with = "crate::__private::double_option",
                skip_serializing_if = "::std::option::Option::is_none"
            )]));
            let ty = &field.ty;
            field.ty = syn::parse_quote!(::std::option::Option<#ty>);
        }
    }
    Rewrite.visit_file_mut(file);
}

/// Whether `ty` is an integer, or `Option`/`Vec` of one (what [`lenient_integer_fields`] covers).
pub(crate) fn is_integer_shape(ty: &syn::Type) -> bool {
    const INTEGERS: &[&str] = &[
        "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "isize", "usize",
    ];
    let syn::Type::Path(p) = ty else { return false };
    let Some(last) = p.path.segments.last() else {
        return false;
    };
    let name = last.ident.to_string();
    if INTEGERS.contains(&name.as_str()) {
        return true;
    }
    if name == "Option" || name == "Vec" {
        if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
            if let Some(syn::GenericArgument::Type(inner)) = args.args.first() {
                return is_integer_shape(inner);
            }
        }
    }
    false
}

/// JSON Schema counts `1.0`, `-0` and `1e2` as integers; serde's `i64` refuses them. Integer
/// fields (and `Option`/`Vec` of them) decode through a lenient reader that takes any
/// integer-valued number and still refuses `1.5`.
fn lenient_integer_fields(file: &mut syn::File) {
    use syn::visit_mut::VisitMut;
    struct Rewrite;
    impl VisitMut for Rewrite {
        fn visit_field_mut(&mut self, field: &mut syn::Field) {
            if field.ident.is_none() || !is_integer_shape(&field.ty) {
                return;
            }
            let mut has_default = false;
            let mut has_with = false;
            for attr in &field.attrs {
                if let Some(args) = serde_args(attr) {
                    has_default |= args.split(',').any(|a| a.trim() == "default");
                    has_with |= args.contains("deserialize_with") || args.contains("with =");
                }
            }
            if has_with {
                return;
            }
            let default =
                (type_name(&field.ty) == "Option" && !has_default).then(|| quote!(default,));
            field.attrs.push(syn::parse_quote!(#[serde(#default deserialize_with = "crate::__private::integer")]));
        }
    }
    Rewrite.visit_file_mut(file);
}

/// The flattened `extra` map that keeps unknown fields refuses a key sent twice, as serde does
/// for a declared field: a duplicate would otherwise keep its last value on the first decode and
/// lose the first, so decode → encode → decode would not see what was sent.
fn unique_extra_keys(file: &mut syn::File) {
    use syn::visit_mut::VisitMut;
    struct Rewrite;
    impl VisitMut for Rewrite {
        fn visit_field_mut(&mut self, field: &mut syn::Field) {
            let flattened_map = type_name(&field.ty) == "Map"
                && field
                    .attrs
                    .iter()
                    .any(|a| serde_args(a).is_some_and(|args| args.trim() == "flatten"));
            if flattened_map {
                field.attrs.retain(|a| !a.path().is_ident("serde"));
                field.attrs.push(syn::parse_quote!(#[serde(flatten, deserialize_with = "crate::__private::unique_map")]));
            }
        }
    }
    Rewrite.visit_file_mut(file);
}

fn strip_deny_unknown_fields(file: &mut syn::File) {
    use syn::visit_mut::VisitMut;
    struct Strip;
    impl VisitMut for Strip {
        fn visit_attribute_mut(&mut self, attr: &mut Attribute) {
            if !attr.path().is_ident("serde") {
                return;
            }
            let Meta::List(list) = &attr.meta else { return };
            if !list.tokens.to_string().contains("deny_unknown_fields") {
                return;
            }
            let parsed = attr.parse_args_with(
                syn::punctuated::Punctuated::<Meta, syn::Token![,]>::parse_terminated,
            );
            if let Ok(items) = parsed {
                let kept: Vec<Meta> = items
                    .into_iter()
                    .filter(|m| !m.path().is_ident("deny_unknown_fields"))
                    .collect();
                *attr = if kept.is_empty() {
                    syn::parse_quote!(#[serde()])
                } else {
                    syn::parse_quote!(#[serde(#(#kept),*)])
                };
            }
        }
    }
    Strip.visit_file_mut(file);
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
