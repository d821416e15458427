//! Unions that are tolerant but not gullible: a generated `Deserialize` replaces serde's
//! `untagged` / internally tagged derive on every union typify emits.
//!
//! - **Tagged** unions (typify's `#[serde(tag = "..")]`, or untagged ones whose variants all carry
//!   the same single-value property, like `kind: "delivery" | "pickup"`): an object with a known
//!   tag decodes into that variant or fails with the JSON path inside it; an object whose tag
//!   value is not known (a variant Passage added later) is kept in `Unknown`; anything else is an
//!   error naming the tag.
//! - **Adjacently tagged** unions (typify's `#[serde(tag = "..", content = "..")]`, from
//!   `oneOf` members that are closed objects of a constant tag and one content property, as in
//!   arguments schemas): the tag picks the variant, whose value is read from the content
//!   property (which a newtype or struct variant needs, and a unit variant takes absent or
//!   `null`), with errors at the path inside it; an unknown tag is kept in `Unknown`, anything
//!   but an object with a string tag is an error. Other properties are ignored, as serde's
//!   derive ignores them.
//! - **Untagged** unions: variants are tried in order, kinds first (a variant whose type cannot
//!   take the value's JSON kind is not tried); a value no variant accepts is kept in `Unknown`
//!   only when some variant has its JSON kind (an object where objects are expected), else it is
//!   an error listing the kinds the union takes.
//! - The value is read once as raw JSON text, not built as a `Value` (`read_union`), with a key
//!   repeated in any object inside it refused, so decode → encode → decode is stable (a
//!   duplicate key can no longer decode as `Unknown` first and typed afterwards).
//!
//! Struct variants are decoded through private shadow structs with the same fields and serde
//! attributes; serialization keeps typify's derive. What the impls call (`read_union` and
//! `RawUnion`'s methods) lives in the support crate `passage-generated-support`
//! (`crate::__private` of the generated crate), tested there; the impls themselves are exercised end to end by `tests/tests/union_decoding.rs` and
//! xtask's `gated_crates` tests.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Fields, Item, ItemEnum};

/// JSON kinds, as bits.
const NULL: u8 = 1;
const BOOLEAN: u8 = 2;
const NUMBER: u8 = 4;
const STRING: u8 = 8;
const ARRAY: u8 = 16;
const OBJECT: u8 = 32;
const ANY: u8 = 63;

/// Rewrites every union enum of `file` (those with an `Unknown(serde_json::Value)` catch-all).
pub(crate) fn strict_unions(file: &mut syn::File, unions: &BTreeSet<String>) {
    if unions.is_empty() {
        return;
    }
    let kinds = KindTable::new(file);
    let tags = tag_wire_values(file);
    let mut extra_items = Vec::new();
    for item in &mut file.items {
        let Item::Enum(e) = item else { continue };
        if !unions.contains(&e.ident.to_string()) {
            continue;
        }
        if let Some(items) = rewrite_union(e, &kinds, &tags) {
            extra_items.extend(items);
        }
    }
    file.items.extend(extra_items);
}

/// Single-value string enums (possible tags): type name → wire value.
fn tag_wire_values(file: &syn::File) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for item in &file.items {
        if let Item::Enum(e) = item {
            if e.variants.len() == 1 && matches!(e.variants[0].fields, Fields::Unit) {
                let v = &e.variants[0];
                let wire = crate::postprocess::serde_rename_of(&v.attrs)
                    .unwrap_or_else(|| v.ident.to_string());
                out.insert(e.ident.to_string(), wire);
            }
        }
    }
    out
}

struct KindTable {
    /// Type name → kinds its values take.
    named: BTreeMap<String, u8>,
}

