//! The record store: one SQLite file per profile, encrypted with SQLCipher
//! under a key kept in the OS keyring. Raw FHIR JSON, as each holder sent it,
//! is the source of truth, with its provenance (holder, ticket, when fetched,
//! the holder's own id). A holder's records for a ticket are replaced in one
//! transaction, so a crash leaves the previous set or the new one, never half.
//! Copies of one fact from several holders are merged in the index
//! (`merge.rs`), and records are linked to the person their ticket is about.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};
use serde::Serialize;
use thiserror::Error;
use ts_rs::TS;
use vault::DatabaseKey;

/// SQL true for a row `r` of `resources` that is not in a set being staged
/// (`stage.rs`); a macro, so queries hold it as text of their own.
macro_rules! visible {
    () => {
        "NOT EXISTS (SELECT 1 FROM staging g WHERE g.holder = r.holder AND g.ticket_jti = r.ticket_jti)"
    };
}

mod check;
mod cipher;
mod deferred;
mod export;
mod extract;
mod fast;
mod index;
mod keys;
mod members;
mod merge;
mod query;
mod record;
mod replace;
mod stage;
#[cfg(test)]
mod testing;
mod tree;
pub use export::{ALSO_FROM, Copy, MERGE_TAGS};
pub use extract::{Entry, extract};
#[doc(hidden)]
pub use members::check_members;
pub use query::{
    CategoryCount, Item, ItemSource, LatestValue, PersonAtHolder, PersonRecords, Query, SeriesPoint,
};
pub use record::{Record, record_digest};
pub use replace::{ChangeMark, ChangeMarks, PreparedSet, SetFetch};
pub use stage::Staging;
pub use tree::Tree;
#[doc(hidden)]
pub use tree::check_tree;

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
    // 4: the people records are about, and copies of one fact merged across
    // holders (`merge.rs`). The index is derived, so it is recreated whole.
    "CREATE TABLE people (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        name TEXT,
        family TEXT,
        birth_date TEXT
     );
     CREATE TABLE tickets (
        jti TEXT PRIMARY KEY,
        person INTEGER NOT NULL REFERENCES people (id)
     );
     DROP TABLE entries;
     DROP TABLE entries_text;
     CREATE TABLE entries (
        resource INTEGER PRIMARY KEY,
        person INTEGER NOT NULL,
        grp INTEGER NOT NULL,
        conflict INTEGER NOT NULL DEFAULT 0,
        fingerprint INTEGER NOT NULL,
        keys BLOB NOT NULL,
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
     CREATE INDEX entries_by_group ON entries (grp);
     CREATE VIRTUAL TABLE entries_text USING fts5 (text);
     CREATE TABLE entry_keys (
        key INTEGER NOT NULL,
        resource INTEGER NOT NULL,
        PRIMARY KEY (key, resource)
     ) WITHOUT ROWID;",
    // 5: how each holder's last sync went, per ticket, for the holder list.
    // Kept here rather than in a plain file: a holder's message may quote
    // patient details.
    "CREATE TABLE outcomes (
        holder TEXT NOT NULL,
        ticket_jti TEXT NOT NULL,
        status TEXT NOT NULL,
        message TEXT NOT NULL,
        resources INTEGER NOT NULL,
        finished_at INTEGER NOT NULL,
        PRIMARY KEY (holder, ticket_jti)
     );",
    // 6: the reference range sent with a value, for charts (refilled from the raw JSON).
    "ALTER TABLE entries ADD COLUMN ref_low REAL;
     ALTER TABLE entries ADD COLUMN ref_high REAL;",
    // 7: a digest of each (holder, ticket) set as last written, so a re-sync
    // that brings the same set again writes no record.
    "ALTER TABLE syncs ADD COLUMN digest BLOB;",
    // 8: each record's digest as stored, so a re-sync rewrites only the
    // records that changed (rows from before have none: rewritten once).
    "ALTER TABLE resources ADD COLUMN digest BLOB;",
    // 9: per (holder, ticket, type), where the next sync's search for what
    // changed starts (the holder's clock), under which granted scope, and
    // when the type was last fetched whole; and each set's rows indexed with
    // their type, id and digest, so a sync reads them without the JSON.
    "DROP INDEX resources_by_source;
     CREATE INDEX resources_by_source ON resources (holder, ticket_jti, resource_type, resource_id, digest);
     CREATE TABLE change_marks (
        holder TEXT NOT NULL,
        ticket_jti TEXT NOT NULL,
        resource_type TEXT NOT NULL,
        since TEXT NOT NULL,
        scope TEXT NOT NULL,
        whole_at INTEGER NOT NULL,
        PRIMARY KEY (holder, ticket_jti, resource_type)
     );",
    // 10: the distinct records of each person by category, for the record
    // screen's first questions (how many records, in which sections) without
    // reading every index row: each took 60-200 ms on 43,000 records. The
    // index is refilled: a Patient is no longer dated by its `meta.lastUpdated`
    // (it showed on the timeline).
    "CREATE INDEX entries_by_person ON entries (person, category)
        WHERE grp = resource AND resource_type != 'Patient';",
    // 11: a chart's points (`series`) read from an index alone: through
    // `entries_by_code` each point cost a lookup of its whole index row.
    "CREATE INDEX entries_series ON entries
        (code, date, grp, resource, value, unit, holder, conflict, ref_low, ref_high, person)
        WHERE value IS NOT NULL AND date IS NOT NULL;",
    // 12: two indexes every ingest paid for and no query needs any more: a
    // chart reads `entries_series`, and rows are found by type only to find
    // each ticket's Patient, which a partial index of the Patients does.
    "DROP INDEX entries_by_code;
     DROP INDEX resources_by_type;
     CREATE INDEX resources_patients ON resources (ticket_jti) WHERE resource_type = 'Patient';",
    // 13: when a holder last counted a type without a total: it is then
    // fetched whole without asking for changes first, until a week has passed.
    "ALTER TABLE change_marks ADD COLUMN uncounted_at INTEGER;",
    // 14: which rows hold each match key is read from `entries.keys` into
    // memory (`keys.rs`): the table of them cost every set's transaction a
    // B-tree insert per key and a lookup per key to find copies.
    "DROP TABLE entry_keys;",
    // 15: the full text keeps its index alone (contentless, rows still
    // deletable): the copy of every text it also kept was never read (a
    // match shows its index row) and cost each record a B-tree insert.
    // Refilled from the raw rows.
    "DROP TABLE entries_text;
     CREATE VIRTUAL TABLE entries_text USING fts5 (text, content = '', contentless_delete = 1);",
    // 16: the sets a sync is writing while they download (`stage.rs`): their
    // raw rows are in `resources`, out of every query until the set's own
    // transaction takes them in.
    "CREATE TABLE staging (
        holder TEXT NOT NULL,
        ticket_jti TEXT NOT NULL,
        PRIMARY KEY (holder, ticket_jti)
     ) WITHOUT ROWID;",
    // 17: each row's category in the chart index, so a section's "Over
    // time" (`latest_values`) reads its results from that index alone, in
    // code order: through `entries_by_category` it looked up every row of
    // the section (34-38 ms for the vitals of 100,000 resources).
    "DROP INDEX IF EXISTS entries_series;
     CREATE INDEX entries_series ON entries
        (code, date, grp, resource, value, unit, holder, conflict, ref_low, ref_high, person, category)
        WHERE value IS NOT NULL AND date IS NOT NULL;",
];

