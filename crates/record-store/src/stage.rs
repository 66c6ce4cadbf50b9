//! A set's records written while the rest of the set downloads: raw rows
//! only, out of every query and count until the set's own transaction
//! (`replace_prepared`) takes them in. A set still appears whole or not at
//! all, and its largest part, the JSON, is written once, before the holder
//! finishes rather than after.
//!
//! A set is staged only while it has no record stored: every row of a set
//! named in `staging` is a staged one, so readers leave such sets out
//! (`visible!`). A staged row has no index entry; `replace_prepared` keeps
//! each staged row whose digest matches a record of the set it writes, and
//! deletes the others.

use rusqlite::params;

use super::{Record, RecordStore, StoreError};

/// Pages of sets not stored yet, written in one transaction: a sync's
/// writer stages whatever pages have arrived at once, rather than paying a
/// commit per page.
pub struct Staging<'a>(Option<rusqlite::Transaction<'a>>);

impl Staging<'_> {
    /// Writes `records` of `holder`'s set for `ticket_jti` as raw rows.
    /// Returns false, writing nothing, for a set that has records stored:
    /// its records are written with the set, by `replace_prepared`.
    pub fn page(
        &mut self,
        holder: &str,
        ticket_jti: &str,
        fetched_at: i64,
        records: &[&Record],
    ) -> Result<bool, StoreError> {
        let Some(tx) = &self.0 else {
            return Ok(false);
        };
        if records.is_empty() {
            return Ok(true);
        }
        let began = tx
            .prepare_cached(
                "INSERT INTO staging (holder, ticket_jti) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            )?
            .execute(params![holder, ticket_jti])?
            == 1;
        if began {
            let stored: bool = tx
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM resources r JOIN entries e ON e.resource = r.rowid
                     WHERE r.holder = ?1 AND r.ticket_jti = ?2)",
                )?
                .query_row(params![holder, ticket_jti], |r| r.get(0))?;
            if stored {
                end(tx, holder, ticket_jti)?;
                return Ok(false);
            }
        }
        let mut rows = crate::replace::RowWriter::new(tx)?;
        for r in records {
            rows.insert(holder, ticket_jti, fetched_at, r)?;
        }
        Ok(true)
    }

    pub fn commit(mut self) -> Result<(), StoreError> {
        if let Some(tx) = self.0.take() {
            restore_cache(&tx)?;
            tx.commit()?;
        }
        Ok(())
    }
}

impl Drop for Staging<'_> {
    fn drop(&mut self) {
        if let Some(tx) = &self.0 {
            let _ = restore_cache(tx);
        }
    }
}

/// The cache's size back for the sets' own transactions (it grows again
/// only as they read).
fn restore_cache(conn: &rusqlite::Connection) -> Result<(), StoreError> {
    conn.execute_batch(&format!("PRAGMA cache_size = -{}", crate::CACHE_KIB))?;
    Ok(())
}

/// SQLite's page cache while pages are staged, in KiB. Staging appends, so
/// it needs few pages, and it runs while every holder's records are still
/// in memory: SQLite's share stays small until the sets' transactions.
const STAGING_CACHE_KIB: u32 = 2 * 1024;

impl RecordStore {
    /// Begins writing pages of sets still downloading (`Staging::page`).
    pub fn staging(&mut self) -> Result<Staging<'_>, StoreError> {
        self.conn
            .execute_batch(&format!("PRAGMA cache_size = -{STAGING_CACHE_KIB}"))?;
        Ok(Staging(Some(self.conn.transaction()?)))
    }

    /// Rows written for sets not stored yet: by a sync under way, or left by
    /// one cut short (the next sync of their set, or a rebuild, removes them).
    pub fn staged_rows(&self) -> Result<usize, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM resources WHERE (holder, ticket_jti) IN (SELECT holder, ticket_jti FROM staging)",
            [],
            |r| r.get(0),
        )?;
        Ok(n as usize)
    }

    /// Removes what `stage` wrote for a set that will not be written (its
    /// holder failed, or the sync was cancelled); returns how many rows.
    pub fn discard_staged(&mut self, holder: &str, ticket_jti: &str) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
        let removed = discard(&tx, holder, ticket_jti)?;
        tx.commit()?;
        Ok(removed)
    }
}

