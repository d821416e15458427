//! Object schemas without `type` (`{"properties": ..}`) allow every other JSON value too; so do
//! array schemas without `type` (`{"items": ..}`), which normalization makes a union of the list
//! and any other value (here its variants are named `List` and `Other`).
//! Normalization marks them ([`crate::normalize::TYPELESS_OBJECT_DOC`]) and lets typify make
//! its struct; here the struct takes the name `NameObject` and `Name` becomes an enum of it
//! (`Object`) and the raw value (`Other`), so every position that names the type (fields, list
//! items, the root, `$ref: "#"`) accepts what the schema allows. Schemas with
//! `"type": "object"` keep their plain struct.

use proc_macro2::{TokenStream, TokenTree};
use quote::{format_ident, quote};
use syn::Item;

use super::type_name;
use crate::normalize::TYPELESS_UNION_DOC;

/// The marked structs, before they are widened.
fn marked(file: &syn::File) -> Vec<syn::Ident> {
    file.items
        .iter()
        .filter_map(|item| match item {
            Item::Struct(s) if is_widenable(s) => Some(s.ident.clone()),
            _ => None,
        })
        .collect()
}

/// The marked types that have a value for `null`: the structs (widened) and the unions of a
/// list and any other value (an array schema without `type`).
pub(super) fn with_null_value(file: &syn::File) -> Vec<String> {
    file.items
        .iter()
        .filter_map(|item| match item {
            Item::Struct(s) if is_widenable(s) => Some(s.ident.to_string()),
            Item::Enum(e) if is_marked(&e.attrs) || has_doc(&e.attrs, TYPELESS_UNION_DOC) => {
                Some(e.ident.to_string())
            }
            _ => None,
        })
        .collect()
}

/// The type inside `Option`/`Box` wrappers (`Name` for `Option<Box<Name>>`).
pub(super) fn innermost(ty: &syn::Type) -> String {
    let syn::Type::Path(p) = ty else {
        return String::new();
    };
    let Some(last) = p.path.segments.last() else {
        return String::new();
    };
    if last.ident == "Option" || last.ident == "Box" {
        if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
            if let Some(syn::GenericArgument::Type(inner)) = args.args.first() {
                return innermost(inner);
            }
        }
    }
    last.ident.to_string()
}

/// The union normalization makes of an array schema without `type` (`oneOf: [list, any]`):
/// typify's `Variant0` / `Variant1` become `List` / `Other`, in the enum and its impls; the same
/// for an object schema without `type` or `properties` (`Object` / `Other`).
fn name_typeless_list_variants(file: &mut syn::File) {
    let from = [format_ident!("Variant0"), format_ident!("Variant1")];
    let unions: Vec<(String, [syn::Ident; 2])> = file
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Enum(e) if is_marked(&e.attrs) => {
                let attrs = &e.attrs;
                let docs = quote!(#(#attrs)*).to_string();
                let first = if docs.contains("not a list") {
                    "List"
                } else {
                    "Object"
                };
                let to = [format_ident!("{}", first), format_ident!("Other")];
                let fits = e.variants.iter().any(|v| v.ident == from[0])
                    && !e.variants.iter().any(|v| to.contains(&v.ident));
                fits.then(|| (e.ident.to_string(), to))
            }
            _ => None,
        })
        .collect();
    for item in &mut file.items {
        let owner = match item {
            Item::Enum(e) => e.ident.to_string(),
            Item::Impl(imp) => type_name(&imp.self_ty),
            _ => continue,
        };
        let Some((_, to)) = unions.iter().find(|(name, _)| *name == owner) else {
            continue;
        };
        let mut tokens = quote!(#item);
        for (f, t) in from.iter().zip(to) {
            tokens = rename_tokens(tokens, f, t);
        }
        *item = syn::parse2(tokens).expect("renamed union parses");
    }
}

