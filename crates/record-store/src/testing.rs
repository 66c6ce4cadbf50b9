//! What this crate's unit tests share.

use std::collections::HashMap;

use crate::{Record, RecordStore, StoreError};

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

/// Each group as the holders' records it joins, and its conflict flag, in
/// a fixed order. A record is known by its content without its id: two
/// equal readings at one holder are interchangeable (which of them meets
/// another holder's first reading depends on the order they came in).
/// A group: whether it is flagged, and its members (holder, type, content).
pub(crate) type Group = (bool, Vec<(String, String, Option<String>)>);

pub(crate) fn partition(s: &RecordStore) -> Vec<Group> {
    let mut stmt = ok(s
        .conn
        .prepare(
            "SELECT e.grp, e.conflict, e.holder, e.resource_type, json_remove(r.json, '$.id')
             FROM entries e JOIN resources r ON r.rowid = e.resource",
        )
        .map_err(StoreError::from));
    let rows: Vec<(i64, bool, String, String, Option<String>)> = ok(stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .and_then(|rows| rows.collect())
        .map_err(StoreError::from));
    let mut groups: HashMap<i64, Group> = HashMap::new();
    for (grp, conflict, holder, ty, id) in rows {
        let g = groups.entry(grp).or_default();
        g.0 |= conflict;
        g.1.push((holder, ty, id));
    }
    let mut out: Vec<_> = groups
        .into_values()
        .map(|(c, mut members)| {
            members.sort();
            (c, members)
        })
        .collect();
    out.sort();
    out
}