/// Deletes a set's staged rows, if it is being staged, and its mark.
fn discard(
    tx: &rusqlite::Transaction<'_>,
    holder: &str,
    ticket_jti: &str,
) -> Result<usize, StoreError> {
    let staging = tx
        .prepare_cached("DELETE FROM staging WHERE holder = ?1 AND ticket_jti = ?2")?
        .execute(params![holder, ticket_jti])?;
    if staging == 0 {
        return Ok(0);
    }
    Ok(tx
        .prepare_cached(
            "DELETE FROM resources WHERE holder = ?1 AND ticket_jti = ?2
             AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.resource = resources.rowid)",
        )?
        .execute(params![holder, ticket_jti])?)
}

/// Deletes every staged set (before the index is rebuilt from every row).
pub(crate) fn discard_all(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(
        "DELETE FROM resources WHERE (holder, ticket_jti) IN (SELECT holder, ticket_jti FROM staging);
         DELETE FROM staging;",
    )?;
    Ok(())
}

/// Ends a set's staging inside the transaction that writes it; true if it
/// was being staged.
pub(crate) fn end(
    tx: &rusqlite::Transaction<'_>,
    holder: &str,
    ticket_jti: &str,
) -> Result<bool, StoreError> {
    Ok(tx
        .prepare_cached("DELETE FROM staging WHERE holder = ?1 AND ticket_jti = ?2")?
        .execute(params![holder, ticket_jti])?
        == 1)
}

