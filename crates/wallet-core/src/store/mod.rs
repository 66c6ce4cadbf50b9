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

mod extract;
pub use extract::{Entry, extract};

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
    // 3: what the view queries, derived from the raw JSON (see `rebuild_index`).
    "CREATE TABLE entries (
        resource INTEGER PRIMARY KEY,
        holder TEXT NOT NULL,
        resource_type TEXT NOT NULL,
        resource_id TEXT,
        category TEXT NOT NULL,
        date TEXT,
        code_system TEXT,
        code TEXT,
        display TEXT,
        value REAL,
        unit TEXT
     );
     CREATE INDEX entries_by_date ON entries (date);
     CREATE INDEX entries_by_category ON entries (category, date);
     CREATE INDEX entries_by_code ON entries (code, date);
     CREATE VIRTUAL TABLE entries_text USING fts5 (text);",
];

/// The schema version that introduced the derived index: reaching it means
/// filling the index from the records already stored.
const INDEX_VERSION: usize = 3;

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

/// Where a stored resource came from, as the index repeats it (so queries
/// never read the large raw rows).
struct Source<'a> {
    holder: &'a str,
    resource_type: &'a str,
    resource_id: Option<&'a str>,
}

fn index_one(
    tx: &rusqlite::Transaction<'_>,
    rowid: i64,
    src: &Source<'_>,
    json: &str,
) -> Result<(), StoreError> {
    let value: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    let e = extract(&value);
    tx.prepare_cached(
        "INSERT INTO entries (resource, holder, resource_type, resource_id, category, date, code_system, code, display, value, unit)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![rowid, src.holder, src.resource_type, src.resource_id, e.category, e.date, e.code_system, e.code, e.display, e.value, e.unit])?;
    if !e.text.is_empty() {
        tx.prepare_cached("INSERT INTO entries_text (rowid, text) VALUES (?1, ?2)")?
            .execute(params![rowid, e.text])?;
    }
    Ok(())
}

fn rebuild_index(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch("DELETE FROM entries; DELETE FROM entries_text;")?;
    type Row = (i64, String, String, Option<String>, String);
    let rows: Vec<Row> = {
        let mut stmt =
            tx.prepare("SELECT rowid, holder, resource_type, resource_id, json FROM resources")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    for (rowid, holder, resource_type, resource_id, json) in rows {
        let src = Source {
            holder: &holder,
            resource_type: &resource_type,
            resource_id: resource_id.as_deref(),
        };
        index_one(tx, rowid, &src, &json)?;
    }
    Ok(())
}

/// One line of the timeline, a category list or search results.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Item {
    pub holder: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub category: String,
    pub date: Option<String>,
    pub display: Option<String>,
    pub value: Option<f64>,
    pub unit: Option<String>,
}

/// One point of an observation series, for a chart.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct SeriesPoint {
    pub date: String,
    pub value: f64,
    pub unit: Option<String>,
    pub holder: String,
}

const ITEM_COLUMNS: &str =
    "e.holder, e.resource_type, e.resource_id, e.category, e.date, e.display, e.value, e.unit";

fn item(r: &rusqlite::Row<'_>) -> rusqlite::Result<Item> {
    Ok(Item {
        holder: r.get(0)?,
        resource_type: r.get(1)?,
        resource_id: r.get(2)?,
        category: r.get(3)?,
        date: r.get(4)?,
        display: r.get(5)?,
        value: r.get(6)?,
        unit: r.get(7)?,
    })
}

/// Each word of what a person typed, quoted, so FTS5 syntax in it is just text.
fn fts_query(text: &str) -> String {
    text.split_whitespace()
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

impl RecordStore {
    /// Newest first, across every type; `category` narrows it, `before` pages on.
    pub fn timeline(
        &self,
        category: Option<&str>,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM entries e
             WHERE e.date IS NOT NULL AND (?1 IS NULL OR e.category = ?1) AND (?2 IS NULL OR e.date < ?2)
             ORDER BY e.date DESC LIMIT ?3"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![category, before, limit as i64], item)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The values of one code over time (lab trends, vitals), oldest first.
    pub fn series(&self, code: &str) -> Result<Vec<SeriesPoint>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.date, e.value, e.unit, e.holder FROM entries e
             WHERE e.code = ?1 AND e.value IS NOT NULL AND e.date IS NOT NULL ORDER BY e.date",
        )?;
        let rows = stmt.query_map(params![code], |r| {
            Ok(SeriesPoint {
                date: r.get(0)?,
                value: r.get(1)?,
                unit: r.get(2)?,
                holder: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records whose display, notes or text values contain every word of `text`.
    pub fn search(&self, text: &str, limit: usize) -> Result<Vec<Item>, StoreError> {
        let query = fts_query(text);
        if query.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM entries_text t JOIN entries e ON e.resource = t.rowid
             WHERE entries_text MATCH ?1 ORDER BY e.date DESC LIMIT ?2"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![query, limit as i64], item)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

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
        // A 32 MiB page cache: index inserts of a large sync stay in memory until commit.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -32768;",
        )?;
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
            if i + 1 == INDEX_VERSION {
                rebuild_index(&tx)?;
            }
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Recomputes every derived row from the raw JSON (after a change to what is extracted).
    pub fn rebuild_index(&mut self) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        rebuild_index(&tx)?;
        tx.commit()?;
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
        for table in ["entries", "entries_text"] {
            let key = if table == "entries" {
                "resource"
            } else {
                "rowid"
            };
            tx.execute(
                &format!("DELETE FROM {table} WHERE {key} IN (SELECT rowid FROM resources WHERE holder = ?1 AND ticket_jti = ?2)"),
                params![holder, ticket_jti],
            )?;
        }
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
                let src = Source {
                    holder,
                    resource_type: &r.resource_type,
                    resource_id: r.id.as_deref(),
                };
                index_one(&tx, tx.last_insert_rowid(), &src, r.json.get())?;
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

    fn ok<T>(r: Result<T, StoreError>) -> T {
        r.unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_first_version_database_migrates_and_keeps_its_records() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("records.db");
        let key = DatabaseKey::from_bytes([3; 32]);
        {
            let v1 = ok(RecordStore::open_at(&path, &key, 1));
            assert_eq!(ok(v1.schema_version()), 1);
            // Rows as version 1 wrote them.
            for (id, json) in [
                ("c1", r#"{"resourceType":"Condition","id":"c1"}"#),
                (
                    "c2",
                    r#"{"resourceType":"Condition","id":"c2","recordedDate":"2024-02-03","code":{"text":"Type 2 diabetes"}}"#,
                ),
            ] {
                ok(v1
                    .conn
                    .execute(
                        "INSERT INTO resources (holder, ticket_jti, resource_type, resource_id, fetched_at, json) VALUES ('https://h.example/fhir', 't1', 'Condition', ?1, 10, ?2)",
                        params![id, json],
                    )
                    .map_err(StoreError::from));
            }
        }
        let mut now = ok(RecordStore::open(&path, &key));
        assert_eq!(ok(now.schema_version()), MIGRATIONS.len() as i64);
        assert_eq!(
            ok(now.records("https://h.example/fhir", "Condition")).len(),
            2
        );
        // The index introduced later was filled from the records already there.
        let timeline = ok(now.timeline(None, None, 10));
        assert_eq!(timeline.len(), 1);
        assert_eq!(timeline[0].display.as_deref(), Some("Type 2 diabetes"));
        assert_eq!(ok(now.search("diabetes", 10)).len(), 1);
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