impl KindTable {
    fn new(file: &syn::File) -> Self {
        let mut table = KindTable {
            named: BTreeMap::new(),
        };
        // Two passes settle unions that refer to types declared after them.
        for _ in 0..3 {
            for item in &file.items {
                match item {
                    // Widened after this (an enum of the struct and any other value).
                    Item::Struct(s) if crate::postprocess::is_typeless_object(s) => {
                        table.named.insert(s.ident.to_string(), ANY);
                    }
                    Item::Struct(s) => {
                        let kind = match &s.fields {
                            Fields::Named(_) => OBJECT,
                            Fields::Unnamed(u) if u.unnamed.len() == 1 => {
                                table.of(&u.unnamed[0].ty)
                            }
                            Fields::Unnamed(_) => ARRAY,
                            Fields::Unit => NULL,
                        };
                        table.named.insert(s.ident.to_string(), kind);
                    }
                    Item::Enum(e) => {
                        let kind = table.of_enum(e);
                        table.named.insert(e.ident.to_string(), kind);
                    }
                    Item::Type(t) => {
                        let kind = table.of(&t.ty);
                        table.named.insert(t.ident.to_string(), kind);
                    }
                    _ => {}
                }
            }
        }
        table
    }

    fn of_enum(&self, e: &ItemEnum) -> u8 {
        let container = crate::postprocess::container_serde(e);
        if container.contains("tag =") {
            return OBJECT;
        }
        let untagged = container.contains("untagged");
        let mut kind = 0;
        for v in &e.variants {
            kind |= match (&v.fields, untagged) {
                (Fields::Unit, true) => NULL,
                (Fields::Unit, false) => STRING,
                (Fields::Named(_), true) => OBJECT,
                (Fields::Unnamed(u), true) if u.unnamed.len() == 1 => {
                    if v.ident == "Unknown" {
                        0
                    } else {
                        self.of(&u.unnamed[0].ty)
                    }
                }
                (Fields::Unnamed(_), true) => ARRAY,
                // Externally tagged data variants are objects `{"Variant": ...}`.
                (_, false) => {
                    if v.ident == "Unknown" {
                        0
                    } else {
                        OBJECT
                    }
                }
            };
        }
        if kind == 0 {
            ANY
        } else {
            kind
        }
    }

    /// The JSON kinds a Rust type accepts with serde_json.
    fn of(&self, ty: &syn::Type) -> u8 {
        match ty {
            syn::Type::Tuple(t) if t.elems.is_empty() => NULL,
            syn::Type::Tuple(_) | syn::Type::Array(_) | syn::Type::Slice(_) => ARRAY,
            syn::Type::Reference(r) => self.of(&r.elem),
            syn::Type::Paren(p) => self.of(&p.elem),
            syn::Type::Path(p) => {
                let Some(last) = p.path.segments.last() else {
                    return ANY;
                };
                let name = last.ident.to_string();
                let inner = || match &last.arguments {
                    syn::PathArguments::AngleBracketed(args) => {
                        args.args.iter().find_map(|a| match a {
                            syn::GenericArgument::Type(t) => Some(t.clone()),
                            _ => None,
                        })
                    }
                    _ => None,
                };
                match name.as_str() {
                    "Option" => NULL | inner().map(|t| self.of(&t)).unwrap_or(ANY),
                    "Box" | "Rc" | "Arc" => inner().map(|t| self.of(&t)).unwrap_or(ANY),
                    "String" | "str" | "char" => STRING,
                    "bool" => BOOLEAN,
                    "i8" | "i16" | "i32" | "i64" | "i128" | "isize" | "u8" | "u16" | "u32"
                    | "u64" | "u128" | "usize" | "f32" | "f64" => NUMBER,
                    n if n.starts_with("NonZero") => NUMBER,
                    "Vec" | "VecDeque" | "HashSet" | "BTreeSet" => ARRAY,
                    "HashMap" | "BTreeMap" | "Map" => OBJECT,
                    "Value" => ANY,
                    other => self.named.get(other).copied().unwrap_or(ANY),
                }
            }
            _ => ANY,
        }
    }
}

fn kind_names(mask: u8) -> String {
    let names: Vec<&str> = [
        (NULL, "null"),
        (BOOLEAN, "boolean"),
        (NUMBER, "number"),
        (STRING, "string"),
        (ARRAY, "array"),
        (OBJECT, "object"),
    ]
    .iter()
    .filter(|(bit, _)| mask & bit != 0)
    .map(|(_, name)| *name)
    .collect();
    names.join(" or ")
}

