//! Open structs: result structs keep the fields a schema does not declare in an `extra` map,
//! decoded without serde's `#[serde(flatten)]`.
//!
//! `flatten` makes serde's derive read the object through its private buffer (`Content`) and
//! hand the leftovers to the map afterwards, which costs on every object decoded. Instead, each
//! struct with an `extra` map gets a `Deserialize` from the `open_struct!` macro of the support
//! crate `passage-generated-support` (the generated crate's `__private`, where the macro is
//! tested): known names are matched as they come, the rest go to `extra`. The
//! behaviour is serde's derive with the flattened map, point by point:
//!
//! - only a JSON object is accepted (a flattened struct does not take the array form either);
//!   any other value is `invalid type: ..., expected struct Name`;
//! - a declared field sent twice is `duplicate field `x`` at once; an unknown key sent twice is
//!   the same message, raised after the whole object was read and after missing fields (where
//!   the flattened map's check ran);
//! - a missing field is `missing field `x``, an absent `Option` field without `default` is `None`
//!   (serde's missing-field deserializer), `default` / `default = "path"` fill in, and a field
//!   read with `deserialize_with` and no default is missing, as in serde;
//! - unknown fields are kept as sent, in the map's order;
//! - errors are raised at the same point of the input, so `serde_path_to_error` names the same
//!   path and serde_json the same position.
//!
//! Serialization keeps serde's derive (declared fields, then `extra` flattened). A struct with a
//! serde attribute this rewrite does not mirror keeps the derive, unchanged.

use quote::quote;
use syn::{Attribute, Fields, Item, Meta};

use crate::postprocess::{retain_derives, type_name};

/// How one declared field is read: the macro's `[..]` field mode.
struct FieldPlan {
    ident: syn::Ident,
    ty: syn::Type,
    wire: String,
    /// `None`: no default; `Some(None)`: `Default::default()`; `Some(Some(path))`: `path()`.
    default: Option<Option<syn::Path>>,
    with: Option<syn::Path>,
}

/// Replaces the flattened-`extra` `Deserialize` derive of every struct in `file` that has one
/// (result structs and the private structs that decode union variants) by an `open_struct!`
/// invocation; attributes only deserialization read leave the struct.
pub(crate) fn rewrite(file: &mut syn::File) {
    let mut out = Vec::with_capacity(file.items.len());
    for mut item in std::mem::take(&mut file.items) {
        let invocation = match &mut item {
            Item::Struct(s) => rewrite_struct(s),
            Item::Enum(e) if !derives(&e.attrs, "Deserialize") => {
                // A union whose `Deserialize` is generated (crate::unions) derives `Serialize`
                // only: its fields' deserialization attributes say nothing any more.
                for variant in &mut e.variants {
                    for field in variant.fields.iter_mut() {
                        strip_deserialize_only(&mut field.attrs);
                    }
                }
                None
            }
            _ => None,
        };
        out.push(item);
        out.extend(invocation);
    }
    file.items = out;
}

