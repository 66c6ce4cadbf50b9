//! The record store: one SQLite file per profile, encrypted with SQLCipher
//! under a key kept in the OS keyring. Raw FHIR JSON, as each holder sent it,
//! is the source of truth, with its provenance (holder, ticket, when fetched,
//! the holder's own id). A holder's records for a ticket are replaced in one
//! transaction, so a crash leaves the previous set or the new one, never half.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};
use serde::Serialize;
use thiserror::Error;
use ts_rs::TS;
use vault::DatabaseKey;

use crate::engine::Record;

/// Each entry moves the schema one version on; `PRAGMA user_version` says how
/// many have run. Entries are never edited once released, only appended.
const MIGRATIONS: &[&str] = &[
    // 1: resources with provenance, and one row per (holder, ticket) sync.
    "CREATE TABLE resources (
        holder TEXT NOT NULL,
        ticket_jti TEXT NOT NULL,
        resource_type TEXT NOT NULL,
        resource_id TEXT,
        fetched_at INTEGER NOT NULL,
        json TEXT NOT NULL
     );
     CREATE INDEX resources_by_source ON resources (holder, ticket_jti);
     CREATE INDEX resources_by_type ON resources (resource_type);
     CREATE TABLE syncs (
        holder TEXT NOT NULL,
        ticket_jti TEXT NOT NULL,
        finished_at INTEGER NOT NULL,
        resources INTEGER NOT NULL,
        removed INTEGER NOT NULL,
        PRIMARY KEY (holder, ticket_jti)
     );",
    // 2: sync runs, so an interrupted one can be resumed where it stopped.
    "CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        holders TEXT NOT NULL
     );
     CREATE TABLE run_holders (
        run_id INTEGER NOT NULL REFERENCES runs (id),
        holder TEXT NOT NULL,
        PRIMARY KEY (run_id, holder)
     );",
];

/// A sync run that started and did not finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub id: i64,
    pub started_at: i64,
    /// The holders (FHIR bases) it set out to sync.
    pub holders: Vec<String>,
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error(
        "the record database {path} cannot be opened with this profile's key: the key in the keyring is not the one it was written with (the file is left as it is)"
    )]
    WrongKey { path: PathBuf },
    #[error(
        "the record database {path} was written by a newer version of Ticket Wallet (schema {found}, this one knows {known})"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("the record database: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl StoreError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::WrongKey { .. } => "store_wrong_key",
            Self::TooNew { .. } => "store_too_new",
            Self::Sqlite(_) => "store",
        }
    }
}

/// What replacing one holder's records changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Replaced {
    #[ts(type = "number")]
    pub stored: usize,
    /// Records the holder had sent before and no longer returns.
    #[ts(type = "number")]
    pub removed: usize,
}

/// Counts per holder and type, for lists and summaries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct SourceCount {
    pub holder: String,
    pub ticket_jti: String,
    pub resource_type: String,
    #[ts(type = "number")]
    pub count: usize,
}

pub struct RecordStore {
    conn: Connection,
}

impl RecordStore {
    /// Opens (or creates) the store at `path` with `key`, bringing the schema up to date.
    pub fn open(path: &Path, key: &DatabaseKey) -> Result<Self, StoreError> {
        Self::open_at(path, key, MIGRATIONS.len())
    }

