//! The registry entry of a catalog operation and the trait of generated arguments types; the
//! generated crate fills a static list of entries per integration.

/// Implemented by every generated arguments type: names the operation it is for.
pub trait OperationArguments: serde::Serialize {
    /// The operation's resource, e.g. `paymentMethod`.
    const RESOURCE: &'static str;
    /// The operation's action, e.g. `write`.
    const ACTION: &'static str;
    /// Every integration whose catalog entry publishes this arguments schema.
    const INTEGRATIONS: &'static [&'static str];
}

/// Metadata of one catalog operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationInfo {
    /// Integration id, e.g. `tmobile`.
    pub integration: &'static str,
    /// Integration display name.
    pub integration_name: &'static str,
    /// Resource, e.g. `paymentMethod`.
    pub resource: &'static str,
    /// Action, e.g. `read`.
    pub action: &'static str,
    /// The catalog's description of the operation.
    pub description: &'static str,
    /// Path of the result type alias within the generated crate.
    pub result_type: &'static str,
    /// Path of the arguments type alias, when the operation takes arguments.
    pub arguments_type: Option<&'static str>,
    /// The result JSON Schema as published, as JSON text.
    pub result_schema: Option<&'static str>,
    /// The arguments JSON Schema as published, as JSON text.
    pub arguments_schema: Option<&'static str>,
}