/// Rewrites one struct; the macro invocation that replaces its derive, when it had one.
fn rewrite_struct(s: &mut syn::ItemStruct) -> Option<Item> {
    if !derives(&s.attrs, "Deserialize") || !s.generics.params.is_empty() {
        return None;
    }
    // Container attributes change what derive does (`default`, `from`, `rename_all`...): keep it.
    if s.attrs
        .iter()
        .any(|a| serde_metas(a).is_some_and(|m| !m.is_empty()))
    {
        return None;
    }
    let Fields::Named(named) = &s.fields else {
        return None;
    };
    let mut extra = None;
    let mut plans = Vec::new();
    for field in &named.named {
        let ident = field.ident.clone()?;
        if is_flattened_extra(field) {
            if extra.is_some() {
                return None;
            }
            extra = Some(ident);
        } else {
            plans.push(plan_field(field, ident)?);
        }
    }
    let extra = extra?;

    retain_derives(&mut s.attrs, |name| name != "Deserialize");
    s.attrs.retain(|a| {
        !(a.path().is_ident("derive")
            && matches!(&a.meta, Meta::List(list) if list.tokens.is_empty()))
    });
    if derives(&s.attrs, "Serialize") {
        for field in s.fields.iter_mut() {
            strip_deserialize_only(&mut field.attrs);
        }
    } else {
        // Nothing registers `#[serde]` any more (a union variant's private decoding struct).
        s.attrs.retain(|a| !a.path().is_ident("serde"));
        for field in s.fields.iter_mut() {
            field.attrs.retain(|a| !a.path().is_ident("serde"));
        }
    }

    let name = &s.ident;
    let fields = plans.iter().map(|plan| {
        let FieldPlan { ident, wire, .. } = plan;
        let mut mode = Vec::new();
        match &plan.default {
            Some(Some(path)) => mode.push(quote!(default = #path)),
            Some(None) => mode.push(quote!(default)),
            None => {}
        }
        // The type is inferred from the struct, except where a `deserialize_with` function
        // needs to be told what to produce.
        let ty = plan.with.as_ref().map(|with| {
            mode.push(quote!(with = #with));
            let ty = &plan.ty;
            quote!(: #ty)
        });
        quote!(#ident #ty = #wire [#(#mode),*])
    });
    Some(syn::parse_quote! {
        crate::__private::open_struct!(#name, #extra; #(#fields),*);
    })
}

/// Whether the field is the `extra` map postprocess flattened (`UnknownFields`, read by
/// `unique_map`).
fn is_flattened_extra(field: &syn::Field) -> bool {
    matches!(type_name(&field.ty).as_str(), "Map" | "UnknownFields")
        && field.attrs.iter().any(|a| {
            serde_metas(a).is_some_and(|metas| metas.iter().any(|m| m.path().is_ident("flatten")))
        })
}

/// The field's reading plan; `None` when an attribute asks for something the macro does not do.
fn plan_field(field: &syn::Field, ident: syn::Ident) -> Option<FieldPlan> {
    let mut plan = FieldPlan {
        wire: ident.to_string().trim_start_matches("r#").to_owned(),
        ident,
        ty: field.ty.clone(),
        default: None,
        with: None,
    };
    for attr in &field.attrs {
        if !attr.path().is_ident("serde") {
            continue;
        }
        for meta in serde_metas(attr)? {
            let key = meta.path().get_ident()?.to_string();
            match (key.as_str(), &meta) {
                ("rename", Meta::NameValue(nv)) => plan.wire = string_value(&nv.value)?,
                ("default", Meta::Path(_)) => plan.default = Some(None),
                ("default", Meta::NameValue(nv)) => {
                    plan.default = Some(Some(syn::parse_str(&string_value(&nv.value)?).ok()?))
                }
                ("deserialize_with", Meta::NameValue(nv)) => {
                    plan.with = Some(syn::parse_str(&string_value(&nv.value)?).ok()?)
                }
                // Serialization only.
                ("skip_serializing_if" | "serialize_with", Meta::NameValue(_)) => {}
                _ => return None,
            }
        }
    }
    Some(plan)
}

/// Drops what only deserialization reads (`default`, `deserialize_with`) from a field's serde
/// attributes, and the attributes left empty.
fn strip_deserialize_only(attrs: &mut Vec<Attribute>) {
    attrs.retain_mut(|attr| {
        let Some(metas) = serde_metas(attr) else {
            return true;
        };
        let kept: Vec<&Meta> = metas
            .iter()
            .filter(|m| !(m.path().is_ident("default") || m.path().is_ident("deserialize_with")))
            .collect();
        if kept.len() == metas.len() {
            return true;
        }
        *attr = syn::parse_quote!(#[serde(#(#kept),*)]);
        !kept.is_empty()
    });
}

/// The items of a `#[serde(...)]` attribute; `None` for any other attribute or one that does not
/// parse as a list of metas.
fn serde_metas(attr: &Attribute) -> Option<Vec<Meta>> {
    if !attr.path().is_ident("serde") {
        return None;
    }
    match &attr.meta {
        Meta::List(_) => attr
            .parse_args_with(syn::punctuated::Punctuated::<Meta, syn::Token![,]>::parse_terminated)
            .ok()
            .map(|items| items.into_iter().collect()),
        _ => None,
    }
}

fn string_value(expr: &syn::Expr) -> Option<String> {
    match expr {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(lit),
            ..
        }) => Some(lit.value()),
        _ => None,
    }
}

fn derives(attrs: &[Attribute], name: &str) -> bool {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("derive"))
        .any(|a| {
            a.parse_args_with(
                syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
            )
            .is_ok_and(|list| {
                list.iter()
                    .any(|p| p.segments.last().is_some_and(|s| s.ident == name))
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(file: syn::File) -> String {
        let mut file = file;
        rewrite(&mut file);
        prettyplease::unparse(&file)
    }

    #[test]
    fn a_struct_with_a_flattened_extra_gets_the_macro_and_keeps_its_serialize_derive() {
        let text = rewritten(syn::parse_quote! {
            #[derive(::serde::Deserialize, ::serde::Serialize, Clone)]
            #[serde()]
            pub struct Thing {
                #[serde(rename = "itemCount")]
                #[serde(deserialize_with = "crate::__private::integer")]
                pub item_count: i64,
                #[serde(default, skip_serializing_if = "::std::option::Option::is_none")]
                pub note: ::std::option::Option<::std::string::String>,
                #[serde(default = "defaults::size")]
                pub size: u8,
                pub r#type: ::std::string::String,
                #[serde(flatten, deserialize_with = "crate::__private::unique_map")]
                pub extra: ::serde_json::Map<::std::string::String, ::serde_json::Value>,
            }
        });
        let expected = r#"#[derive(::serde::Serialize, Clone)]
#[serde()]
pub struct Thing {
    #[serde(rename = "itemCount")]
    pub item_count: i64,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub note: ::std::option::Option<::std::string::String>,
    pub size: u8,
    pub r#type: ::std::string::String,
    #[serde(flatten)]
    pub extra: ::serde_json::Map<::std::string::String, ::serde_json::Value>,
}
crate::__private::open_struct!(
    Thing, extra; item_count : i64 = "itemCount"[with = crate ::__private::integer], note
    = "note"[default], size = "size"[default = defaults::size], r#type = "type"[]
);
"#;
        assert_eq!(text, expected);
    }

    #[test]
    fn a_private_union_variant_struct_loses_derive_and_serde_attributes() {
        let text = rewritten(syn::parse_quote! {
            #[derive(::serde::Deserialize)]
            struct __UnionDelivery {
                #[serde(rename = "deliveredAt", deserialize_with = "::std::option::Option::deserialize")]
                delivered_at: ::std::option::Option<::std::string::String>,
                #[serde(flatten, deserialize_with = "crate::__private::unique_map")]
                extra: ::serde_json::Map<::std::string::String, ::serde_json::Value>,
            }
        });
        let expected = r#"struct __UnionDelivery {
    delivered_at: ::std::option::Option<::std::string::String>,
    extra: ::serde_json::Map<::std::string::String, ::serde_json::Value>,
}
crate::__private::open_struct!(
    __UnionDelivery, extra; delivered_at : ::std::option::Option < ::std::string::String
    > = "deliveredAt"[with = ::std::option::Option::deserialize]
);
"#;
        assert_eq!(text, expected);
    }

    #[test]
    fn what_the_macro_does_not_mirror_keeps_the_derive() {
        let unchanged: Vec<syn::File> = vec![
            // A field attribute the macro does not know.
            syn::parse_quote! {
                #[derive(::serde::Deserialize, ::serde::Serialize)]
                pub struct A {
                    #[serde(alias = "b")]
                    pub a: u8,
                    #[serde(flatten, deserialize_with = "crate::__private::unique_map")]
                    pub extra: ::serde_json::Map<::std::string::String, ::serde_json::Value>,
                }
            },
            // A container attribute.
            syn::parse_quote! {
                #[derive(::serde::Deserialize, ::serde::Serialize)]
                #[serde(default)]
                pub struct A {
                    pub a: u8,
                    #[serde(flatten, deserialize_with = "crate::__private::unique_map")]
                    pub extra: ::serde_json::Map<::std::string::String, ::serde_json::Value>,
                }
            },
            // A typed map of additional properties, not the `extra` of unknown fields.
            syn::parse_quote! {
                #[derive(::serde::Deserialize, ::serde::Serialize)]
                pub struct A {
                    pub a: u8,
                    #[serde(flatten)]
                    pub extra: ::std::collections::BTreeMap<::std::string::String, u8>,
                }
            },
            // No `extra` at all (arguments, closed objects).
            syn::parse_quote! {
                #[derive(::serde::Deserialize, ::serde::Serialize)]
                pub struct A {
                    pub a: u8,
                }
            },
        ];
        for file in unchanged {
            let before = prettyplease::unparse(&file);
            assert_eq!(rewritten(file), before);
        }
    }
}