/// A staged set's rows, each with its digest, from the set's index alone.
pub(crate) fn rows(
    tx: &rusqlite::Transaction<'_>,
    holder: &str,
    ticket_jti: &str,
) -> Result<Vec<(i64, [u8; 32])>, StoreError> {
    let mut stmt = tx.prepare_cached(
        "SELECT rowid, digest FROM resources INDEXED BY resources_by_source
         WHERE holder = ?1 AND ticket_jti = ?2",
    )?;
    let rows = stmt.query_map(params![holder, ticket_jti], |r| {
        let digest: Option<Vec<u8>> = r.get(1)?;
        Ok((
            r.get(0)?,
            digest
                .and_then(|d| <[u8; 32]>::try_from(d.as_slice()).ok())
                .unwrap_or_default(),
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Person;
    use crate::testing::{ok, partition, record};
    use vault::DatabaseKey;

    const A: &str = "https://a/fhir";
    const B: &str = "https://b/fhir";

    fn shot(id: &str, imm: &str, date: &str) -> Record {
        record(
            serde_json::json!({ "resourceType": "Immunization", "id": id,
            "identifier": [{ "system": "https://registry.example/immunization", "value": imm }],
            "vaccineCode": { "coding": [{ "system": "http://hl7.org/fhir/sid/cvx", "code": "208" }] },
            "occurrenceDateTime": date }),
        )
    }

    fn patient(id: &str) -> Record {
        record(serde_json::json!({ "resourceType": "Patient", "id": id,
            "name": [{ "family": "Rivera", "given": ["Ana"] }], "birthDate": "1980-02-03" }))
    }

    /// One page staged in a transaction of its own.
    fn stage(s: &mut RecordStore, holder: &str, at: i64, records: &[&Record]) -> bool {
        let mut staging = ok(s.staging());
        let staged = ok(staging.page(holder, "t1", at, records));
        ok(staging.commit());
        staged
    }

    fn open(dir: &tempfile::TempDir, name: &str) -> RecordStore {
        ok(RecordStore::open(
            &dir.path().join(name),
            &DatabaseKey::from_bytes([5; 32]),
        ))
    }

    /// Each row of `holder` as (id, rowid), every row, staged or not.
    fn rows(s: &RecordStore, holder: &str) -> Vec<(String, i64)> {
        let mut stmt = ok(s
            .conn
            .prepare("SELECT resource_id, rowid FROM resources WHERE holder = ?1 ORDER BY 1")
            .map_err(StoreError::from));
        ok(stmt
            .query_map(params![holder], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(StoreError::from))
    }

    fn seen(s: &RecordStore, holder: &str) -> usize {
        let counted: usize = ok(s.counts())
            .iter()
            .filter(|c| c.holder == holder)
            .map(|c| c.count)
            .sum();
        let exported = ok(s.export_holder(holder)).matches("\"resource\":").count();
        let patients = ok(s.people())
            .iter()
            .flat_map(|p| &p.at)
            .filter(|at| at.holder == holder)
            .count();
        counted + exported + patients
    }

    /// A set written in pages while another holder's set is stored between
    /// them is out of every count, export and person until its own
    /// transaction; then each record staged keeps the row it was written
    /// to, one staged and not sent in the end goes, and the groups are those
    /// of the same sets written whole into an empty store.
    #[test]
    fn a_staged_set_is_seen_only_once_written_and_merges_as_one_written_whole() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut s = open(&dir, "staged.db");
        let person = Person::default();
        let (pa, a1, a2, a3) = (
            patient("pa"),
            shot("a1", "IMM-1", "2021-04-20"),
            shot("a2", "IMM-2", "2022-04-20"),
            shot("a3", "IMM-3", "2023-04-20"),
        );
        let b1 = shot("b1", "IMM-1", "2021-04-20");
        assert!(stage(&mut s, A, 1, &[&pa, &a1]));
        ok(s.replace(B, "t1", &person, 1, &[&b1]));
        assert!(stage(&mut s, A, 1, &[&a2]));
        assert_eq!(seen(&s, A), 0);
        assert_eq!(seen(&s, B), 2, "B's record, counted and exported");
        assert_eq!(ok(s.check()), Vec::<String>::new());
        let staged = rows(&s, A);
        assert_eq!(staged.len(), 3);

        // a2's type was then withheld; a3 came in the last page, unstaged.
        let done = ok(s.replace(A, "t1", &person, 2, &[&pa, &a1, &a3]));
        assert_eq!((done.stored, done.written, done.removed), (3, 3, 0));
        let now = rows(&s, A);
        let kept: Vec<_> = staged.iter().filter(|(id, _)| id != "a2").collect();
        for row in &kept {
            assert!(now.contains(row), "{row:?} kept its row: {now:?}");
        }
        assert_eq!(now.len(), 3, "a2 gone, a3 added: {now:?}");
        assert!(now.iter().any(|(id, _)| id == "a3"));
        assert_eq!(seen(&s, A), 3 + 3 + 1);
        assert_eq!(ok(s.check()), Vec::<String>::new());

        // a1 and b1 are one shot, at two holders.
        assert!(partition(&s).iter().any(|(_, members)| members.len() == 2));
        let mut whole = open(&dir, "whole.db");
        ok(whole.replace(B, "t1", &person, 1, &[&b1]));
        ok(whole.replace(A, "t1", &person, 2, &[&pa, &a1, &a3]));
        assert_eq!(partition(&s), partition(&whole));
    }

    /// A set that has records stored is written with its set, never staged.
    #[test]
    fn a_set_with_records_stored_is_not_staged() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut s = open(&dir, "stored.db");
        let a1 = shot("a1", "IMM-1", "2021-04-20");
        ok(s.replace(A, "t1", &Person::default(), 1, &[&a1]));
        let a2 = shot("a2", "IMM-2", "2022-04-20");
        assert!(!stage(&mut s, A, 2, &[&a2]));
        assert_eq!(rows(&s, A).len(), 1);
        // In a batch beside a set that is staged.
        let b1 = shot("b1", "IMM-1", "2021-04-20");
        let mut staging = ok(s.staging());
        assert!(!ok(staging.page(A, "t1", 2, &[&a2])));
        assert!(ok(staging.page(B, "t1", 2, &[&b1])));
        ok(staging.commit());
        assert_eq!(rows(&s, A).len(), 1);
        assert_eq!(ok(s.staged_rows()), 1);
        assert_eq!(seen(&s, A), 2);
        assert_eq!(ok(s.check()), Vec::<String>::new());
    }

    /// What a sync cut short had staged stays out of sight in the store as
    /// opened again, and goes when discarded or when the index is rebuilt.
    #[test]
    fn what_a_sync_cut_short_staged_stays_out_of_sight_until_it_goes() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (pa, a1) = (patient("pa"), shot("a1", "IMM-1", "2021-04-20"));
        {
            let mut s = open(&dir, "cut.db");
            assert!(stage(&mut s, A, 1, &[&pa, &a1]));
        }
        let mut s = open(&dir, "cut.db");
        assert_eq!(rows(&s, A).len(), 2);
        assert_eq!(ok(s.staged_rows()), 2);
        assert_eq!(seen(&s, A), 0);
        assert_eq!(ok(s.check()), Vec::<String>::new());
        assert_eq!(ok(s.discard_staged(A, "t1")), 2);
        assert_eq!(rows(&s, A).len(), 0);
        assert_eq!(ok(s.staged_rows()), 0);

        assert!(stage(&mut s, A, 1, &[&pa, &a1]));
        ok(s.rebuild_index());
        assert_eq!(rows(&s, A).len(), 0);
        assert_eq!(ok(s.check()), Vec::<String>::new());
        // And a set written after either is whole.
        ok(s.replace(A, "t1", &Person::default(), 2, &[&pa, &a1]));
        assert_eq!(seen(&s, A), 2 + 2 + 1);
    }
}
