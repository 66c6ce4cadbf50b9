//! Recognising one clinical fact that several holders report.
//!
//! Every index row gets match keys, always within one person:
//! - the same resource at the same holder (two tickets fetched it twice);
//! - each business identifier (`system` and `value`);
//! - its content: type, code, clinically relevant day, value and unit, for
//!   types that state a fact (a diagnosis, a result, a dose given). Encounters
//!   and documents are events that can happen twice a day with the same code,
//!   so they merge only by identifier.
//!
//! Rows that share a key, directly or through others, are one group, shown
//! once with every source. Two readings with the same value on the same day
//! at one holder are two readings, not one: a content key counts repeats
//! within a holder's set, so the first such reading of each holder meets the
//! first of every other, the second the second, and so on. A group whose
//! copies disagree on code, day, value or unit (they were linked by an
//! identifier) is a conflict: every copy is kept and the group is flagged.

use crate::fast::Map;

use sha2::{Digest, Sha256};

use super::extract::Entry;
use crate::tree::Tree;

/// Types whose code + day + value identify the fact across holders.
const MERGED_BY_CONTENT: [&str; 8] = [
    "Condition",
    "Observation",
    "DiagnosticReport",
    "MedicationRequest",
    "MedicationStatement",
    "AllergyIntolerance",
    "Immunization",
    "Procedure",
];

/// A stable 64-bit digest of `parts` (keys are stored and compared as integers).
fn digest(parts: &[&str]) -> i64 {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0x1f]);
    }
    let out = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&out[..8]);
    i64::from_le_bytes(first)
}

fn number(v: Option<f64>) -> String {
    // 7.4 and 7.40 are one value; serde already parsed both to the same f64.
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// Where a row came from, as far as matching is concerned.
pub struct Origin<'a> {
    pub person: i64,
    pub holder: &'a str,
    pub resource_type: &'a str,
    pub resource_id: Option<&'a str>,
}

/// A record's business identifiers (`system`, `value`), trimmed; those
/// without a system or with an empty value are left out.
pub fn identifiers<T: Tree>(r: &T) -> Vec<(String, String)> {
    r.key("identifier")
        .list()
        .into_iter()
        .flatten()
        .filter_map(|ident| {
            let system = ident.key("system").str()?.trim();
            let value = ident.key("value").str()?.trim();
            (!value.is_empty()).then(|| (system.to_string(), value.to_string()))
        })
        .collect()
}

/// The keys that do not depend on where a record sits in its set: the
/// same resource at the same holder, and each business identifier.
pub fn fixed_keys(o: &Origin<'_>, identifiers: &[(String, String)]) -> Vec<i64> {
    let person = o.person.to_string();
    let mut keys = Vec::new();
    if let Some(id) = o.resource_id {
        keys.push(digest(&["at", &person, o.holder, o.resource_type, id]));
    }
    for (system, value) in identifiers {
        keys.push(digest(&["id", &person, o.resource_type, system, value]));
    }
    keys
}

/// What a fact-stating record (indexed as `e`) is matched by across
/// holders, before its repeats are numbered: `None` for other types, or
/// without a code and a day.
pub fn content(o: &Origin<'_>, e: &Entry) -> Option<i64> {
    if !MERGED_BY_CONTENT.contains(&o.resource_type) {
        return None;
    }
    let (Some(code), Some(date)) = (&e.code, &e.date) else {
        return None;
    };
    Some(digest(&[
        "content",
        &o.person.to_string(),
        o.resource_type,
        e.code_system.as_deref().unwrap_or_default(),
        code,
        date,
        &number(e.value),
        e.unit.as_deref().unwrap_or_default(),
    ]))
}

/// The content key of the `n`th reading (from 0) of `content` in one
/// holder's set: the first meets the first of another holder, the second
/// the second. It is always a row's last key.
pub fn numbered(content: i64, n: u32) -> i64 {
    digest(&[&content.to_string(), &n.to_string()])
}

/// What copies of one fact must agree on.
pub fn fingerprint(e: &Entry) -> i64 {
    digest(&[
        e.code_system.as_deref().unwrap_or_default(),
        e.code.as_deref().unwrap_or_default(),
        e.date.as_deref().unwrap_or_default(),
        &number(e.value),
        e.unit.as_deref().unwrap_or_default(),
    ])
}

/// Union-find over rows, joined by shared keys.
#[derive(Default)]
pub struct Groups {
    parent: Map<i64, i64>,
    by_key: Map<i64, i64>,
}

impl Groups {
    fn find(&mut self, row: i64) -> i64 {
        let mut root = row;
        while let Some(&p) = self.parent.get(&root) {
            if p == root {
                break;
            }
            root = p;
        }
        // Path compression keeps later finds short.
        let mut at = row;
        while at != root {
            let next = self.parent.get(&at).copied().unwrap_or(root);
            self.parent.insert(at, root);
            at = next;
        }
        root
    }

