//! TEMPORARY hand-written scaffold with the public API the generator will emit; replaced by
//! `cargo xtask regen`. Do not build on anything not listed in the helper brief.
use serde::{Deserialize, Serialize};

/// A failure to decode an operation's data into its generated type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub integration: String,
    pub resource: String,
    pub action: String,
    /// JSON path of the failure, e.g. `billing[0].amountDue`; `$` for the root.
    pub path: String,
    pub message: String,
    /// The raw JSON that did not fit, kept whole.
    pub raw: String,
}
impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}: at `{}`: {}", self.integration, self.resource, self.action, self.path, self.message)
    }
}
impl std::error::Error for DecodeError {}

/// Metadata of one catalog operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationInfo {
    pub integration: &'static str,
    pub integration_name: &'static str,
    pub resource: &'static str,
    pub action: &'static str,
    pub description: &'static str,
    pub result_type: &'static str,
    pub arguments_type: Option<&'static str>,
    pub result_schema: Option<&'static str>,
    pub arguments_schema: Option<&'static str>,
    pub enabled: bool,
}
pub static OPERATIONS: &[OperationInfo] = &[];
pub fn find_operation(integration: &str, resource: &str, action: &str) -> Option<&'static OperationInfo> {
    OPERATIONS.iter().find(|o| o.integration == integration && o.resource == resource && o.action == action)
}

/// Implemented by every generated arguments type.
pub trait OperationArguments: Serialize {
    const RESOURCE: &'static str;
    const ACTION: &'static str;
    const INTEGRATIONS: &'static [&'static str];
}

pub mod tmobile {
    use super::*;
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct MobileBillingStatementReadResult { pub billing: Vec<serde_json::Value> }
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct PaymentMethodWriteArguments { pub card_number: String, pub expiration_date: String, pub cvv: String, pub name_on_card: String, pub billing_zip: String }
    impl OperationArguments for PaymentMethodWriteArguments { const RESOURCE: &'static str = "paymentMethod"; const ACTION: &'static str = "write"; const INTEGRATIONS: &'static [&'static str] = &["att", "tmobile", "verizon"]; }
}

/// One operation's decoded data.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum OperationResult {
    TmobileMobileBillingStatementRead(Box<tmobile::MobileBillingStatementReadResult>),
    Unknown { integration: String, resource: String, action: String, data: Box<serde_json::value::RawValue> },
}
impl OperationResult {
    pub fn integration(&self) -> &str { match self { Self::TmobileMobileBillingStatementRead(_) => "tmobile", Self::Unknown { integration, .. } => integration } }
    pub fn resource(&self) -> &str { match self { Self::TmobileMobileBillingStatementRead(_) => "mobileBillingStatement", Self::Unknown { resource, .. } => resource } }
    pub fn action(&self) -> &str { match self { Self::TmobileMobileBillingStatementRead(_) => "read", Self::Unknown { action, .. } => action } }
}
impl Serialize for OperationResult {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self { Self::TmobileMobileBillingStatementRead(v) => v.serialize(s), Self::Unknown { data, .. } => data.serialize(s) }
    }
}
/// Decodes an operation's data straight from raw bytes into its generated type.
pub fn decode_result(integration: &str, resource: &str, action: &str, data: &[u8]) -> Result<OperationResult, DecodeError> {
    let err = |path: String, message: String| DecodeError { integration: integration.into(), resource: resource.into(), action: action.into(), path, message, raw: String::from_utf8_lossy(data).into_owned() };
    match (integration, resource, action) {
        ("tmobile", "mobileBillingStatement", "read") => {
            let mut de = serde_json::Deserializer::from_slice(data);
            let v: tmobile::MobileBillingStatementReadResult = serde_path_to_error::deserialize(&mut de).map_err(|e| err(e.path().to_string(), e.inner().to_string()))?;
            Ok(OperationResult::TmobileMobileBillingStatementRead(Box::new(v)))
        }
        _ => {
            let raw: Box<serde_json::value::RawValue> = serde_json::from_slice(data).map_err(|e| err("$".into(), e.to_string()))?;
            Ok(OperationResult::Unknown { integration: integration.into(), resource: resource.into(), action: action.into(), data: raw })
        }
    }
}
