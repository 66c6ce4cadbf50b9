//! What this crate's unit tests share.

use crate::{Record, StoreError};

/// The value, or the test fails with the store's message.
pub(crate) fn ok<T>(r: Result<T, StoreError>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// A record as a holder would send `json`, with its type and id read from it.
pub(crate) fn record(json: serde_json::Value) -> Record {
    Record::new(
        json["resourceType"].as_str().unwrap_or_default().into(),
        json["id"].as_str().map(str::to_string),
        serde_json::value::RawValue::from_string(json.to_string())
            .unwrap_or_else(|e| panic!("{e}")),
    )
}