    fn union(&mut self, a: i64, b: i64) {
        let (ra, rb) = (self.find(a), self.find(b));
        // The lowest row id names the group: stable whatever order rows come in.
        let (keep, other) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.parent.insert(other, keep);
    }

    /// Adds a row, alone.
    pub fn row(&mut self, row: i64) {
        self.parent.entry(row).or_insert(row);
    }

    /// Adds one of `row`'s keys, joining it to every row seen with that key.
    pub fn add(&mut self, row: i64, key: i64) {
        self.row(row);
        match self.by_key.get(&key) {
            Some(&first) => self.union(first, row),
            None => {
                self.by_key.insert(key, row);
            }
        }
    }

    /// Every row added, with its group (the lowest row id among those joined to it).
    pub fn assignments(mut self) -> Vec<(i64, i64)> {
        let rows: Vec<i64> = self.parent.keys().copied().collect();
        rows.into_iter().map(|r| (r, self.find(r))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::extract;
    use serde_json::{Value, json};

    /// A record's keys as the first of its content in its set.
    fn keys_of(person: i64, holder: &str, r: &Value) -> Vec<i64> {
        let o = Origin {
            person,
            holder,
            resource_type: r["resourceType"].as_str().unwrap_or_default(),
            resource_id: r["id"].as_str(),
        };
        let mut keys = fixed_keys(&o, &identifiers(r));
        keys.extend(content(&o, &extract(r)).map(|c| numbered(c, 0)));
        keys
    }

    fn shares(a: &[i64], b: &[i64]) -> bool {
        a.iter().any(|k| b.contains(k))
    }

    fn a1c(id: &str, date: &str, value: f64) -> Value {
        json!({ "resourceType": "Observation", "id": id,
            "code": { "coding": [{ "system": "http://loinc.org", "code": "4548-4" }] },
            "effectiveDateTime": date, "valueQuantity": { "value": value, "unit": "%" } })
    }

    #[test]
    fn the_same_result_at_two_holders_shares_a_key_and_a_different_one_does_not() {
        let a = keys_of(1, "https://a/fhir", &a1c("x", "2023-06-01T08:00:00Z", 7.4));
        let b = keys_of(1, "https://b/fhir", &a1c("y", "2023-06-01", 7.40));
        assert!(shares(&a, &b), "same test, day and value");
        let other_value = keys_of(1, "https://b/fhir", &a1c("y", "2023-06-01", 7.9));
        assert!(!shares(&a, &other_value));
        let other_person = keys_of(2, "https://b/fhir", &a1c("y", "2023-06-01", 7.4));
        assert!(
            !shares(&a, &other_person),
            "a caregiver's two people never merge"
        );
    }

    #[test]
    fn encounters_merge_only_by_identifier() {
        let visit = |id: &str, ident: Option<&str>| {
            let mut v = json!({ "resourceType": "Encounter", "id": id,
                "type": [{ "coding": [{ "system": "http://snomed.info/sct", "code": "185349003" }] }],
                "period": { "start": "2024-01-02T09:00:00Z" } });
            if let Some(i) = ident {
                v["identifier"] = json!([{ "system": "urn:visit", "value": i }]);
            }
            v
        };
        assert!(!shares(
            &keys_of(1, "https://a/fhir", &visit("e1", None)),
            &keys_of(1, "https://b/fhir", &visit("e2", None))
        ));
        assert!(shares(
            &keys_of(1, "https://a/fhir", &visit("e1", Some("V1"))),
            &keys_of(1, "https://b/fhir", &visit("e2", Some("V1")))
        ));
    }

    #[test]
    fn groups_join_through_any_shared_key_and_are_named_by_their_lowest_row() {
        let mut g = Groups::default();
        // 5 and 9 share key 100; 9 and 3 share key 200; 7 stands alone.
        for (row, key) in [(5, 100), (9, 100), (9, 200), (3, 200)] {
            g.add(row, key);
        }
        g.row(7);
        let mut got = g.assignments();
        got.sort();
        assert_eq!(got, vec![(3, 3), (5, 3), (7, 7), (9, 3)]);
    }

    #[test]
    fn equal_readings_meet_across_holders_never_within_one() {
        let reading = |id: &str| a1c(id, "2023-06-01", 7.4);
        let set = |holder: &str, ids: &[&str]| {
            ids.iter()
                .enumerate()
                .map(|(n, id)| {
                    let r = reading(id);
                    let o = Origin {
                        person: 1,
                        holder,
                        resource_type: "Observation",
                        resource_id: Some(id),
                    };
                    let mut keys = fixed_keys(&o, &identifiers(&r));
                    keys.extend(content(&o, &extract(&r)).map(|c| numbered(c, n as u32)));
                    keys
                })
                .collect::<Vec<_>>()
        };
        // Holder a measured the same value twice that day, b once.
        let a = set("https://a/fhir", &["a1", "a2"]);
        let b = set("https://b/fhir", &["b1"]);
        assert!(!shares(&a[0], &a[1]), "two readings at one holder");
        assert!(shares(&a[0], &b[0]));
        assert!(!shares(&a[1], &b[0]));
    }
}
