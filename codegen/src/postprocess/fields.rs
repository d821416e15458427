//! Struct fields: repeated Rust names, empty collections kept apart from absent ones,
//! nullable optional fields, unique keys in the flattened `extra` map, no `deny_unknown_fields`.

use std::collections::BTreeSet;

use proc_macro2::{Span, TokenStream};

use quote::quote;
use syn::{Attribute, Fields, Item, Meta};

use super::{serde_args, serde_rename_of, type_name};

/// typify types an optional array or map as a bare collection that defaults to empty and is
/// skipped when empty, so `"items": []` would come back absent. An `Option` keeps the
/// difference between absent and empty, and a round trip changes nothing.
pub(super) fn keep_empty_collections(file: &mut syn::File) {
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
pub(super) fn dedupe_field_names(file: &mut syn::File) {
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
pub(super) fn dedupe_named_fields(
    named: &mut syn::FieldsNamed,
) -> Option<Vec<(String, Option<syn::Ident>)>> {
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

/// Optional properties that allow `null` (marked by normalization with
/// [`crate::normalize::NULLABLE_OPTIONAL_DOC`]) become `Option<Option<T>>`: absent is `None`,
/// `null` is `Some(None)`, and both come back as they were.
pub(super) fn nullable_optional_fields(file: &mut syn::File) {
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

/// The flattened `extra` map that keeps unknown fields becomes the support crate's
/// `UnknownFields` and refuses a key sent twice, as serde does
/// for a declared field: a duplicate would otherwise keep its last value on the first decode and
/// lose the first, so decode → encode → decode would not see what was sent.
pub(super) fn unique_extra_keys(file: &mut syn::File) {
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
                // One pointer wide where the map took 24 bytes, allocated only when a member
                // is kept: nearly every object has none (see the support crate's
                // `unknown_fields` module for what it cost in a 5 MB decode).
                field.ty = syn::parse_quote!(crate::__private::UnknownFields);
            }
        }
    }
    Rewrite.visit_file_mut(file);
}

pub(super) fn strip_deny_unknown_fields(file: &mut syn::File) {
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
