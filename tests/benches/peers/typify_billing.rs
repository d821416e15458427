// Benchmark fixture of `decode_peers` (tests/benches/decode_peers.rs): typify's Rust types for
// the result schema of tmobile `mobileBillingStatement`/`read`. Generated once by the tool and committed; everything
// below this header is the tool's output, unedited. See README.md beside this file to regenerate.
// Tool: cargo-typify 0.8.0 (`cargo install cargo-typify --version '^0.8' --locked --root /tmp/typify-bin`)
// Schema: `tmobile_mobileBillingStatement_read.schema.json` (sha256 e68c2149bacc29e9468f0e59634b3078cd0e50a7c42b7f5b90b303b8019193dd),
//   extracted from catalog/providers.json (sha256 d93a1ea6f8cda646c0c5ec6a792ecd3fc3927476954c1c6470d25198cfa9cd49)
//   with: jq '.providers[] | select(.id == "tmobile") | .resources[] | select(.name == "mobileBillingStatement") | .operations.read.result' catalog/providers.json
// Command: cargo typify --no-builder -o typify_billing.rs tmobile_mobileBillingStatement_read.schema.json

#![allow(clippy::redundant_closure_call)]
#![allow(clippy::needless_lifetimes)]
#![allow(clippy::match_single_binding)]
#![allow(clippy::clone_on_copy)]

