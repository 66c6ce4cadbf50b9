//! What the store's benches share.

use serde_json::value::RawValue;
use wallet_core::engine::Record;

/// The sandbox's holder `i`'s records, `per_holder` of them, as a sync
/// hands them to the store: each one's raw JSON, type and id.
pub fn holder_records(i: usize, per_holder: usize) -> Vec<Record> {
    sandbox::data::holder_data(i, 1, per_holder)
        .resources
        .iter()
        .map(|r| {
            Record::new(
                r["resourceType"].as_str().unwrap().into(),
                r["id"].as_str().map(str::to_string),
                RawValue::from_string(r.to_string()).unwrap(),
            )
        })
        .collect()
}

/// The bench's numeric arguments, each the given default where left out
/// (`cargo bench` adds `--bench`, which is not a number).
pub fn numbers<const N: usize>(defaults: [usize; N]) -> [usize; N] {
    let given: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    std::array::from_fn(|i| given.get(i).copied().unwrap_or(defaults[i]))
}