/// SQLite's page cache, in KiB (see `open_at`).
pub(crate) const CACHE_KIB: u32 = 24 * 1024;

/// The first schema version with the derived index: a migration that reaches
/// the current version from before the index's latest shape refills it.
const INDEX_VERSIONS: [usize; 5] = [3, 4, 6, 10, 15];

/// How a holder's last sync went for one ticket (or, with no ticket, before any could be tried).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct LastOutcome {
    pub holder: String,
    pub ticket_jti: Option<String>,
    /// As `HolderOutcome::status`: `synced`, `skipped`, `needs_interaction`, `failed`.
    pub status: String,
    pub message: String,
    #[ts(type = "number")]
    pub resources: usize,
    #[ts(type = "number")]
    pub finished_at: i64,
}

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
    #[error("writing the export: {0}")]
    Write(#[from] std::io::Error),
    #[error(
        "{0}: the records stored and what the holder sent do not add up; the next sync fetches them all"
    )]
    Incomplete(String),
}

impl StoreError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::WrongKey { .. } => "store_wrong_key",
            Self::TooNew { .. } => "store_too_new",
            Self::Sqlite(_) => "store",
            Self::Write(_) => "write_failed",
            Self::Incomplete(_) => "store_incomplete",
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
    /// Records written: new or changed ones, and kept ones whose merge keys
    /// moved. A record the holder sends again as it was is not written.
    #[ts(type = "number")]
    pub written: usize,
    /// The holder sent exactly the set already stored: nothing was written.
    pub unchanged: bool,
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