#[doc = "`MobileBillingStatements`"]
#[derive(:: serde :: Deserialize, :: serde :: Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct MobileBillingStatements {
    #[doc = "Statements, newest first."]
    pub billing: ::std::vec::Vec<MobileBillingStatementsBillingItem>,
}
#[doc = "`MobileBillingStatementsBillingItem`"]
#[derive(:: serde :: Deserialize, :: serde :: Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct MobileBillingStatementsBillingItem {
    #[doc = "Amount due, in `currency`."]
    #[serde(rename = "amountDue")]
    pub amount_due: f64,
    #[doc = "ISO 4217 code, e.g. USD."]
    pub currency: ::std::string::String,
    #[doc = "Payment due date (MM/DD/YYYY)."]
    #[serde(
        rename = "dueDate",
        skip_serializing_if = "::std::option::Option::is_none"
    )]
    pub due_date: ::std::option::Option<MobileBillingStatementsBillingItemDueDate>,
    #[doc = "Last day of the billing period (MM/DD/YYYY)."]
    #[serde(
        rename = "periodEnd",
        skip_serializing_if = "::std::option::Option::is_none"
    )]
    pub period_end: ::std::option::Option<MobileBillingStatementsBillingItemPeriodEnd>,
    #[doc = "First day of the billing period (MM/DD/YYYY)."]
    #[serde(rename = "periodStart")]
    pub period_start: MobileBillingStatementsBillingItemPeriodStart,
    #[serde(
        rename = "statementId",
        skip_serializing_if = "::std::option::Option::is_none"
    )]
    pub statement_id: ::std::option::Option<::std::string::String>,
}
#[doc = "Payment due date (MM/DD/YYYY)."]
#[derive(:: serde :: Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct MobileBillingStatementsBillingItemDueDate(::std::string::String);
impl ::std::ops::Deref for MobileBillingStatementsBillingItemDueDate {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<MobileBillingStatementsBillingItemDueDate> for ::std::string::String {
    fn from(value: MobileBillingStatementsBillingItemDueDate) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for MobileBillingStatementsBillingItemDueDate {
    type Err = self::error::ConversionError;
    fn from_str(value: &str) -> ::std::result::Result<Self, self::error::ConversionError> {
        static PATTERN: ::std::sync::LazyLock<::regress::Regex> =
            ::std::sync::LazyLock::new(|| ::regress::Regex::new("^\\d{2}/\\d{2}/\\d{4}$").unwrap());
        if PATTERN.find(value).is_none() {
            return Err("doesn't match pattern \"^\\d{2}/\\d{2}/\\d{4}$\"".into());
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for MobileBillingStatementsBillingItemDueDate {
    type Error = self::error::ConversionError;
    fn try_from(value: &str) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for MobileBillingStatementsBillingItemDueDate {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for MobileBillingStatementsBillingItemDueDate {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
#[doc = "Last day of the billing period (MM/DD/YYYY)."]
#[derive(:: serde :: Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct MobileBillingStatementsBillingItemPeriodEnd(::std::string::String);
impl ::std::ops::Deref for MobileBillingStatementsBillingItemPeriodEnd {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<MobileBillingStatementsBillingItemPeriodEnd> for ::std::string::String {
    fn from(value: MobileBillingStatementsBillingItemPeriodEnd) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for MobileBillingStatementsBillingItemPeriodEnd {
    type Err = self::error::ConversionError;
    fn from_str(value: &str) -> ::std::result::Result<Self, self::error::ConversionError> {
        static PATTERN: ::std::sync::LazyLock<::regress::Regex> =
            ::std::sync::LazyLock::new(|| ::regress::Regex::new("^\\d{2}/\\d{2}/\\d{4}$").unwrap());
        if PATTERN.find(value).is_none() {
            return Err("doesn't match pattern \"^\\d{2}/\\d{2}/\\d{4}$\"".into());
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for MobileBillingStatementsBillingItemPeriodEnd {
    type Error = self::error::ConversionError;
    fn try_from(value: &str) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String>
    for MobileBillingStatementsBillingItemPeriodEnd
{
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for MobileBillingStatementsBillingItemPeriodEnd {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
#[doc = "First day of the billing period (MM/DD/YYYY)."]
#[derive(:: serde :: Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
#[serde(transparent)]
pub struct MobileBillingStatementsBillingItemPeriodStart(::std::string::String);
impl ::std::ops::Deref for MobileBillingStatementsBillingItemPeriodStart {
    type Target = ::std::string::String;
    fn deref(&self) -> &::std::string::String {
        &self.0
    }
}
impl ::std::convert::From<MobileBillingStatementsBillingItemPeriodStart> for ::std::string::String {
    fn from(value: MobileBillingStatementsBillingItemPeriodStart) -> Self {
        value.0
    }
}
impl ::std::str::FromStr for MobileBillingStatementsBillingItemPeriodStart {
    type Err = self::error::ConversionError;
    fn from_str(value: &str) -> ::std::result::Result<Self, self::error::ConversionError> {
        static PATTERN: ::std::sync::LazyLock<::regress::Regex> =
            ::std::sync::LazyLock::new(|| ::regress::Regex::new("^\\d{2}/\\d{2}/\\d{4}$").unwrap());
        if PATTERN.find(value).is_none() {
            return Err("doesn't match pattern \"^\\d{2}/\\d{2}/\\d{4}$\"".into());
        }
        Ok(Self(value.to_string()))
    }
}
impl ::std::convert::TryFrom<&str> for MobileBillingStatementsBillingItemPeriodStart {
    type Error = self::error::ConversionError;
    fn try_from(value: &str) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String>
    for MobileBillingStatementsBillingItemPeriodStart
{
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl<'de> ::serde::Deserialize<'de> for MobileBillingStatementsBillingItemPeriodStart {
    fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
    where
        D: ::serde::Deserializer<'de>,
    {
        ::std::string::String::deserialize(deserializer)?
            .parse()
            .map_err(|e: self::error::ConversionError| {
                <D::Error as ::serde::de::Error>::custom(e.to_string())
            })
    }
}
#[doc = " Error types."]
pub mod error {
    #[doc = r" Error from a `TryFrom` or `FromStr` implementation."]
    pub struct ConversionError(::std::borrow::Cow<'static, str>);
    impl ::std::error::Error for ConversionError {}
    impl ::std::fmt::Display for ConversionError {
        fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> Result<(), ::std::fmt::Error> {
            ::std::fmt::Display::fmt(&self.0, f)
        }
    }
    impl ::std::fmt::Debug for ConversionError {
        fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> Result<(), ::std::fmt::Error> {
            ::std::fmt::Debug::fmt(&self.0, f)
        }
    }
    impl From<&'static str> for ConversionError {
        fn from(value: &'static str) -> Self {
            Self(value.into())
        }
    }
    impl From<String> for ConversionError {
        fn from(value: String) -> Self {
            Self(value.into())
        }
    }
}