    /// As `open`, running migrations only up to `version` (tests of old schemas).
    fn open_at(path: &Path, key: &DatabaseKey, version: usize) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        // A wrong key is reported as an error here; SQLCipher need not also print it.
        conn.execute_batch("PRAGMA cipher_log_level = NONE;")?;
        // SQLCipher takes a raw 256-bit key as a blob literal, skipping its key derivation.
        conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", key.hex()))?;
        match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        }) {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::NotADatabase =>
            {
                return Err(StoreError::WrongKey { path: path.into() });
            }
            Err(e) => return Err(e.into()),
        }
        // WAL with NORMAL sync: a commit is atomic against a crash or a kill
        // (the previous state or the new one); a power cut may roll back the
        // last commits, never half of one.
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")?;
        let mut store = Self { conn };
        store.migrate(path, version)?;
        Ok(store)
    }

    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn migrate(&mut self, path: &Path, upto: usize) -> Result<(), StoreError> {
        let found = self.schema_version()?;
        let known = MIGRATIONS.len() as i64;
        if found > known {
            return Err(StoreError::TooNew {
                path: path.into(),
                found,
                known,
            });
        }
        for (i, sql) in MIGRATIONS
            .iter()
            .enumerate()
            .take(upto)
            .skip(found.max(0) as usize)
        {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Replaces what `holder` gave for `ticket_jti` with `records`, in one transaction.
    pub fn replace(
        &mut self,
        holder: &str,
        ticket_jti: &str,
        fetched_at: i64,
        records: &[&Record],
    ) -> Result<Replaced, StoreError> {
        let tx = self.conn.transaction()?;
        let before: HashSet<(String, Option<String>)> = {
            let mut stmt = tx.prepare("SELECT resource_type, resource_id FROM resources WHERE holder = ?1 AND ticket_jti = ?2")?;
            let rows =
                stmt.query_map(params![holder, ticket_jti], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        tx.execute(
            "DELETE FROM resources WHERE holder = ?1 AND ticket_jti = ?2",
            params![holder, ticket_jti],
        )?;
        let mut now: HashSet<(String, Option<String>)> = HashSet::new();
        {
            let mut insert = tx.prepare(
                "INSERT INTO resources (holder, ticket_jti, resource_type, resource_id, fetched_at, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for r in records {
                insert.execute(params![
                    holder,
                    ticket_jti,
                    r.resource_type,
                    r.id,
                    fetched_at,
                    r.json.get()
                ])?;
                now.insert((r.resource_type.clone(), r.id.clone()));
            }
        }
        let removed = before.difference(&now).count();
        tx.execute(
            "INSERT INTO syncs (holder, ticket_jti, finished_at, resources, removed) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (holder, ticket_jti) DO UPDATE SET finished_at = ?3, resources = ?4, removed = ?5",
            params![holder, ticket_jti, fetched_at, records.len() as i64, removed as i64],
        )?;
        tx.commit()?;
        Ok(Replaced {
            stored: records.len(),
            removed,
        })
    }

    /// Records that a sync run has started.
    pub fn begin_run(&mut self, started_at: i64, holders: &[String]) -> Result<i64, StoreError> {
        let list = serde_json::to_string(holders).unwrap_or_else(|_| "[]".into());
        self.conn.execute(
            "INSERT INTO runs (started_at, holders) VALUES (?1, ?2)",
            params![started_at, list],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn finish_run(&mut self, id: i64, finished_at: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE runs SET finished_at = ?2 WHERE id = ?1",
            params![id, finished_at],
        )?;
        Ok(())
    }

    /// The latest run, when it never finished (the process was killed or crashed).
    pub fn interrupted_run(&self) -> Result<Option<Run>, StoreError> {
        let latest = self
            .conn
            .query_row(
                "SELECT id, started_at, finished_at, holders FROM runs ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                },
            )
            .map(Some)
            .or_else(|e| {
                if matches!(e, rusqlite::Error::QueryReturnedNoRows) {
                    Ok(None)
                } else {
                    Err(e)
                }
            })?;
        Ok(latest.and_then(|(id, started_at, finished, holders)| {
            finished.is_none().then(|| Run {
                id,
                started_at,
                holders: serde_json::from_str(&holders).unwrap_or_default(),
            })
        }))
    }

    /// Notes that run `run_id` stored everything `holder` gave. Written after
    /// the records: a kill in between only means the holder is fetched again.
    pub fn holder_done(&mut self, run_id: i64, holder: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO run_holders (run_id, holder) VALUES (?1, ?2)",
            params![run_id, holder],
        )?;
        Ok(())
    }

    /// Whether run `run_id` finished with `holder`.
    pub fn holder_finished(&self, run_id: i64, holder: &str) -> Result<bool, StoreError> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM run_holders WHERE run_id = ?1 AND holder = ?2)",
            params![run_id, holder],
            |r| r.get(0),
        )?)
    }

    /// How many records each holder gave, per ticket and type.
    pub fn counts(&self) -> Result<Vec<SourceCount>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT holder, ticket_jti, resource_type, count(*) FROM resources
             GROUP BY holder, ticket_jti, resource_type ORDER BY holder, ticket_jti, resource_type",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SourceCount {
                holder: r.get(0)?,
                ticket_jti: r.get(1)?,
                resource_type: r.get(2)?,
                count: r.get::<_, i64>(3)? as usize,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every record `holder` gave (for any ticket), as a FHIR `collection`
    /// Bundle of the resources exactly as they were received.
    pub fn export_holder(&self, holder: &str) -> Result<String, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT json FROM resources WHERE holder = ?1 ORDER BY resource_type, rowid",
        )?;
        let rows = stmt.query_map(params![holder], |r| r.get::<_, String>(0))?;
        let mut out = String::from(r#"{"resourceType":"Bundle","type":"collection","entry":["#);
        for (i, json) in rows.enumerate() {
            if i > 0 {
                out.push(',');
            }
            // The stored text is JSON the holder sent and the wallet parsed; it is spliced as is.
            out.push_str(r#"{"resource":"#);
            out.push_str(&json?);
            out.push('}');
        }
        out.push_str("]}");
        Ok(out)
    }

    /// The raw JSON of every record of `resource_type` from `holder`.
    pub fn records(&self, holder: &str, resource_type: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT json FROM resources WHERE holder = ?1 AND resource_type = ?2 ORDER BY rowid",
        )?;
        let rows = stmt.query_map(params![holder, resource_type], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(ty: &str, id: &str) -> Record {
        let json = format!(r#"{{"resourceType":"{ty}","id":"{id}"}}"#);
        Record {
            resource_type: ty.into(),
            id: Some(id.into()),
            json: serde_json::value::RawValue::from_string(json).unwrap_or_else(|e| panic!("{e}")),
        }
    }

    fn ok<T>(r: Result<T, StoreError>) -> T {
        r.unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_first_version_database_migrates_and_keeps_its_records() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("records.db");
        let key = DatabaseKey::from_bytes([3; 32]);
        {
            let mut v1 = ok(RecordStore::open_at(&path, &key, 1));
            assert_eq!(ok(v1.schema_version()), 1);
            let c = record("Condition", "c1");
            ok(v1.replace("https://h.example/fhir", "t1", 10, &[&c]));
        }
        let mut now = ok(RecordStore::open(&path, &key));
        assert_eq!(ok(now.schema_version()), MIGRATIONS.len() as i64);
        assert_eq!(
            ok(now.records("https://h.example/fhir", "Condition")).len(),
            1
        );
        // Version 2's table works on the migrated file.
        let id = ok(now.begin_run(20, &["https://h.example/fhir".into()]));
        assert_eq!(ok(now.interrupted_run()).map(|r| r.id), Some(id));
        ok(now.finish_run(id, 30));
        assert_eq!(ok(now.interrupted_run()), None);
    }

    #[test]
    fn a_newer_database_is_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("records.db");
        let key = DatabaseKey::from_bytes([4; 32]);
        {
            let s = RecordStore::open(&path, &key).unwrap_or_else(|e| panic!("{e}"));
            s.conn
                .execute_batch("PRAGMA user_version = 99")
                .unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(matches!(
            RecordStore::open(&path, &key),
            Err(StoreError::TooNew { found: 99, .. })
        ));
    }
}
