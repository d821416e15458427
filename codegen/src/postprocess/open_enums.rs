//! Open string enums: a value the schema does not list decodes into a catch-all variant that
//! keeps it and re-serializes unchanged.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Attribute, Fields, ItemEnum};

use super::{is_union, serde_args, EnumValue};

/// `Some(variants)` when every variant is a unit variant naming a string value.
pub(super) fn string_enum_variants(e: &ItemEnum) -> Option<Vec<EnumValue>> {
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

pub(super) fn open_enum(e: &ItemEnum, variants: &[EnumValue]) -> TokenStream {
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
