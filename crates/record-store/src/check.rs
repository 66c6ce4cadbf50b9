//! A self-check of the store: SQLite's own, and that every derived row
//! (index, full text, groups, per-holder counts) matches the raw records
//! it was made from. What a crash test asserts after a kill.

use super::{RecordStore, StoreError};

/// Each query counts rows that should not exist; its label says what they are.
const ORPHANS: &[(&str, &str)] = &[
    (
        "records without an index entry",
        concat!(
            "SELECT count(*) FROM resources r WHERE NOT EXISTS (SELECT 1 FROM entries e WHERE e.resource = r.rowid) AND ",
            visible!(),
        ),
    ),
    (
        "index entries without their record",
        "SELECT count(*) FROM entries e WHERE NOT EXISTS (SELECT 1 FROM resources r WHERE r.rowid = e.resource)",
    ),
    (
        "full-text rows without their record",
        "SELECT count(*) FROM entries_text t WHERE NOT EXISTS (SELECT 1 FROM resources r WHERE r.rowid = t.rowid)",
    ),
    (
        "entries merged into a group that no longer exists",
        "SELECT count(*) FROM entries e WHERE NOT EXISTS (SELECT 1 FROM entries g WHERE g.resource = e.grp)",
    ),
    (
        "holders whose noted count differs from the records kept",
        "SELECT count(*) FROM syncs s WHERE s.resources != (SELECT count(*) FROM resources r WHERE r.holder = s.holder AND r.ticket_jti = s.ticket_jti)
         AND NOT EXISTS (SELECT 1 FROM staging g WHERE g.holder = s.holder AND g.ticket_jti = s.ticket_jti)",
    ),
];

impl RecordStore {
    /// Everything found wrong with the store; empty when it is whole.
    pub fn check(&self) -> Result<Vec<String>, StoreError> {
        check(&self.conn)
    }
}

fn check(conn: &rusqlite::Connection) -> Result<Vec<String>, StoreError> {
    let mut problems = Vec::new();
    let integrity: Vec<String> = {
        let mut stmt = conn.prepare("PRAGMA integrity_check")?;
        stmt.query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    if integrity != ["ok"] {
        problems.extend(integrity.into_iter().map(|p| format!("integrity: {p}")));
    }
    // FTS5 checks its own index against its content with this special insert.
    if let Err(e) =
        conn.execute_batch("INSERT INTO entries_text (entries_text) VALUES ('integrity-check')")
    {
        problems.push(format!("full-text index: {e}"));
    }
    for (what, sql) in ORPHANS {
        let n: i64 = conn.query_row(sql, [], |r| r.get(0))?;
        if n > 0 {
            problems.push(format!("{n} {what}"));
        }
    }
    // A first sync builds these after its sets; one killed before leaves
    // them to the next sync, and queries scan meanwhile.
    for name in super::deferred::missing(conn)? {
        problems.push(format!(
            "index {name} not built (a sync was interrupted; the next one builds it)"
        ));
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Person;
    use crate::Record;
    use crate::testing::record;
    use vault::DatabaseKey;

    fn shot(id: &str) -> Record {
        record(
            serde_json::json!({ "resourceType": "Immunization", "id": id,
            "identifier": [{ "system": "https://registry.example/immunization", "value": "IMM-1" }],
            "vaccineCode": { "text": "influenza" }, "occurrenceDateTime": "2021-04-20" }),
        )
    }

    #[test]
    fn each_kind_of_damage_is_named() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut s = RecordStore::open(
            &dir.path().join("records.db"),
            &DatabaseKey::from_bytes([8; 32]),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let (a, b) = (shot("a1"), shot("b1"));
        for (holder, r) in [("https://a/fhir", &a), ("https://b/fhir", &b)] {
            s.replace(holder, "t1", &Person::default(), 1, &[r])
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let check = |s: &RecordStore| s.check().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(check(&s), Vec::<String>::new());

        // Each statement damages one derived table the way a half-applied
        // write would; the check names it, and undoing it makes it whole.
        for (damage, named) in [
            (
                "DELETE FROM entries WHERE holder = 'https://b/fhir'",
                "records without an index entry",
            ),
            (
                "DELETE FROM resources WHERE holder = 'https://a/fhir'",
                "index entries without their record",
            ),
            (
                "DELETE FROM resources WHERE holder = 'https://a/fhir'",
                "full-text rows without their record",
            ),
            ("UPDATE syncs SET resources = 5", "noted count differs"),
            (
                "DROP INDEX entries_series",
                "index entries_series not built",
            ),
            (
                "DELETE FROM entries WHERE resource = (SELECT min(grp) FROM entries)",
                "group that no longer exists",
            ),
        ] {
            let tx = s.conn.transaction().unwrap_or_else(|e| panic!("{e}"));
            tx.execute_batch(damage).unwrap_or_else(|e| panic!("{e}"));
            let found = super::check(&tx).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                found.iter().any(|p| p.contains(named)),
                "{damage}: {found:?}"
            );
            tx.rollback().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(check(&s), Vec::<String>::new());
        }
    }
}