/// Widens every marked struct into the `Object`/`Other` enum.
pub(super) fn widen_typeless_objects(file: &mut syn::File) {
    name_typeless_list_variants(file);
    for name in marked(file) {
        let object = format_ident!("{}Object", name);
        if file.items.iter().any(|item| declares(item, &object)) {
            continue; // the name is taken: keep the struct as it is
        }
        let mut new_items = Vec::with_capacity(file.items.len() + 3);
        for mut item in std::mem::take(&mut file.items) {
            match &mut item {
                Item::Struct(s) if s.ident == name => {
                    let docs: Vec<syn::Attribute> = s
                        .attrs
                        .iter()
                        .filter(|a| a.path().is_ident("doc"))
                        .cloned()
                        .collect();
                    s.ident = object.clone();
                    new_items.push(item);
                    let enum_items: syn::File = syn::parse2(widened(&name, &object, &docs))
                        .expect("widened enum tokens parse");
                    new_items.extend(enum_items.items);
                    continue;
                }
                Item::Impl(imp) if name == type_name(&imp.self_ty).as_str() => {
                    let tokens = rename_tokens(quote!(#imp), &name, &object);
                    item = syn::parse2(tokens).expect("renamed impl parses");
                }
                Item::Macro(m) => {
                    // `open_struct!(Name, extra; ...)`: the struct's own name comes first.
                    let first = m.mac.tokens.clone().into_iter().next();
                    if matches!(&first, Some(TokenTree::Ident(i)) if *i == name) {
                        let rest = m.mac.tokens.clone().into_iter().skip(1);
                        m.mac.tokens = quote!(#object #(#rest)*);
                    }
                }
                _ => {}
            }
            new_items.push(item);
        }
        file.items = new_items;
    }
}

/// A marked struct with named fields (what typify makes of the object schema). A tuple struct is
/// the `serde_json::Value` fallback the compile gate asked for (the mark comes with the schema's
/// docs): it already takes every value, and other items reach into it (`.0`).
/// A struct of an object schema without `type`: it becomes an enum that takes any JSON value.
pub(crate) fn is_widenable(s: &syn::ItemStruct) -> bool {
    is_marked(&s.attrs) && matches!(s.fields, syn::Fields::Named(_))
}

fn is_marked(attrs: &[syn::Attribute]) -> bool {
    has_doc(attrs, "The schema gives no `type`")
}

/// Whether a doc attribute contains `text` (the docs of a type are its schema's description).
fn has_doc(attrs: &[syn::Attribute], text: &str) -> bool {
    attrs
        .iter()
        .any(|a| a.path().is_ident("doc") && doc_text(a).is_some_and(|doc| doc.contains(text)))
}

fn doc_text(attr: &syn::Attribute) -> Option<String> {
    let syn::Meta::NameValue(nv) = &attr.meta else {
        return None;
    };
    match &nv.value {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Some(s.value()),
        _ => None,
    }
}

fn declares(item: &Item, ident: &syn::Ident) -> bool {
    match item {
        Item::Struct(s) => s.ident == *ident,
        Item::Enum(e) => e.ident == *ident,
        Item::Type(t) => t.ident == *ident,
        _ => false,
    }
}

/// Renames the type `from` to `to` in `tokens`, but not an item of a module path
/// (`::serde_json::Value` when the schema names a type `Value`): after `::`, only an associated
/// item of a type (`Self::Variant0`, `Name::Variant0`: a capitalized segment before) is renamed.
fn rename_tokens(tokens: TokenStream, from: &syn::Ident, to: &syn::Ident) -> TokenStream {
    let mut colons = 0;
    let mut last_ident: Option<String> = None;
    let mut in_module_path = false;
    tokens
        .into_iter()
        .map(|tree| {
            match &tree {
                TokenTree::Punct(p) if p.as_char() == ':' => colons += 1,
                TokenTree::Ident(i) => {
                    // `a::b`: `b` is in a module path when `a` is lowercase (a module or crate)
                    // or the path began with `::`.
                    in_module_path = colons >= 2
                        && last_ident
                            .as_deref()
                            .is_none_or(|prev| !prev.starts_with(char::is_uppercase));
                    last_ident = Some(i.to_string());
                    colons = 0;
                }
                _ => {
                    colons = 0;
                    last_ident = None;
                }
            }
            let skip = matches!(&tree, TokenTree::Ident(_)) && in_module_path;
            (tree, skip)
        })
        .map(|(tree, skip)| match tree {
            TokenTree::Ident(i) if i == *from && !skip => TokenTree::Ident(to.clone()),
            TokenTree::Group(g) => {
                let mut group =
                    proc_macro2::Group::new(g.delimiter(), rename_tokens(g.stream(), from, to));
                group.set_span(g.span());
                TokenTree::Group(group)
            }
            other => other,
        })
        .collect()
}

fn widened(name: &syn::Ident, object: &syn::Ident, docs: &[syn::Attribute]) -> TokenStream {
    quote! {
        #(#docs)*
        ///
        /// An object (`Object`, the common case) or, since the schema gives no `type`, any other
        /// JSON value, kept raw (`Other`). `as_object()` / `into_object()` reach the struct,
        /// `into_raw()` gives the JSON value either way.
        #[derive(::serde::Serialize, Clone, Debug, PartialEq)]
        #[serde(untagged)]
        pub enum #name {
            /// The object the schema describes.
            Object(#object),
            /// A value that is not an object (a number, string, list, `null`, boolean).
            Other(::serde_json::Value),
        }

        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<__D: ::serde::Deserializer<'de>>(deserializer: __D) -> ::std::result::Result<Self, __D::Error> {
                let value = crate::__private::read_union(deserializer)?;
                if value.kind() == crate::__private::RawUnion::OBJECT {
                    value.variant::<#object, __D::Error>(::std::option::Option::None).map(Self::Object)
                } else {
                    value.to_value::<__D::Error>().map(Self::Other)
                }
            }
        }

        impl ::std::convert::From<#object> for #name {
            fn from(value: #object) -> Self {
                Self::Object(value)
            }
        }

        impl #name {
            /// The object, when the value is one.
            pub fn as_object(&self) -> ::std::option::Option<&#object> {
                match self {
                    Self::Object(object) => ::std::option::Option::Some(object),
                    Self::Other(_) => ::std::option::Option::None,
                }
            }

            /// The object, when the value is one.
            pub fn into_object(self) -> ::std::option::Option<#object> {
                match self {
                    Self::Object(object) => ::std::option::Option::Some(object),
                    Self::Other(_) => ::std::option::Option::None,
                }
            }

            /// The value as JSON (an object is serialized).
            pub fn into_raw(self) -> ::std::result::Result<::serde_json::Value, ::serde_json::Error> {
                match self {
                    Self::Object(object) => ::serde_json::to_value(object),
                    Self::Other(value) => ::std::result::Result::Ok(value),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use quote::{format_ident, quote};

    #[test]
    fn a_type_named_value_is_renamed_but_not_serde_jsons() {
        let tokens = quote! {
            impl From<Value> for ::serde_json::Value { fn from(v: Value) -> serde_json::Value { todo!() } }
        };
        let renamed = super::rename_tokens(
            tokens,
            &format_ident!("Value"),
            &format_ident!("ValueObject"),
        )
        .to_string();
        assert_eq!(
            renamed,
            quote! {
                impl From<ValueObject> for ::serde_json::Value { fn from(v: ValueObject) -> serde_json::Value { todo!() } }
            }
            .to_string()
        );
    }

    #[test]
    fn the_value_fallback_of_a_marked_schema_is_not_widened() {
        let doc = crate::normalize::TYPELESS_OBJECT_DOC;
        let mut file: syn::File = syn::parse_quote! {
            #[doc = #doc]
            pub struct Root(pub ::serde_json::Value);
            impl From<Root> for ::serde_json::Value { fn from(r: Root) -> Self { r.0 } }
            #[doc = #doc]
            pub struct Named { pub a: i64 }
        };
        super::widen_typeless_objects(&mut file);
        let text = quote!(#file).to_string();
        assert!(
            text.contains("pub struct Root (pub :: serde_json :: Value)"),
            "{text}"
        );
        assert!(!text.contains("RootObject"), "{text}");
        assert!(text.contains("pub struct NamedObject"), "{text}");
        assert!(text.contains("pub enum Named"), "{text}");
    }

    #[test]
    fn an_optional_field_of_a_union_with_a_typeless_member_reads_null_as_a_value() {
        let doc = crate::normalize::TYPELESS_UNION_DOC;
        let mut file: syn::File = syn::parse_quote! {
            #[doc = #doc]
            pub enum U { Variant0(String), Variant1(::serde_json::Value) }
            pub enum Plain { Variant0(String), Variant1(i64) }
            pub struct Root { pub u: Option<U>, pub plain: Option<Plain> }
        };
        super::super::null_values::present_optional_fields(&mut file);
        super::widen_typeless_objects(&mut file);
        let text = quote!(#file).to_string();
        assert_eq!(
            text.matches("crate::__private::present").count(),
            1,
            "{text}"
        );
        assert!(text.contains("Variant0 (String)"), "{text}");
    }
}
