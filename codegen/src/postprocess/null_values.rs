//! An optional field whose type has a value for `null` must keep a `null` apart from absent:
//! serde reads `null` in an `Option<T>` as `None` whatever `T` is, so the value would be dropped
//! when the struct is written back (found by the corpus's generated instances: `"functionTimeout":
//! null` in SchemaStore's `host.json`, a `$ref` to `oneOf [string, null]`; `"extraGlobals": null`,
//! a schema with no `type`; `"reportNeedlessDisables": null`, a union with a `null` member).
//! Such fields decode through `crate::__private::present`: absent is `None`, `null` is
//! `Some(T's own null)`, and both come back as they were.
//!
//! Which types have a value for `null` is read from the generated items, not guessed from the
//! schema: `serde_json::Value`; the widened typeless types (`Other(Null)`,
//! [`super::typeless_objects`]); an untagged union with a unit variant (typify's member for
//! `{"type": "null"}`); a newtype over any of these or over an `Option` (typify's type for a
//! definition such as `oneOf [string, null]`). An optional property whose schema allows `null`
//! and whose type has no value for it (`Option<String>`) is normalization's case instead: it is
//! marked and becomes `Option<Option<T>>` ([`super::fields::nullable_optional_fields`]).

use std::collections::BTreeSet;

use quote::quote;
use syn::{Fields, Item};

use super::typeless_objects::{innermost, with_null_value};
use super::{serde_args, serde_rename_of, type_name};

/// Names of the file's types whose `Deserialize` takes `null` as a value of their own.
fn types_with_null_value(file: &syn::File) -> BTreeSet<String> {
    let mut set: BTreeSet<String> = with_null_value(file).into_iter().collect();
    // A newtype over a newtype: repeat until nothing is added.
    loop {
        let before = set.len();
        for item in &file.items {
            let name = match item {
                Item::Enum(e)
                    if is_untagged(&e.attrs)
                        && e.variants.iter().any(|v| matches!(v.fields, Fields::Unit)) =>
                {
                    e.ident.to_string()
                }
                Item::Struct(s) => match &s.fields {
                    Fields::Unnamed(fields) if fields.unnamed.len() == 1 => {
                        if !admits_null(&fields.unnamed[0].ty, &set) {
                            continue;
                        }
                        s.ident.to_string()
                    }
                    _ => continue,
                },
                _ => continue,
            };
            set.insert(name);
        }
        if set.len() == before {
            return set;
        }
    }
}

fn is_untagged(attrs: &[syn::Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| serde_args(a).is_some_and(|args| args.split(',').any(|x| x.trim() == "untagged")))
}

/// Whether a value of `ty` can be `null`: an `Option`, `serde_json::Value`, or a type of `set`
/// (through `Box`).
fn admits_null(ty: &syn::Type, set: &BTreeSet<String>) -> bool {
    let syn::Type::Path(p) = ty else {
        return false;
    };
    let Some(last) = p.path.segments.last() else {
        return false;
    };
    if last.ident == "Option" || is_json_value(p) {
        return true;
    }
    set.contains(&innermost(ty))
}

/// `serde_json::Value` (a generated type may be called `Value` too: the path decides).
fn is_json_value(p: &syn::TypePath) -> bool {
    let names: Vec<String> = p
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    names.len() >= 2 && names[names.len() - 2] == "serde_json" && names[names.len() - 1] == "Value"
}

/// The type inside one `Option`, if `ty` is one.
fn option_inner(ty: &syn::Type) -> Option<&syn::Type> {
    let syn::Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    match &last.arguments {
        syn::PathArguments::AngleBracketed(args) => match args.args.first()? {
            syn::GenericArgument::Type(inner) => Some(inner),
            _ => None,
        },
        _ => None,
    }
}

/// Optional fields (`Option<T>`) whose `T` has a value for `null` decode through
/// `crate::__private::present`. Runs before the fields are handed to `open_struct!`.
pub(super) fn present_optional_fields(file: &mut syn::File) {
    use syn::visit_mut::VisitMut;
    struct Rewrite(BTreeSet<String>);
    impl VisitMut for Rewrite {
        fn visit_field_mut(&mut self, field: &mut syn::Field) {
            if type_name(&field.ty) != "Option" {
                return;
            }
            let Some(inner) = option_inner(&field.ty) else {
                return;
            };
            if !admits_null(inner, &self.0) {
                return;
            }
            if field.attrs.iter().any(|a| {
                serde_args(a)
                    .is_some_and(|t| t.contains("with =") || t.contains("deserialize_with"))
            }) {
                return;
            }
            let rename = serde_rename_of(&field.attrs).map(|r| quote!(rename = #r,));
            field.attrs.retain(|a| !a.path().is_ident("serde"));
            field.attrs.push(syn::parse_quote!(#[serde(
                #rename
                default,
                deserialize_with = "crate::__private::present",
                skip_serializing_if = "::std::option::Option::is_none"
            )]));
        }
    }
    Rewrite(types_with_null_value(file)).visit_file_mut(file);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(code: &str) -> String {
        let mut file: syn::File = syn::parse_str(code).unwrap();
        present_optional_fields(&mut file);
        quote!(#file).to_string()
    }

    #[test]
    fn optional_fields_of_types_with_a_null_value_keep_null_apart_from_absent() {
        let out = rewritten(
            r#"
            pub struct Timeout(pub ::std::option::Option<::std::string::String>);
            pub struct Outer(pub Timeout);
            #[serde(untagged)]
            pub enum Rule { Null, Boolean(bool) }
            #[serde(untagged)]
            pub enum Shape { Text(String), Number(f64) }
            pub struct Value(pub String);
            pub struct S {
                #[serde(rename = "functionTimeout", default, skip_serializing_if = "::std::option::Option::is_none")]
                pub a: ::std::option::Option<Timeout>,
                #[serde(default, skip_serializing_if = "::std::option::Option::is_none")]
                pub b: ::std::option::Option<::serde_json::Value>,
                #[serde(default, skip_serializing_if = "::std::option::Option::is_none")]
                pub c: ::std::option::Option<Rule>,
                #[serde(default, skip_serializing_if = "::std::option::Option::is_none")]
                pub d: ::std::option::Option<Outer>,
                #[serde(default, skip_serializing_if = "::std::option::Option::is_none")]
                pub e: ::std::option::Option<Shape>,
                #[serde(default, skip_serializing_if = "::std::option::Option::is_none")]
                pub f: ::std::option::Option<Value>,
                #[serde(default, skip_serializing_if = "::std::option::Option::is_none")]
                pub g: ::std::option::Option<::std::string::String>,
            }
            "#,
        );
        let present = out.matches("crate::__private::present").count();
        assert_eq!(present, 4, "a, b, c, d only: {out}");
        assert!(
            out.contains(r#"rename = "functionTimeout" , default , deserialize_with = "crate::__private::present""#),
            "the rename is kept: {out}"
        );
    }
}
