// Benchmark fixture of `decode_peers` (tests/benches/decode_peers.rs): quicktype's Rust types for
// the result schema of doordash `orderHistory`/`read`. Generated once by the tool and committed; everything
// below this header is the tool's output, unedited. See README.md beside this file to regenerate.
// Tool: quicktype 26.0.0 (`npm install quicktype` in /tmp/qt; node v20.20.2)
// Schema: `doordash_orderHistory_read.schema.json` (sha256 9a642a051539cf1a1e1f915ab634bc83a435abd1dc13334622970d4ea8c02d05),
//   extracted from catalog/providers.json (sha256 d93a1ea6f8cda646c0c5ec6a792ecd3fc3927476954c1c6470d25198cfa9cd49)
//   with: jq '.providers[] | select(.id == "doordash") | .resources[] | select(.name == "orderHistory") | .operations.read.result' catalog/providers.json
// Command: npx quicktype -s schema -l rust --visibility public --derive-debug --top-level DoorDashOrderHistory -o quicktype_doordash.rs doordash_orderHistory_read.schema.json

// Example code that deserializes and serializes the model.
// extern crate serde;
// #[macro_use]
// extern crate serde_derive;
// extern crate serde_json;
//
// use generated_module::DoorDashOrderHistory;
//
// fn main() {
//     let json = r#"{"answer": 42}"#;
//     let model: DoorDashOrderHistory = serde_json::from_str(&json).unwrap();
// }

use serde::{Serialize, Deserialize};
use std::collections::HashMap;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DoorDashOrderHistory {
    pub order_count: i64,

    pub orders: Vec<OrderElement>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderElement {
    pub courier_note: Option<String>,

    /// Fees by name (service, delivery, ...).
    pub fees: Option<HashMap<String, f64>>,

    pub fulfillment: Fulfillment,

    pub id: String,

    pub items: Vec<ItemElement>,

    pub placed_at: String,

    pub store: String,

    pub total: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fulfillment {
    pub address: Option<String>,

    pub delivered_at: Option<String>,

    pub kind: Kind,

    pub ready_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Delivery,

    Pickup,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemElement {
    /// Options chosen for this item; themselves items.
    pub modifiers: Option<Vec<ItemElement>>,

    pub name: String,

    pub price: f64,

    pub quantity: Option<i64>,
}
