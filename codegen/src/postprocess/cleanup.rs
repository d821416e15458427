//! Noise typify leaves in its output: placeholder docs and an unused `error` module.

use quote::quote;
use syn::{Item, Meta};

/// typify documents a type that has no description with its own name (`///`Item``): a
/// placeholder that says nothing. Such docs are dropped.
pub(super) fn drop_placeholder_docs(file: &mut syn::File) {
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
pub(super) fn drop_unused_error_module(file: &mut syn::File) {
    let uses_it = file.items.iter().any(|item| match item {
        Item::Mod(m) if m.ident == "error" => false,
        other => quote!(#other).to_string().contains("ConversionError"),
    });
    if !uses_it {
        file.items
            .retain(|item| !matches!(item, Item::Mod(m) if m.ident == "error"));
    }
}
