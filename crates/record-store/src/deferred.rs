//! Indexes of the record view that a store's first sync builds once, after
//! its sets, rather than row by row: written into an empty store, each
//! holder's transaction would otherwise insert every row into each of them
//! and commit their pages again, holder after holder. The view stays
//! correct without them (its queries scan `entries`), only slower, and no
//! write of a set reads them.

use rusqlite::Connection;

use super::{RecordStore, StoreError};

/// Each index as the schema's migrations create it (4 and 17), in the order
/// `build_indexes` builds them. By group first: the timeline, a category and
/// a search read each fact's copies by it, and without it scan `entries` a
/// second time. Then the chart index: without it a chart and a section's
/// latest values scan `entries` and sort what they found, and once the index
/// by date is there SQLite walks every dated row by it to find a chart's,
/// looking each one up (slower than the scan); the timeline and a category
/// meanwhile scan `entries` only once. Those the view's queries name
/// (`INDEXED BY`) are never deferred.
pub(crate) const DEFERRED: [(&str, &str); 4] = [
    (
        "entries_by_group",
        "CREATE INDEX entries_by_group ON entries (grp)",
    ),
    (
        "entries_series",
        "CREATE INDEX entries_series ON entries
        (code, date, grp, resource, value, unit, holder, conflict, ref_low, ref_high, person, category)
        WHERE value IS NOT NULL AND date IS NOT NULL",
    ),
    (
        "entries_by_date",
        "CREATE INDEX entries_by_date ON entries (date)",
    ),
    (
        "entries_by_category",
        "CREATE INDEX entries_by_category ON entries (category, date)",
    ),
];

/// The names of the deferred indexes the store lacks.
pub(crate) fn missing(conn: &Connection) -> Result<Vec<&'static str>, StoreError> {
    let mut out = Vec::new();
    for (name, _) in DEFERRED {
        if !built(conn, name)? {
            out.push(name);
        }
    }
    Ok(out)
}

/// Whether the index `name` is there (a deferred one may not be yet).
pub(crate) fn built(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM sqlite_schema WHERE type = 'index' AND name = ?1")?
        .exists([name])?)
}

