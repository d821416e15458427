//! Lenient integers: JSON Schema counts `1.0`, `-0` and `1e2` as integers, serde's `i64` does not.

use quote::quote;

use super::{serde_args, type_name};

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
pub(super) fn lenient_integer_fields(file: &mut syn::File) {
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
