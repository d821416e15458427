//! The doordash `orderHistory`/`read` result types as the generator wrote them before open
//! structs: serde's derive with `#[serde(flatten, deserialize_with = "unique_map")] extra`,
//! under the same names (serde's messages name the struct). The reference of the differential
//! test (`open_struct_decoding.rs`) and of the decode benchmark (`benches/decode.rs`); the union
//! `fulfillment` is today's generated type, and `extra` today's `UnknownFields` (what
//! `unique_map` returns).
#![allow(dead_code)]

use std::collections::BTreeMap;

use passage_generated::types::doordash_order_history_read_result::OrderFulfillment;
use passage_generated::UnknownFields;

#[derive(serde::Deserialize, serde::Serialize)]
pub struct OrderHistoryReadResult {
    #[serde(rename = "orderCount")]
    #[serde(deserialize_with = "passage_generated::__private::integer")]
    order_count: i64,
    orders: Vec<Order>,
    #[serde(flatten, deserialize_with = "passage_generated::__private::unique_map")]
    extra: UnknownFields,
}

#[derive(serde::Deserialize, serde::Serialize)]
pub struct Order {
    #[serde(
        rename = "courierNote",
        default,
        deserialize_with = "passage_generated::__private::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    courier_note: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fees: Option<BTreeMap<String, f64>>,
    fulfillment: OrderFulfillment,
    id: String,
    items: Vec<Item>,
    #[serde(rename = "placedAt")]
    placed_at: String,
    store: String,
    total: f64,
    #[serde(flatten, deserialize_with = "passage_generated::__private::unique_map")]
    extra: UnknownFields,
}

#[derive(serde::Deserialize, serde::Serialize)]
pub struct Item {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    modifiers: Option<Vec<Item>>,
    name: String,
    price: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default, deserialize_with = "passage_generated::__private::integer")]
    quantity: Option<i64>,
    #[serde(flatten, deserialize_with = "passage_generated::__private::unique_map")]
    extra: UnknownFields,
}