/// Who a ticket is about, as its `subject.patient` says: the person its
/// records are linked to in the view.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    pub name: Option<String>,
    pub family: Option<String>,
    pub birth_date: Option<String>,
}

impl Person {
    pub fn from_ticket(p: &permission_ticket::fhir::Patient) -> Self {
        Self {
            name: p.display_name(),
            family: p.name.first().and_then(|n| n.family.clone()),
            birth_date: p.birth_date.clone(),
        }
    }

    /// Two tickets about the same name and birth date are about one person;
    /// a ticket that names nobody is a person of its own.
    fn key(&self, jti: &str) -> String {
        match (&self.name, &self.birth_date) {
            (None, None) => format!("ticket:{jti}"),
            (name, birth) => format!(
                "{}|{}",
                name.as_deref()
                    .unwrap_or_default()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .to_lowercase(),
                birth.as_deref().unwrap_or_default()
            ),
        }
    }
}

pub struct RecordStore {
    conn: Connection,
    /// Which rows hold each match key (`keys.rs`), once a write needed it.
    keys: keys::HeldKeys,
}

impl RecordStore {
    /// Opens (or creates) the store at `path` with `key`, bringing the schema up to date.
    pub fn open(path: &Path, key: &DatabaseKey) -> Result<Self, StoreError> {
        Self::open_at(path, key, MIGRATIONS.len())
    }

    /// As `open`, running migrations only up to `version` (tests of old schemas).
    fn open_at(path: &Path, key: &DatabaseKey, version: usize) -> Result<Self, StoreError> {
        Self::open_with(path, key, version, cipher::MACS)
    }