/// The union's tag: from typify's `tag = ".."`, or a property every variant has whose type is a
/// single-value enum. Returns (property wire name, variant ident → tag value).
fn find_tag(
    e: &ItemEnum,
    tags: &BTreeMap<String, String>,
) -> Option<(String, BTreeMap<String, String>, bool)> {
    let container = crate::postprocess::container_serde(e);
    let variants: Vec<&syn::Variant> = e.variants.iter().filter(|v| v.ident != "Unknown").collect();
    if variants.is_empty() {
        return None;
    }
    if let Some(tag) = serde_key_value(&container, "tag") {
        let mut values = BTreeMap::new();
        for v in &variants {
            if !matches!(v.fields, Fields::Named(_) | Fields::Unit) {
                return None;
            }
            let wire = crate::postprocess::serde_rename_of(&v.attrs)
                .unwrap_or_else(|| v.ident.to_string());
            values.insert(v.ident.to_string(), wire);
        }
        return Some((tag, values, true));
    }
    if !container.contains("untagged") {
        return None;
    }
    let mut property: Option<String> = None;
    let mut values = BTreeMap::new();
    for v in &variants {
        let Fields::Named(named) = &v.fields else {
            return None;
        };
        let found = named.named.iter().find_map(|f| {
            let ty = crate::postprocess::type_name(&f.ty);
            let value = tags.get(&ty)?;
            let wire = match crate::postprocess::serde_rename_of(&f.attrs) {
                Some(wire) => wire,
                None => f
                    .ident
                    .as_ref()?
                    .to_string()
                    .trim_start_matches("r#")
                    .to_string(),
            };
            Some((wire, value.clone()))
        })?;
        match &property {
            None => property = Some(found.0),
            Some(p) if *p == found.0 => {}
            Some(_) => return None,
        }
        values.insert(v.ident.to_string(), found.1);
    }
    let distinct: BTreeSet<&String> = values.values().collect();
    if distinct.len() != values.len() {
        return None;
    }
    Some((property?, values, false))
}

fn serde_key_value(container: &str, key: &str) -> Option<String> {
    // `container` is the token text of the serde attributes: `tag = "kind" , ...`.
    let at = container.find(&format!("{key} ="))?;
    let rest = &container[at..];
    let start = rest.find('"')? + 1;
    let end = start + rest[start..].find('"')?;
    Some(rest[start..end].to_string())
}

