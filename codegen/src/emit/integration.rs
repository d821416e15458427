//! One integration's module file, `src/integrations/<module>.rs`: its type aliases, its registry
//! entries (with the schemas), and the arms of `decode_result` and of `OperationResult`'s methods
//! for its operations. Each file depends on its own operations only, so the files are made on
//! every core (at 2,000 operations, formatting them one after another was a third of a regen
//! after one schema changed).

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::OperationNames;
use crate::{naming, CodegenError, PlannedOperation, SchemaUnit};

/// The file text of each integration of `by_integration` (integration id → indices of its
/// operations in `operations`), keyed by integration id.
pub(super) fn files(
    by_integration: &BTreeMap<&str, Vec<usize>>,
    units: &[SchemaUnit],
    operations: &[PlannedOperation],
    names: &naming::CrateNames,
    integration_names: &BTreeMap<String, String>,
    formatter: super::Formatter<'_>,
) -> Result<BTreeMap<String, String>, CodegenError> {
    let work: Vec<(&str, &Vec<usize>)> = by_integration.iter().map(|(k, v)| (*k, v)).collect();
    crate::parallel::map(work, |(integration, indices)| {
        // Identifiers are not `Send`: each thread makes its own (`r#type` stays raw).
        let modules: BTreeMap<String, syn::Ident> = names
            .modules
            .iter()
            .map(|(integration, module)| (integration.clone(), format_ident!("{}", module)))
            .collect();
        let parts = parts(
            indices,
            units,
            operations,
            names,
            &modules,
            integration_names,
        );
        let text = emit_integration(
            integration,
            &integration_names[integration],
            &names.features[integration],
            &parts,
            formatter,
        )?;
        Ok((integration.to_owned(), text))
    })
    .into_iter()
    .collect()
}