impl RecordStore {
    /// Before a sync writes: in a store with no record yet, drops the
    /// indexes `build_indexes` makes again once the sync's sets are
    /// written; says whether it did. In any other store it builds those
    /// missing (left so by a sync that was killed), as rows then go in one
    /// by one.
    pub fn defer_indexes(&mut self) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        let empty: bool = tx.query_row("SELECT NOT EXISTS (SELECT 1 FROM entries)", [], |r| {
            r.get(0)
        })?;
        if !empty {
            drop(tx);
            self.build_indexes()?;
            return Ok(false);
        }
        for (name, _) in DEFERRED {
            tx.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))?;
        }
        tx.commit()?;
        Ok(true)
    }

    /// Builds those of the deferred indexes that are missing, each committed
    /// on its own so the view's queries use it from then on (`DEFERRED`'s
    /// order); returns how many.
    pub fn build_indexes(&mut self) -> Result<usize, StoreError> {
        self.build_indexes_then(|_, _| {})
    }

    /// `build_indexes`, calling `then` with each index's name once it is
    /// committed (the store bench times the view's queries in between).
    #[doc(hidden)]
    pub fn build_indexes_then(
        &mut self,
        mut then: impl FnMut(&str, &Self),
    ) -> Result<usize, StoreError> {
        let mut count = 0;
        for (name, sql) in DEFERRED {
            let tx = self.conn.transaction()?;
            if built(&tx, name)? {
                continue;
            }
            tx.execute_batch(sql)?;
            tx.commit()?;
            count += 1;
            then(name, self);
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ok, record};
    use crate::{Person, Query, Record};
    use vault::DatabaseKey;

    fn a1c(id: &str, day: &str, value: f64) -> Record {
        record(serde_json::json!({ "resourceType": "Observation", "id": id,
            "category": [{ "coding": [{ "code": "laboratory" }] }],
            "code": { "coding": [{ "system": "http://loinc.org", "code": "4548-4" }], "text": "Hemoglobin A1c" },
            "effectiveDateTime": day, "valueQuantity": { "value": value, "unit": "%" } }))
    }

    /// The deferred indexes' definitions as stored, by name.
    fn definitions(s: &RecordStore) -> Vec<(String, Option<String>)> {
        let names: Vec<&str> = DEFERRED.iter().map(|(n, _)| *n).collect();
        let mut stmt = ok(s
            .conn
            .prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'index' ORDER BY name")
            .map_err(StoreError::from));
        let rows = ok(stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(StoreError::from));
        rows.into_iter()
            .filter(|(n, _)| names.contains(&n.as_str()))
            .collect()
    }

    /// What the record view shows: the timeline, a chart, a search, the
    /// sections, a section's latest values.
    fn view(s: &RecordStore) -> String {
        let q = Query {
            limit: 10,
            ..Query::default()
        };
        format!(
            "{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
            ok(s.timeline(&q)),
            ok(s.series("4548-4", None)),
            ok(s.search("a1c", &q)),
            ok(s.category_counts(None)),
            ok(s.latest_values("labs", None)),
        )
    }

    #[test]
    fn a_first_sync_writes_without_the_deferred_indexes_and_builds_them_as_migrated() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let key = DatabaseKey::from_bytes([5; 32]);
        let mut deferred = ok(RecordStore::open(&dir.path().join("deferred.db"), &key));
        let mut kept = ok(RecordStore::open(&dir.path().join("kept.db"), &key));
        let migrated = definitions(&kept);
        assert_eq!(migrated.len(), DEFERRED.len());

        assert!(ok(deferred.defer_indexes()), "an empty store defers");
        assert!(
            definitions(&deferred).is_empty(),
            "{:?}",
            definitions(&deferred)
        );
        // Two holders with one reading in common: copies merge without the indexes.
        let (x, y, z) = (
            a1c("x", "2024-01-05", 6.1),
            a1c("y", "2024-04-05", 6.4),
            a1c("z", "2024-07-05", 6.0),
        );
        // Sent newest first: read without an index, rows come as written.
        for s in [&mut deferred, &mut kept] {
            ok(s.replace("https://a/fhir", "t1", &Person::default(), 1, &[&y, &x]));
            ok(s.replace("https://b/fhir", "t1", &Person::default(), 1, &[&z, &y]));
        }
        for s in [&deferred, &kept] {
            let chart: Vec<(String, usize)> = ok(s.series("4548-4", None))
                .into_iter()
                .map(|p| (p.date, p.holders.len()))
                .collect();
            assert_eq!(
                chart,
                [
                    ("2024-01-05".into(), 1),
                    ("2024-04-05".into(), 2),
                    ("2024-07-05".into(), 1)
                ],
                "oldest first, the copies of one reading one point"
            );
        }
        assert_eq!(view(&deferred), view(&kept), "the view is right meanwhile");

        assert_eq!(ok(deferred.build_indexes()), DEFERRED.len());
        assert_eq!(
            definitions(&deferred),
            migrated,
            "built as the migrations made them"
        );
        assert_eq!(view(&deferred), view(&kept));
        assert_eq!(ok(deferred.check()), Vec::<String>::new());
        assert_eq!(ok(deferred.build_indexes()), 0, "nothing left to build");

        // A store with records never defers; one a killed sync left without
        // them gets them back before rows go in one by one.
        assert!(!ok(deferred.defer_indexes()));
        assert_eq!(definitions(&deferred), migrated);
        for (name, _) in DEFERRED {
            ok(deferred
                .conn
                .execute_batch(&format!("DROP INDEX {name}"))
                .map_err(StoreError::from));
        }
        assert!(!ok(deferred.defer_indexes()));
        assert_eq!(definitions(&deferred), migrated);
    }

    #[test]
    fn each_index_is_committed_as_it_is_built_by_group_first_then_the_chart_s() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let key = DatabaseKey::from_bytes([5; 32]);
        let path = dir.path().join("records.db");
        let mut s = ok(RecordStore::open(&path, &key));
        assert!(ok(s.defer_indexes()));
        let x = a1c("x", "2024-01-05", 6.1);
        ok(s.replace("https://a/fhir", "t1", &Person::default(), 1, &[&x]));
        // What a reader on another connection (the app's view) finds after each.
        let reader = ok(RecordStore::open(&path, &key));
        let mut seen: Vec<(String, Vec<&str>)> = Vec::new();
        let count = ok(s.build_indexes_then(|name, _| {
            let there = DEFERRED
                .iter()
                .map(|(n, _)| *n)
                .filter(|n| ok(built(&reader.conn, n)))
                .collect();
            seen.push((name.into(), there));
        }));
        assert_eq!(count, DEFERRED.len());
        assert_eq!(
            seen.first(),
            Some(&("entries_by_group".into(), vec!["entries_by_group"]))
        );
        assert_eq!(
            seen.get(1),
            Some(&(
                "entries_series".into(),
                vec!["entries_by_group", "entries_series"]
            ))
        );
        assert_eq!(
            seen.iter()
                .map(|(_, there)| there.len())
                .collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
    }
}