/// A private struct with a struct variant's fields and serde attributes, which decodes it: the
/// item, its name, and a closure turning it into the variant.
fn shadow_struct(
    name: &syn::Ident,
    vident: &syn::Ident,
    named: &syn::FieldsNamed,
) -> (Item, TokenStream, TokenStream) {
    let shadow = format_ident!("__{}{}", name, vident);
    let fields = named.named.iter().map(|f| {
        let attrs = f.attrs.iter().filter(|a| !a.path().is_ident("doc"));
        let ident = &f.ident;
        let ty = &f.ty;
        quote!(#(#attrs)* #ident: #ty)
    });
    let idents: Vec<&syn::Ident> = named
        .named
        .iter()
        .filter_map(|f| f.ident.as_ref())
        .collect();
    let doc = format!("Decodes the `{vident}` variant of [`{name}`].");
    let item: Item = syn::parse_quote! {
        #[doc = #doc]
        #[derive(::serde::Deserialize)]
        struct #shadow { #(#fields,)* }
    };
    let build = quote!(|v: #shadow| Self::#vident { #(#idents: v.#idents),* });
    (item, quote!(#shadow), build)
}

/// The `Deserialize` of an adjacently tagged union (`tag` and `content` properties): the tag
/// picks the variant, the content property holds its value. `None` keeps serde's derive (a
/// variant shape this does not mirror).
fn adjacent_union(e: &ItemEnum, tag: &str, content: &str) -> Option<Vec<Item>> {
    let name = e.ident.clone();
    let name_text = name.to_string();
    let mut items = Vec::new();
    let mut arms = Vec::new();
    for v in e.variants.iter().filter(|v| v.ident != "Unknown") {
        let vident = &v.ident;
        let wire =
            crate::postprocess::serde_rename_of(&v.attrs).unwrap_or_else(|| vident.to_string());
        arms.push(match &v.fields {
            Fields::Unit => quote! {
                #wire => value.unit_content::<__D::Error>(#name_text, #content)
                    .map(|()| Self::#vident)
            },
            Fields::Unnamed(u) if u.unnamed.len() == 1 => {
                let ty = &u.unnamed[0].ty;
                quote! {
                    #wire => value.content::<#ty, __D::Error>(#name_text, #content)
                        .map(Self::#vident)
                }
            }
            Fields::Named(named) => {
                let (item, shadow, build) = shadow_struct(&name, vident, named);
                items.push(item);
                quote! {
                    #wire => value.content::<#shadow, __D::Error>(#name_text, #content)
                        .map(#build)
                }
            }
            Fields::Unnamed(_) => return None,
        });
    }
    items.push(syn::parse_quote! {
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<__D: ::serde::Deserializer<'de>>(deserializer: __D) -> ::std::result::Result<Self, __D::Error> {
                let value = crate::__private::read_union(deserializer)?;
                let tag = value.tag::<__D::Error>(#name_text, #tag)?;
                match &*tag {
                    #(#arms,)*
                    _ => value.to_value::<__D::Error>().map(Self::Unknown),
                }
            }
        }
    });
    Some(items)
}

fn rewrite_union(
    e: &mut ItemEnum,
    kinds: &KindTable,
    tags: &BTreeMap<String, String>,
) -> Option<Vec<Item>> {
    let container = crate::postprocess::container_serde(e);
    // Externally tagged enums keep serde's derive: their shape (`{"Variant": ...}`) is already
    // checked by the variant name.
    if !container.contains("untagged") && !container.contains("tag =") {
        return None;
    }
    // Variants with attributes we cannot mirror keep the derive.
    if e.variants.iter().any(|v| {
        v.attrs.iter().any(|a| {
            a.path().is_ident("serde")
                && !crate::postprocess::serde_args(a).is_some_and(|t| {
                    t.starts_with("rename =") && !t.contains(',') || t == "untagged"
                })
        })
    }) {
        return None;
    }
    if let (Some(tag), Some(content)) = (
        serde_key_value(&container, "tag"),
        serde_key_value(&container, "content"),
    ) {
        let items = adjacent_union(e, &tag, &content)?;
        crate::postprocess::retain_derives(&mut e.attrs, |name| name != "Deserialize");
        return Some(items);
    }
    let name = e.ident.clone();
    let tag = find_tag(e, tags);
    let mut shadows = Vec::new();
    let mut arms = Vec::new(); // (variant ident, tag value, decode expression producing Self)
    for v in e.variants.iter().filter(|v| v.ident != "Unknown") {
        let vident = &v.ident;
        let (ty_tokens, build): (TokenStream, TokenStream) = match &v.fields {
            Fields::Named(named) => {
                let (shadow_item, shadow, build) = shadow_struct(&name, vident, named);
                shadows.push(shadow_item);
                (shadow, build)
            }
            Fields::Unnamed(u) if u.unnamed.len() == 1 => {
                let ty = &u.unnamed[0].ty;
                if crate::postprocess::is_integer_shape(ty) {
                    // `1.0` is an integer for JSON Schema: read it as the integer variant.
                    (
                        quote!(crate::__private::Integer<#ty>),
                        quote!(|crate::__private::Integer(v)| Self::#vident(v)),
                    )
                } else {
                    (quote!(#ty), quote!(Self::#vident))
                }
            }
            Fields::Unit => (quote!(()), quote!(|()| Self::#vident)),
            Fields::Unnamed(_) => return None,
        };
        arms.push((
            vident.clone(),
            ty_tokens,
            build,
            matches!(v.fields, Fields::Unit),
        ));
    }
    let name_text = name.to_string();
    let body = match &tag {
        Some((property, values, internal)) => {
            // typify's internally tagged variants do not declare the tag as a field: take it out
            // before decoding the body, or a catch-all `extra` map would keep it a second time.
            let strip = if *internal {
                quote!(::std::option::Option::Some(#property))
            } else {
                quote!(::std::option::Option::None)
            };
            let mut match_arms = Vec::new();
            for (vident, ty, build, unit) in &arms {
                let value = values.get(&vident.to_string())?;
                if *unit {
                    match_arms.push(quote!(#value => ::std::result::Result::Ok(Self::#vident)));
                } else {
                    match_arms.push(quote! {
                        #value => value.variant::<#ty, __D::Error>(#strip).map(#build)
                    });
                }
            }
            quote! {
                let value = crate::__private::read_union(deserializer)?;
                let tag = value.tag::<__D::Error>(#name_text, #property)?;
                match &*tag {
                    #(#match_arms,)*
                    _ => value.to_value::<__D::Error>().map(Self::Unknown),
                }
            }
        }
        None => {
            let mut tries = Vec::new();
            let mut mask = 0u8;
            let mut guarded = false;
            let variants = e.variants.iter().filter(|v| v.ident != "Unknown");
            for (v, (_, ty, build, _)) in variants.zip(&arms) {
                let kind = match &v.fields {
                    Fields::Named(_) => OBJECT,
                    Fields::Unit => NULL,
                    Fields::Unnamed(u) => kinds.of(&u.unnamed[0].ty),
                };
                mask |= kind;
                let attempt = quote! {
                    if let ::std::option::Option::Some(decoded) = value.try_variant::<#ty>().map(#build) {
                        return ::std::result::Result::Ok(decoded);
                    }
                };
                // Kinds first: a variant that cannot take the value's JSON kind is not tried.
                tries.push(if kind == ANY {
                    attempt
                } else {
                    guarded = true;
                    let kind = proc_macro2::Literal::u8_unsuffixed(kind);
                    quote!(if kind & #kind != 0 { #attempt })
                });
            }
            let expected = kind_names(mask);
            let mask_lit = proc_macro2::Literal::u8_unsuffixed(mask);
            // Only variants of known kinds look at it (no unused variable otherwise).
            let kind = guarded.then(|| quote!(let kind = value.kind();));
            quote! {
                let value = crate::__private::read_union(deserializer)?;
                #kind
                #(#tries)*
                value.unknown_of_kind::<__D::Error>(#mask_lit, #name_text, #expected).map(Self::Unknown)
            }
        }
    };
    // The Deserialize derive gives way to the impl below.
    crate::postprocess::retain_derives(&mut e.attrs, |name| name != "Deserialize");
    let impl_item: Item = syn::parse_quote! {
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<__D: ::serde::Deserializer<'de>>(deserializer: __D) -> ::std::result::Result<Self, __D::Error> {
                #body
            }
        }
    };
    shadows.push(impl_item);
    Some(shadows)
}

/// Tests of the rewrite itself; the support code it calls is tested in
/// `passage-generated-support`, the emitted impls end to end by `tests/tests/union_decoding.rs`
/// and xtask's `gated_crates` tests.
#[cfg(test)]
mod tests {
    #[test]
    fn an_integer_variant_is_read_leniently() {
        // `3.0` is an integer for JSON Schema: the integer variant must take it (a round trip
        // cannot tell, since `Unknown` would keep it too).
        let mut file: syn::File = syn::parse_quote! {
            #[derive(::serde::Deserialize)]
            #[serde(untagged)]
            pub enum U {
                Integer(i64),
                String(::std::string::String),
                Unknown(::serde_json::Value),
            }
        };
        super::strict_unions(&mut file, &["U".to_string()].into_iter().collect());
        let text = quote::quote!(#file).to_string().replace(' ', "");
        assert!(
            text.contains("try_variant::<crate::__private::Integer<i64>>"),
            "{text}"
        );
        assert!(
            text.contains("try_variant::<::std::string::String>"),
            "{text}"
        );
        // Kinds first: each variant is tried only on a value of a kind it takes.
        assert!(
            text.contains("ifkind&4!=0{iflet::std::option::Option::Some(decoded)=value.try_variant::<crate::__private::Integer<i64>>"),
            "{text}"
        );
        assert!(text.contains("ifkind&8!=0"), "{text}");
    }

    #[test]
    fn a_union_of_variants_of_any_kind_reads_no_kind() {
        // Every variant takes any JSON kind: nothing looks at the kind, so it is not read
        // (an unused variable would fail the compile gate).
        let mut file: syn::File = syn::parse_quote! {
            #[derive(::serde::Deserialize)]
            #[serde(untagged)]
            pub enum U {
                Raw(::serde_json::Value),
                Other(Opaque),
                Unknown(::serde_json::Value),
            }
        };
        super::strict_unions(&mut file, &["U".to_string()].into_iter().collect());
        let text = quote::quote!(#file).to_string().replace(' ', "");
        assert!(text.contains("try_variant::<Opaque>"), "{text}");
        assert!(!text.contains("letkind"), "{text}");
    }
}