/// What the operations `indices` of one integration contribute to its file.
fn parts(
    indices: &[usize],
    units: &[SchemaUnit],
    operations: &[PlannedOperation],
    names: &naming::CrateNames,
    modules: &BTreeMap<String, syn::Ident>,
    integration_names: &BTreeMap<String, String>,
) -> IntegrationParts {
    let mut parts = IntegrationParts::default();
    for &index in indices {
        let op = &operations[index];
        let op_names = super::operation_names(op, index, names, modules);
        let OperationNames {
            variant,
            module,
            result_alias,
            arguments_alias,
            ..
        } = &op_names;
        let (integration, resource, action) = (&op.integration, &op.resource, &op.action);
        let result_ty = match op.result_unit {
            Some(i) => super::type_path(&units[i]),
            None => quote!(::serde_json::Value),
        };
        let result_doc = format!(
            "Result of `{resource}`/`{action}` on {} (`{integration}`).{}",
            integration_names[integration],
            if op.description.is_empty() {
                String::new()
            } else {
                format!(" {}", op.description)
            }
        );
        parts
            .aliases
            .push(quote! { #[doc = #result_doc] pub type #result_alias = #result_ty; });
        if let Some(i) = op.arguments_unit {
            let arguments_ty = super::type_path(&units[i]);
            let doc = format!(
                "Arguments of `{resource}`/`{action}` on {}.",
                integration_names[integration]
            );
            parts
                .aliases
                .push(quote! { #[doc = #doc] pub type #arguments_alias = #arguments_ty; });
        }
        let index = proc_macro2::Literal::usize_unsuffixed(parts.registry.len());
        parts.operation_arms.push(
            quote! { crate::OperationResult::#variant(_) => ::std::option::Option::Some(&OPERATIONS[#index]) },
        );
        parts.serialize_arms.push(quote! {
            crate::OperationResult::#variant(value) => ::std::result::Result::Ok(::serde::Serialize::serialize(value, serializer))
        });
        let variant_name = variant.to_string();
        parts.debug_arms.push(quote! {
            crate::OperationResult::#variant(value) => ::std::option::Option::Some(f.debug_tuple(#variant_name).field(value).finish())
        });
        parts.clone_arms.push(quote! {
            crate::OperationResult::#variant(value) => ::std::option::Option::Some(crate::OperationResult::#variant(::std::clone::Clone::clone(value)))
        });
        parts.eq_arms.push(quote! {
            (crate::OperationResult::#variant(a), crate::OperationResult::#variant(b)) => ::std::option::Option::Some(a == b)
        });
        // The result type's own module decodes it (a plain function there), so the type's
        // deserializer is compiled with the type: in its shard, in the sharded layout.
        let decode = match op.result_unit {
            Some(i) => {
                let module = format_ident!("{}", units[i].module);
                quote!(crate::types::#module::__decode(data))
            }
            None => quote!(crate::__private::decode::<#result_alias>(data)),
        };
        parts.decode_arms.push(quote! {
            (#resource, #action) => #decode
                .map(|value| crate::OperationResult::#variant(::std::boxed::Box::new(value)))
        });
        let description = &op.description;
        let integration_name = &op.integration_name;
        let result_type = format!("{}::{}", module, result_alias);
        let arguments_type = match op.arguments_unit {
            Some(_) => {
                let t = format!("{}::{}", module, arguments_alias);
                quote!(::std::option::Option::Some(#t))
            }
            None => quote!(::std::option::Option::None),
        };
        let opt = |s: &Option<String>| match s {
            Some(text) => quote!(::std::option::Option::Some(#text)),
            None => quote!(::std::option::Option::None),
        };
        let result_schema = opt(&op.result_schema);
        let arguments_schema = opt(&op.arguments_schema);
        parts.registry.push(quote! {
            crate::OperationInfo {
                integration: #integration,
                integration_name: #integration_name,
                resource: #resource,
                action: #action,
                description: #description,
                result_type: #result_type,
                arguments_type: #arguments_type,
                result_schema: #result_schema,
                arguments_schema: #arguments_schema,
            }
        });
    }

    parts
}

/// What one integration's operations contribute, emitted into `src/integrations/<module>.rs`.
#[derive(Default)]
pub(super) struct IntegrationParts {
    aliases: Vec<TokenStream>,
    registry: Vec<TokenStream>,
    decode_arms: Vec<TokenStream>,
    operation_arms: Vec<TokenStream>,
    serialize_arms: Vec<TokenStream>,
    eq_arms: Vec<TokenStream>,
    debug_arms: Vec<TokenStream>,
    clone_arms: Vec<TokenStream>,
}

/// One integration's module: its type aliases, its registry entries (with the schemas) and
/// the arms of `decode_result` and of `OperationResult`'s methods for its operations. `lib.rs`
/// declares it behind the integration's feature, so none of it is compiled when that is off.
fn emit_integration(
    integration: &str,
    integration_name: &str,
    feature: &str,
    parts: &IntegrationParts,
    formatter: super::Formatter<'_>,
) -> Result<String, CodegenError> {
    let IntegrationParts {
        aliases,
        registry,
        decode_arms,
        operation_arms,
        serialize_arms,
        eq_arms,
        debug_arms,
        clone_arms,
    } = parts;
    let doc = format!(
        "Types of {integration_name} (`{integration}`): one alias per operation. Cargo feature `{feature}`."
    );
    let registry_doc = format!(
        "The operations of {integration_name} (`{integration}`), sorted by resource and action."
    );
    let tokens = quote! {
        #![doc = #doc]
        #![cfg_attr(rustfmt, rustfmt::skip)]

        #(#aliases)*

        #[doc = #registry_doc]
        pub static OPERATIONS: &[crate::OperationInfo] = &[#(#registry),*];

        /// Decodes the data of one of this integration's operations; `None` when it has no
        /// operation `resource`/`action`.
        pub(crate) fn decode(
            resource: &str,
            action: &str,
            data: &[u8],
        ) -> ::std::option::Option<::std::result::Result<crate::OperationResult, (::std::string::String, ::std::string::String)>> {
            let outcome = match (resource, action) {
                #(#decode_arms,)*
                _ => return ::std::option::Option::None,
            };
            ::std::option::Option::Some(outcome)
        }

        /// The registry entry of `result` when it is one of this integration's operations.
        pub(crate) fn operation_of(result: &crate::OperationResult) -> ::std::option::Option<&'static crate::OperationInfo> {
            match result {
                #(#operation_arms,)*
                _ => ::std::option::Option::None,
            }
        }

        /// Serializes `result` when it is one of this integration's operations; hands the
        /// serializer back otherwise.
        pub(crate) fn serialize<S: ::serde::Serializer>(
            result: &crate::OperationResult,
            serializer: S,
        ) -> ::std::result::Result<::std::result::Result<S::Ok, S::Error>, S> {
            match result {
                #(#serialize_arms,)*
                _ => ::std::result::Result::Err(serializer),
            }
        }

        /// `Debug` of `result` when it is one of this integration's operations.
        pub(crate) fn debug(
            result: &crate::OperationResult,
            f: &mut ::std::fmt::Formatter<'_>,
        ) -> ::std::option::Option<::std::fmt::Result> {
            match result {
                #(#debug_arms,)*
                _ => ::std::option::Option::None,
            }
        }

        /// A copy of `result` when it is one of this integration's operations.
        pub(crate) fn clone(result: &crate::OperationResult) -> ::std::option::Option<crate::OperationResult> {
            match result {
                #(#clone_arms,)*
                _ => ::std::option::Option::None,
            }
        }

        /// Compares two results of the same operation of this integration; `None` when they
        /// are not.
        pub(crate) fn eq(a: &crate::OperationResult, b: &crate::OperationResult) -> ::std::option::Option<bool> {
            match (a, b) {
                #(#eq_arms,)*
                _ => ::std::option::Option::None,
            }
        }
    };
    formatter.format(tokens, &format!("src/integrations/{integration}.rs"))
}
