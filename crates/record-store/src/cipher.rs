//! Opening the store's file with its key, and with the page MAC it was
//! written with.
//!
//! SQLCipher authenticates every page with a MAC. A new store uses
//! HMAC-SHA256, which machines of this class and most ARMv8 phones compute in
//! hardware; SQLCipher 4's default, HMAC-SHA512, runs in software there, and
//! a first sync's writer took 9–17% more CPU with it (docs/BENCHMARKS.md). A store
//! written before keeps HMAC-SHA512: the MAC cannot change in place, and the
//! file does not say which it has, so the store is opened with each in turn.
//! A wrong key fails both.

use std::path::Path;

use rusqlite::Connection;
use vault::DatabaseKey;

use crate::StoreError;

/// A page MAC SQLCipher can authenticate a store's pages with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mac {
    Sha256,
    /// SQLCipher 4's default, for stores written before HMAC-SHA256.
    Sha512,
}

impl Mac {
    fn pragma(self) -> &'static str {
        match self {
            Self::Sha256 => "HMAC_SHA256",
            Self::Sha512 => "HMAC_SHA512",
        }
    }
}

/// What the wallet tries, in order: a new store takes the first.
pub(crate) const MACS: &[Mac] = &[Mac::Sha256, Mac::Sha512];

/// A connection to `path` that reads its pages: with `key` and the first of
/// `macs` that authenticates page 1 (a new or empty file takes the first).
pub(crate) fn open_keyed(
    path: &Path,
    key: &DatabaseKey,
    macs: &[Mac],
) -> Result<(Connection, Mac), StoreError> {
    for &mac in macs {
        let conn = Connection::open(path)?;
        // A wrong key or MAC is reported here; SQLCipher need not also print it.
        conn.execute_batch("PRAGMA cipher_log_level = NONE;")?;
        // SQLCipher takes a raw 256-bit key as a blob literal, skipping its key derivation.
        conn.execute_batch(&format!(
            "PRAGMA key = \"x'{}'\"; PRAGMA cipher_hmac_algorithm = {};",
            key.hex(),
            mac.pragma()
        ))?;
        match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        }) {
            Ok(_) => return Ok((conn, mac)),
            // Page 1 did not authenticate: another MAC, or another key.
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::NotADatabase => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::WrongKey { path: path.into() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ok, record};
    use crate::{MIGRATIONS, Person, RecordStore};

    const HOLDER: &str = "https://h.example/fhir";

    fn notes(n: usize) -> Vec<crate::Record> {
        (0..n)
            .map(|i| {
                record(
                    serde_json::json!({ "resourceType": "Observation", "id": format!("n{i}"),
                    "effectiveDateTime": "2024-02-03", "valueString": "x".repeat(200) }),
                )
            })
            .collect()
    }

    fn store_notes(s: &mut RecordStore, n: usize) {
        let notes = notes(n);
        let refs: Vec<&crate::Record> = notes.iter().collect();
        ok(s.replace(HOLDER, "t1", &Person::default(), 1, &refs));
    }

    fn mac_of(path: &Path, key: &DatabaseKey) -> Mac {
        ok(open_keyed(path, key, MACS)).1
    }

    #[test]
    fn a_new_store_authenticates_its_pages_with_hmac_sha256() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("records.db");
        let key = DatabaseKey::from_bytes([5; 32]);
        store_notes(&mut ok(RecordStore::open(&path, &key)), 10);
        assert_eq!(mac_of(&path, &key), Mac::Sha256);
        assert!(matches!(
            open_keyed(&path, &key, &[Mac::Sha512]),
            Err(StoreError::WrongKey { .. })
        ));
    }

    /// A store written before HMAC-SHA256 opens, reads and takes new sets,
    /// and stays as it was written.
    #[test]
    fn a_store_written_with_hmac_sha512_keeps_its_mac_and_its_records() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("records.db");
        let key = DatabaseKey::from_bytes([5; 32]);
        store_notes(
            &mut ok(RecordStore::open_with(
                &path,
                &key,
                MIGRATIONS.len(),
                &[Mac::Sha512],
            )),
            10,
        );
        assert_eq!(mac_of(&path, &key), Mac::Sha512);
        let mut s = ok(RecordStore::open(&path, &key));
        assert_eq!(ok(s.records(HOLDER, "Observation")).len(), 10);
        store_notes(&mut s, 20);
        drop(s);
        assert_eq!(mac_of(&path, &key), Mac::Sha512);
        let s = ok(RecordStore::open(&path, &key));
        assert_eq!(ok(s.records(HOLDER, "Observation")).len(), 20);
        assert!(matches!(
            RecordStore::open(&path, &DatabaseKey::from_bytes([6; 32])),
            Err(StoreError::WrongKey { .. })
        ));
    }

    /// A crash can leave an old store's last commits in its log alone. The
    /// first MAC tried fails on them, and its connection, closing as the
    /// file's last, may fold the log: the records are all there after.
    #[test]
    fn an_old_store_left_with_its_log_by_a_crash_loses_nothing_to_the_mac_tried_first() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let key = DatabaseKey::from_bytes([5; 32]);
        let before = dir.path().join("before");
        let after = dir.path().join("after");
        ok(std::fs::create_dir(&before).map_err(StoreError::from));
        ok(std::fs::create_dir(&after).map_err(StoreError::from));
        let mut s = ok(RecordStore::open_with(
            &before.join("records.db"),
            &key,
            MIGRATIONS.len(),
            &[Mac::Sha512],
        ));
        ok(s.hold_checkpoints());
        store_notes(&mut s, 300);
        // The files as a kill -9 now would leave them (the log's index is
        // rebuilt from the log when it is missing).
        for name in ["records.db", "records.db-wal"] {
            ok(std::fs::copy(before.join(name), after.join(name))
                .map(|_| ())
                .map_err(StoreError::from));
        }
        drop(s);
        let wal = std::fs::metadata(after.join("records.db-wal")).map_or(0, |m| m.len());
        assert!(wal > 0, "the commits are in the log");
        let path = after.join("records.db");
        let s = ok(RecordStore::open(&path, &key));
        assert_eq!(ok(s.records(HOLDER, "Observation")).len(), 300);
        drop(s);
        assert_eq!(mac_of(&path, &key), Mac::Sha512);
        let s = ok(RecordStore::open(&path, &key));
        assert_eq!(ok(s.records(HOLDER, "Observation")).len(), 300);
    }
}
