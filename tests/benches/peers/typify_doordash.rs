// Benchmark fixture of `decode_peers` (tests/benches/decode_peers.rs): typify's Rust types for
// the result schema of doordash `orderHistory`/`read`. Generated once by the tool and committed; everything
// below this header is the tool's output, unedited. See README.md beside this file to regenerate.
// Tool: cargo-typify 0.8.0 (`cargo install cargo-typify --version '^0.8' --locked --root /tmp/typify-bin`)
// Schema: `doordash_orderHistory_read.schema.json` (sha256 9a642a051539cf1a1e1f915ab634bc83a435abd1dc13334622970d4ea8c02d05),
//   extracted from catalog/providers.json (sha256 d93a1ea6f8cda646c0c5ec6a792ecd3fc3927476954c1c6470d25198cfa9cd49)
//   with: jq '.providers[] | select(.id == "doordash") | .resources[] | select(.name == "orderHistory") | .operations.read.result' catalog/providers.json
// Command: cargo typify --no-builder -o typify_doordash.rs doordash_orderHistory_read.schema.json

#![allow(clippy::redundant_closure_call)]
#![allow(clippy::needless_lifetimes)]
#![allow(clippy::match_single_binding)]
#![allow(clippy::clone_on_copy)]

#[doc = "`DoorDashOrderHistory`"]
#[derive(:: serde :: Deserialize, :: serde :: Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct DoorDashOrderHistory {
    #[serde(rename = "orderCount")]
    pub order_count: i64,
    pub orders: ::std::vec::Vec<Order>,
}
#[doc = "`Item`"]
#[derive(:: serde :: Deserialize, :: serde :: Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct Item {
    #[doc = "Options chosen for this item; themselves items."]
    #[serde(default, skip_serializing_if = "::std::vec::Vec::is_empty")]
    pub modifiers: ::std::vec::Vec<Item>,
    pub name: ::std::string::String,
    pub price: f64,
    #[serde(default = "defaults::default_nzu64::<::std::num::NonZeroU64, 1>")]
    pub quantity: ::std::num::NonZeroU64,
}
#[doc = "`Order`"]
#[derive(:: serde :: Deserialize, :: serde :: Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct Order {
    #[serde(
        rename = "courierNote",
        skip_serializing_if = "::std::option::Option::is_none"
    )]
    pub courier_note: ::std::option::Option<::std::string::String>,
    #[doc = "Fees by name (service, delivery, ...)."]
    #[serde(
        default,
        skip_serializing_if = ":: std :: collections :: HashMap::is_empty"
    )]
    pub fees: ::std::collections::HashMap<::std::string::String, f64>,
    pub fulfillment: OrderFulfillment,
    pub id: ::uuid::Uuid,
    pub items: ::std::vec::Vec<Item>,
    #[serde(rename = "placedAt")]
    pub placed_at: ::chrono::DateTime<::chrono::offset::Utc>,
    pub store: ::std::string::String,
    pub total: f64,
}
#[doc = "`OrderFulfillment`"]
#[derive(:: serde :: Deserialize, :: serde :: Serialize, Clone, Debug)]
#[serde(tag = "kind", deny_unknown_fields)]
pub enum OrderFulfillment {
    #[serde(rename = "delivery")]
    Delivery {
        address: ::std::string::String,
        #[serde(
            rename = "deliveredAt",
            deserialize_with = "::std::option::Option::deserialize"
        )]
        delivered_at: ::std::option::Option<::chrono::DateTime<::chrono::offset::Utc>>,
    },
    #[serde(rename = "pickup")]
    Pickup {
        #[serde(rename = "readyAt")]
        ready_at: ::chrono::DateTime<::chrono::offset::Utc>,
    },
}
#[doc = " Generation of default values for serde."]
pub mod defaults {
    pub(super) fn default_nzu64<T, const V: u64>() -> T
    where
        T: ::std::convert::TryFrom<::std::num::NonZeroU64>,
        <T as ::std::convert::TryFrom<::std::num::NonZeroU64>>::Error: ::std::fmt::Debug,
    {
        T::try_from(::std::num::NonZeroU64::try_from(V).unwrap()).unwrap()
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
