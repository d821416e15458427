//! Lenient integers: JSON Schema counts `1.0`, `-0` and `1e2` as integers, serde's `i64` does not.
//! Every position where typify decodes an integer reads it through `crate::__private::integer`
//! instead: named fields, the field of a newtype (a root or named `{"type": "integer"}` schema),
//! `Option`/`Vec`/map values of them, and (in [`crate::unions`]) a union's integer variant.
//! Integer `enum`/`const` values are typed by their kind (normalization keeps the values as doc
//! text), so they are covered as plain integers. An integer-valued number decodes to the integer
//! and re-serializes as one (`1.0` → `1`, equal by value); `1.5` is still refused.

use quote::quote;

use super::{serde_args, type_name};

/// Whether `ty` is an integer, or an `Option`/`Vec`/string-keyed map of one, at any depth (what
/// `crate::__private::LenientInteger` reads).
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
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return false;
    };
    let types: Vec<&syn::Type> = args
        .args
        .iter()
        .filter_map(|a| match a {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        })
        .collect();
    match (name.as_str(), types.as_slice()) {
        ("Option" | "Vec", [inner]) => is_integer_shape(inner),
        ("HashMap" | "BTreeMap", [key, value]) => {
            type_name(key) == "String" && is_integer_shape(value)
        }
        _ => false,
    }
}

/// Integer fields (named, or the one field of a `#[serde(transparent)]` newtype) decode through
/// the lenient reader.
pub(super) fn lenient_integer_fields(file: &mut syn::File) {
    use syn::visit_mut::VisitMut;
    struct Rewrite;
    impl VisitMut for Rewrite {
        fn visit_item_struct_mut(&mut self, s: &mut syn::ItemStruct) {
            let transparent = s
                .attrs
                .iter()
                .any(|a| serde_args(a).is_some_and(|args| args.trim() == "transparent"));
            if let (true, syn::Fields::Unnamed(fields)) = (transparent, &mut s.fields) {
                if let Some(field) = fields.unnamed.first_mut() {
                    make_lenient(field);
                }
            }
            syn::visit_mut::visit_item_struct_mut(self, s);
        }
        fn visit_field_mut(&mut self, field: &mut syn::Field) {
            if field.ident.is_some() {
                make_lenient(field);
            }
        }
    }
    Rewrite.visit_file_mut(file);
}

fn make_lenient(field: &mut syn::Field) {
    if !is_integer_shape(&field.ty) {
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
    let default = (field.ident.is_some() && type_name(&field.ty) == "Option" && !has_default)
        .then(|| quote!(default,));
    field
        .attrs
        .push(syn::parse_quote!(#[serde(#default deserialize_with = "crate::__private::integer")]));
}
