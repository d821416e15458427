// Benchmark fixture of `decode_peers` (tests/benches/decode_peers.rs): quicktype's Rust types for
// the result schema of tmobile `mobileBillingStatement`/`read`. Generated once by the tool and committed; everything
// below this header is the tool's output, unedited. See README.md beside this file to regenerate.
// Tool: quicktype 26.0.0 (`npm install quicktype` in /tmp/qt; node v20.20.2)
// Schema: `tmobile_mobileBillingStatement_read.schema.json` (sha256 e68c2149bacc29e9468f0e59634b3078cd0e50a7c42b7f5b90b303b8019193dd),
//   extracted from catalog/providers.json (sha256 d93a1ea6f8cda646c0c5ec6a792ecd3fc3927476954c1c6470d25198cfa9cd49)
//   with: jq '.providers[] | select(.id == "tmobile") | .resources[] | select(.name == "mobileBillingStatement") | .operations.read.result' catalog/providers.json
// Command: npx quicktype -s schema -l rust --visibility public --derive-debug --top-level MobileBillingStatement -o quicktype_billing.rs tmobile_mobileBillingStatement_read.schema.json

// Example code that deserializes and serializes the model.
// extern crate serde;
// #[macro_use]
// extern crate serde_derive;
// extern crate serde_json;
//
// use generated_module::MobileBillingStatement;
//
// fn main() {
//     let json = r#"{"answer": 42}"#;
//     let model: MobileBillingStatement = serde_json::from_str(&json).unwrap();
// }

use serde::{Serialize, Deserialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MobileBillingStatement {
    /// Statements, newest first.
    pub billing: Vec<Billing>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Billing {
    /// Amount due, in `currency`.
    pub amount_due: f64,

    /// ISO 4217 code, e.g. USD.
    pub currency: String,

    /// Payment due date (MM/DD/YYYY).
    pub due_date: Option<String>,

    /// Last day of the billing period (MM/DD/YYYY).
    pub period_end: Option<String>,

    /// First day of the billing period (MM/DD/YYYY).
    pub period_start: String,

    pub statement_id: Option<String>,
}