    /// As `open_at`, trying only `macs` (tests of stores written before HMAC-SHA256).
    fn open_with(
        path: &Path,
        key: &DatabaseKey,
        version: usize,
        macs: &[cipher::Mac],
    ) -> Result<Self, StoreError> {
        let (conn, _) = cipher::open_keyed(path, key, macs)?;
        // WAL with NORMAL sync: a commit is atomic against a crash or a kill
        // (the previous state or the new one); a power cut may roll back the
        // last commits, never half of one.
        // A 24 MiB page cache: index inserts of a large sync stay in memory
        // until commit. 32 MiB wrote no faster and took a storing sync's
        // peak to the issue's limit (156 MiB); 16 MiB slowed a 1% re-sync
        // by a third, 8 MiB the search fivefold.
        // The log grows to a whole sync while checkpoints are held
        // (`hold_checkpoints`); `checkpoint` empties it, and one a reader kept
        // from emptying shrinks back to 16 MiB at the next write.
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -{CACHE_KIB};
             PRAGMA journal_size_limit = 16777216;"
        ))?;
        let mut store = Self {
            conn,
            keys: keys::HeldKeys::default(),
        };
        store.migrate(path, version)?;
        Ok(store)
    }

    /// The ingest floor the store bench measures `replace` against: a store of
    /// the same settings at schema 1 (raw rows, no index, no merging) at
    /// `path`, each batch inserted in one transaction as `replace` would.
    /// Not used by the wallet.
    #[doc(hidden)]
    pub fn ingest_floor(
        path: &Path,
        key: &DatabaseKey,
        batches: &[(&str, &[&Record])],
    ) -> Result<usize, StoreError> {
        let mut store = Self::open_at(path, key, 1)?;
        let mut n = 0;
        for (holder, records) in batches {
            let tx = store.conn.transaction()?;
            {
                let mut insert = tx.prepare(
                    "INSERT INTO resources (holder, ticket_jti, resource_type, resource_id, fetched_at, json) VALUES (?1, 't', ?2, ?3, 1, ?4)",
                )?;
                for r in *records {
                    n += insert.execute(params![holder, r.resource_type, r.id, r.json.get()])?;
                }
            }
            tx.commit()?;
        }
        Ok(n)
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
        let from = found.max(0) as usize;
        // The index is written by this version's code, so it is refilled only
        // when the schema reaches this version's shape.
        let refill = upto == MIGRATIONS.len() && INDEX_VERSIONS.iter().any(|v| *v > from);
        for (i, sql) in MIGRATIONS.iter().enumerate().take(upto).skip(from) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            if refill && i + 1 == upto {
                index::rebuild_index(&tx)?;
            }
            tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Recomputes every derived row from the raw JSON (after a change to what is extracted).
    pub fn rebuild_index(&mut self) -> Result<(), StoreError> {
        self.keys.clear();
        let tx = self.conn.transaction()?;
        index::rebuild_index(&tx)?;
        tx.commit()?;
        Ok(())
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

    /// This connection's commits no longer fold the log into the database
    /// (SQLite does so every 1,000 pages by default): a sync's writes then
    /// copy each page once, in `checkpoint` after the sync, rather than each
    /// holder's transaction copying the index pages every earlier one wrote.
    /// Each commit is as durable as before: it is in the log.
    pub fn hold_checkpoints(&self) -> Result<(), StoreError> {
        self.conn.execute_batch("PRAGMA wal_autocheckpoint = 0")?;
        Ok(())
    }

    /// Folds the log into the database and empties its file; says whether
    /// it could. A reader still on an older snapshot, or a writer, is
    /// waited for up to the connection's busy timeout (5 s), after which
    /// the log is folded as far as it can be and left. Emptying it here,
    /// after a sync, spares the next sync's first write the truncation
    /// (30 ms for a 70 MiB log).
    pub fn checkpoint(&self) -> Result<bool, StoreError> {
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        Ok(busy == 0)
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

    /// Keeps how each holder went, replacing what its last sync said for the same ticket.
    pub fn record_outcomes(&mut self, outcomes: &[LastOutcome]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare(
                "INSERT OR REPLACE INTO outcomes
                 (holder, ticket_jti, status, message, resources, finished_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for o in outcomes {
                stmt.execute(params![
                    o.holder,
                    o.ticket_jti.as_deref().unwrap_or_default(),
                    o.status,
                    o.message,
                    o.resources as i64,
                    o.finished_at
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Each holder's last outcome per ticket, newest first.
    pub fn last_outcomes(&self) -> Result<Vec<LastOutcome>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT holder, ticket_jti, status, message, resources, finished_at FROM outcomes
             ORDER BY finished_at DESC, holder, ticket_jti",
        )?;
        let rows = stmt.query_map([], |r| {
            let jti: String = r.get(1)?;
            Ok(LastOutcome {
                holder: r.get(0)?,
                ticket_jti: (!jti.is_empty()).then_some(jti),
                status: r.get(2)?,
                message: r.get(3)?,
                resources: r.get::<_, i64>(4)? as usize,
                finished_at: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many records each holder gave, per ticket and type.
    pub fn counts(&self) -> Result<Vec<SourceCount>, StoreError> {
        let mut stmt = self.conn.prepare(concat!(
            "SELECT holder, ticket_jti, resource_type, count(*) FROM resources r WHERE ",
            visible!(),
            " GROUP BY holder, ticket_jti, resource_type ORDER BY holder, ticket_jti, resource_type",
        ))?;
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ok, partition, record};

    #[test]
    fn reference_ranges_are_read_into_the_index_of_a_store_from_before_them() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("records.db");
        let key = DatabaseKey::from_bytes([4; 32]);
        {
            let v5 = ok(RecordStore::open_at(&path, &key, 5));
            let a1c = r#"{"resourceType":"Observation","id":"o1","effectiveDateTime":"2024-02-03",
                "code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}]},
                "valueQuantity":{"value":7.1,"unit":"%"},
                "referenceRange":[{"low":{"value":4.0},"high":{"value":5.6}}]}"#;
            ok(v5
                .conn
                .execute(
                    "INSERT INTO resources (holder, ticket_jti, resource_type, resource_id, fetched_at, json) VALUES ('https://h.example/fhir', 't1', 'Observation', 'o1', 10, ?1)",
                    params![a1c],
                )
                .map_err(StoreError::from));
        }
        let now = ok(RecordStore::open(&path, &key));
        let points = ok(now.series("4548-4", None));
        assert_eq!(points.len(), 1);
        assert_eq!((points[0].low, points[0].high), (Some(4.0), Some(5.6)));
    }

    #[test]
    fn a_first_version_database_migrates_and_keeps_its_records() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("records.db");
        let key = DatabaseKey::from_bytes([3; 32]);
        {
            let v1 = ok(RecordStore::open_at(&path, &key, 1));
            assert_eq!(ok(v1.schema_version()), 1);
            // Rows as version 1 wrote them: the diabetes diagnosis from two holders.
            let diabetes = |id: &str| {
                format!(
                    r#"{{"resourceType":"Condition","id":"{id}","recordedDate":"2024-02-03","code":{{"coding":[{{"system":"http://snomed.info/sct","code":"44054006"}}],"text":"Type 2 diabetes"}}}}"#
                )
            };
            for (holder, id, json) in [
                (
                    "https://h.example/fhir",
                    "c1",
                    r#"{"resourceType":"Condition","id":"c1"}"#.to_string(),
                ),
                ("https://h.example/fhir", "c2", diabetes("c2")),
                ("https://other.example/fhir", "x9", diabetes("x9")),
            ] {
                ok(v1
                    .conn
                    .execute(
                        "INSERT INTO resources (holder, ticket_jti, resource_type, resource_id, fetched_at, json) VALUES (?1, 't1', 'Condition', ?2, 10, ?3)",
                        params![holder, id, json],
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
        // The index introduced later was filled from the records already
        // there, with the two holders' copies merged.
        let q = Query {
            limit: 10,
            ..Query::default()
        };
        let timeline = ok(now.timeline(&q));
        assert_eq!(timeline.len(), 1);
        assert_eq!(timeline[0].display.as_deref(), Some("Type 2 diabetes"));
        assert_eq!(timeline[0].sources.len(), 2);
        assert_eq!(ok(now.search("diabetes", &q)).len(), 1);
        // Version 2's table works on the migrated file.
        let id = ok(now.begin_run(20, &["https://h.example/fhir".into()]));
        assert_eq!(ok(now.interrupted_run()).map(|r| r.id), Some(id));
        ok(now.finish_run(id, 30));
        assert_eq!(ok(now.interrupted_run()), None);
    }

    fn shot(id: &str, date: &str) -> Record {
        record(
            serde_json::json!({ "resourceType": "Immunization", "id": id,
            "identifier": [{ "system": "https://registry.example/immunization", "value": "IMM-1" }],
            "vaccineCode": { "coding": [{ "system": "http://hl7.org/fhir/sid/cvx", "code": "208" }] },
            "occurrenceDateTime": date }),
        )
    }

    /// Held checkpoints leave every commit in the log; `checkpoint` folds it
    /// and empties the file, unless a reader is still on a snapshot from
    /// before: then it gives up after the busy timeout and leaves the log,
    /// which the next checkpoint after the reader empties.
    #[test]
    fn a_held_log_is_emptied_by_checkpoint_once_no_reader_needs_it() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("records.db");
        let key = DatabaseKey::from_bytes([6; 32]);
        let log = || std::fs::metadata(dir.path().join("records.db-wal")).map_or(0, |m| m.len());
        let mut writer = ok(RecordStore::open(&path, &key));
        ok(writer.hold_checkpoints());
        ok(writer
            .conn
            .busy_timeout(std::time::Duration::from_millis(100))
            .map_err(StoreError::from));
        let reader = ok(RecordStore::open(&path, &key));
        // Past SQLite's 1,000 pages, where it would otherwise fold the log itself.
        let notes: Vec<Record> = (0..2000)
            .map(|i| {
                record(
                    serde_json::json!({ "resourceType": "Observation", "id": format!("n{i}"),
                    "effectiveDateTime": format!("20{:02}-01-01", i % 100),
                    "code": { "text": "note" }, "valueString": "x".repeat(2500) }),
                )
            })
            .collect();
        let refs: Vec<&Record> = notes.iter().collect();
        ok(writer.replace("https://a/fhir", "t1", &Person::default(), 1, &refs));
        let held = log();
        assert!(
            held > 4_000_000,
            "the sync's pages are in the log: {held} bytes"
        );

        // A reader on a snapshot from before the next write keeps the log.
        ok(reader.conn.execute_batch("BEGIN").map_err(StoreError::from));
        assert_eq!(ok(reader.counts()).len(), 1);
        ok(writer.replace("https://b/fhir", "t1", &Person::default(), 1, &refs[..10]));
        assert!(!ok(writer.checkpoint()), "held up by the reader");
        assert!(log() >= held, "a reader's snapshot is not folded away");

        ok(reader
            .conn
            .execute_batch("COMMIT")
            .map_err(StoreError::from));
        assert!(ok(writer.checkpoint()));
        assert_eq!(log(), 0, "emptied");
        assert_eq!(
            ok(reader.counts()).iter().map(|c| c.count).sum::<usize>(),
            2010
        );
    }

    #[test]
    fn copies_merge_split_and_conflict_as_holders_resync() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut s = ok(RecordStore::open(
            &dir.path().join("records.db"),
            &DatabaseKey::from_bytes([5; 32]),
        ));
        let ana = Person {
            name: Some("Ana Rivera".into()),
            family: Some("Rivera".into()),
            birth_date: Some("1984-03-12".into()),
        };
        let all = Query {
            limit: 10,
            ..Query::default()
        };
        let (a, b) = (shot("a1", "2021-04-20"), shot("b7", "2021-04-20"));
        ok(s.replace("https://a/fhir", "t1", &ana, 1, &[&a]));
        ok(s.replace("https://b/fhir", "t2", &ana, 1, &[&b]));
        let items = ok(s.timeline(&all));
        assert_eq!(items.len(), 1, "one shot, two sources");
        assert_eq!(items[0].sources.len(), 2);
        assert!(!items[0].conflict);

        // B now says the 21st: still the same shot (same identifier), flagged.
        let b = shot("b7", "2021-04-21");
        ok(s.replace("https://b/fhir", "t2", &ana, 2, &[&b]));
        let items = ok(s.timeline(&all));
        assert_eq!(items.len(), 1);
        assert!(items[0].conflict);
        assert_eq!(items[0].differs, vec!["date"]);
        assert_eq!(ok(s.copies(items[0].id)).len(), 2, "both versions kept");

        // B no longer returns it: A's copy stands alone and agrees with itself.
        ok(s.replace("https://b/fhir", "t2", &ana, 3, &[]));
        let items = ok(s.timeline(&all));
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].sources.len(), 1);
        assert!(!items[0].conflict);
        assert_eq!(
            ok(s.check()),
            Vec::<String>::new(),
            "split leaves no stray rows"
        );

        // Another person's identical record is theirs alone.
        let luis = Person {
            name: Some("Luis Rivera".into()),
            family: Some("Rivera".into()),
            birth_date: Some("1956-07-02".into()),
        };
        ok(s.replace(
            "https://b/fhir",
            "t3",
            &luis,
            4,
            &[&shot("b8", "2021-04-20")],
        ));
        assert_eq!(ok(s.timeline(&all)).len(), 2);
        let people = ok(s.people());
        assert_eq!(people.len(), 2);
        let only_ana = Query {
            person: Some(people[0].id),
            limit: 10,
            ..Query::default()
        };
        assert_eq!(ok(s.timeline(&only_ana)).len(), 1);
        assert_eq!(ok(s.check()), Vec::<String>::new());
    }

    /// A person's sections count their distinct records (copies once, the
    /// Patient not at all), and never another person's.
    #[test]
    fn sections_and_people_count_each_persons_distinct_records() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut s = ok(RecordStore::open(
            &dir.path().join("records.db"),
            &DatabaseKey::from_bytes([4; 32]),
        ));
        let person = |name: &str, born: &str| Person {
            name: Some(name.into()),
            family: Some("Rivera".into()),
            birth_date: Some(born.into()),
        };
        let (ana, luis) = (
            person("Ana Rivera", "1984-03-12"),
            person("Luis Rivera", "1956-07-02"),
        );
        let visit = record(serde_json::json!({ "resourceType": "Encounter", "id": "v1",
            "period": { "start": "2024-05-05T09:00:00Z" } }));
        let patient = record(serde_json::json!({ "resourceType": "Patient", "id": "p1" }));
        let (a, b) = (shot("a1", "2021-04-20"), shot("b7", "2021-04-20"));
        ok(s.replace("https://a/fhir", "t1", &ana, 1, &[&a, &visit, &patient]));
        ok(s.replace("https://b/fhir", "t2", &ana, 1, &[&b]));
        ok(s.replace(
            "https://b/fhir",
            "t3",
            &luis,
            1,
            &[&shot("b8", "2022-01-01")],
        ));
        let people = ok(s.people());
        let counts = |p: Option<i64>| -> Vec<(String, usize)> {
            ok(s.category_counts(p))
                .into_iter()
                .map(|c| (c.category, c.count))
                .collect()
        };
        let one = |c: &str, n: usize| (c.to_string(), n);
        assert_eq!(
            counts(Some(people[0].id)),
            vec![one("encounters", 1), one("immunizations", 1)]
        );
        assert_eq!(people[0].records, 2);
        assert_eq!(counts(Some(people[1].id)), vec![one("immunizations", 1)]);
        assert_eq!(people[1].records, 1);
        assert_eq!(
            counts(None),
            vec![one("encounters", 1), one("immunizations", 2)]
        );
    }

    #[test]
    fn pages_do_not_skip_records_that_share_a_date() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut s = ok(RecordStore::open(
            &dir.path().join("records.db"),
            &DatabaseKey::from_bytes([6; 32]),
        ));
        let visits: Vec<Record> = (0..5)
            .map(|i| {
                record(
                    serde_json::json!({ "resourceType": "Encounter", "id": format!("e{i}"),
                    "period": { "start": "2024-05-05T09:00:00Z" } }),
                )
            })
            .collect();
        let refs: Vec<&Record> = visits.iter().collect();
        ok(s.replace("https://a/fhir", "t1", &Person::default(), 1, &refs));
        let mut seen = Vec::new();
        let mut before: Option<String> = None;
        loop {
            let page = ok(s.timeline(&Query {
                before: before.as_deref(),
                limit: 2,
                ..Query::default()
            }));
            if page.is_empty() {
                break;
            }
            before = page.last().map(|i| i.cursor.clone());
            seen.extend(page.into_iter().map(|i| i.id));
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 5);
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

    /// Rows written before records' digests were kept (schema 7) have none:
    /// the first re-sync that changes anything rewrites them, later ones
    /// write only what changed.
    #[test]
    fn rows_from_before_digests_are_rewritten_once() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut s = ok(RecordStore::open(
            &dir.path().join("records.db"),
            &DatabaseKey::from_bytes([7; 32]),
        ));
        let h = "https://a/fhir";
        let (a, b, c) = (
            shot("a", "2021-04-20"),
            shot("b", "2022-04-20"),
            shot("c", "2023-04-20"),
        );
        ok(s.replace(h, "t1", &Person::default(), 1, &[&a, &b, &c]));
        ok(s.conn
            .execute_batch("UPDATE resources SET digest = NULL")
            .map_err(StoreError::from));
        let b2 = shot("b", "2022-04-21");
        let first = ok(s.replace(h, "t1", &Person::default(), 2, &[&a, &b2, &c]));
        assert_eq!(first.written, 3, "{first:?}");
        let c2 = shot("c", "2023-04-21");
        let then = ok(s.replace(h, "t1", &Person::default(), 3, &[&a, &b2, &c2]));
        assert_eq!(then.written, 1, "{then:?}");
        assert_eq!(ok(s.check()), Vec::<String>::new());
    }

    /// Re-syncs that write only what changed leave the same groups, flags
    /// and rows as writing every holder's current set into an empty store,
    /// written through two connections in turn (as a sync and the app may):
    /// each finds the copies the other wrote.
    #[test]
    fn writing_only_the_changes_merges_as_writing_everything() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let key = DatabaseKey::from_bytes([6; 32]);
        let mut stores = [
            ok(RecordStore::open(&dir.path().join("partial.db"), &key)),
            ok(RecordStore::open(&dir.path().join("partial.db"), &key)),
        ];
        let holders = ["https://a/fhir", "https://b/fhir", "https://c/fhir"];
        // A small pool of readings, so holders share content, identifiers and
        // repeats (two equal readings on one day at one holder).
        let reading = |n: u64, id: String| {
            let code = ["4548-4", "2345-7"][(n % 2) as usize];
            let day = ["2024-01-05", "2024-02-09"][(n / 2 % 2) as usize];
            let value = [6.1, 7.4][(n / 4 % 2) as usize];
            let mut json = serde_json::json!({
                "resourceType": "Observation", "id": id,
                "category": [{ "coding": [{ "code": "laboratory" }] }],
                "code": { "coding": [{ "system": "http://loinc.org", "code": code }] },
                "effectiveDateTime": day,
                "valueQuantity": { "value": value, "unit": "%" },
            });
            if n.is_multiple_of(3) {
                json["identifier"] = serde_json::json!([{ "system": "https://lab.example", "value": format!("L{}", n / 3 % 3) }]);
            }
            record(json)
        };
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        let mut sets: Vec<Vec<(u64, u64)>> = vec![Vec::new(); holders.len()];
        let mut serial = 0;
        for step in 0..150 {
            let h = next(holders.len() as u64) as usize;
            let set = &mut sets[h];
            // What changed, as a holder asked only for changes would send it
            // (`None`: a deletion, which only a whole fetch brings).
            let changed: Option<Vec<(u64, u64)>> = match next(4) {
                0 if !set.is_empty() => {
                    let i = next(set.len() as u64) as usize;
                    set.remove(i);
                    None
                }
                1 if !set.is_empty() => {
                    let i = next(set.len() as u64) as usize;
                    set[i].0 = next(12);
                    Some(vec![set[i]])
                }
                2 => {
                    set.reverse();
                    Some(Vec::new())
                }
                _ => {
                    serial += 1;
                    set.push((next(12), serial));
                    set.last().map(|r| vec![*r])
                }
            };
            let records = |set: &[(u64, u64)]| -> Vec<Record> {
                set.iter()
                    .map(|(n, id)| reading(*n, format!("r{id}")))
                    .collect()
            };
            // Every other step that can, only the changes, the rest carried from the store.
            let only_changes = changed.filter(|_| step % 2 == 1);
            let fetch = SetFetch {
                changed_only: only_changes
                    .iter()
                    .map(|_| ("Observation".to_string(), sets[h].len() as u64))
                    .collect(),
                ..SetFetch::default()
            };
            let mine = records(only_changes.as_deref().unwrap_or(&sets[h]));
            let refs: Vec<&Record> = mine.iter().collect();
            let none = PreparedSet::none();
            let person = Person::default();
            let s = &mut stores[next(2) as usize];
            ok(s.replace_prepared(holders[h], "t1", &person, step, &refs, none, &fetch));
            assert_eq!(ok(s.check()), Vec::<String>::new(), "step {step}");

            let fresh_path = dir.path().join(format!("fresh-{step}.db"));
            let mut fresh = ok(RecordStore::open(&fresh_path, &key));
            for (holder, set) in holders.iter().zip(&sets) {
                let all = records(set);
                let refs: Vec<&Record> = all.iter().collect();
                ok(fresh.replace(holder, "t1", &Person::default(), step, &refs));
            }
            assert_eq!(partition(s), partition(&fresh), "step {step}");
        }
    }
}
