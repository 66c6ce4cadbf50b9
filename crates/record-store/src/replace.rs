//! Writing one holder's set for one ticket: only what changed since the
//! set as stored, in one transaction, and the copies it touches regrouped.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use rusqlite::{OptionalExtension, params};

use super::fast::{Map, Set};
use super::index::{
    IndexWriter, Prepared, RepeatOrder, RowInfo, Source, blob_keys, key_blob, number, prepare,
    regroup,
};
use super::keys::KeyMap;
use super::{Person, RecordStore, Replaced, StoreError, stage};
use crate::Record;

/// SHA-256 of a holder's set as it would be stored: the person it is about,
/// then each record's digest, sorted, since a holder's types arrive in
/// whatever order their pages finish.
fn set_digest(person: i64, each: &[[u8; 32]]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut sorted = each.to_vec();
    sorted.sort_unstable();
    let mut h = Sha256::new();
    h.update(person.to_le_bytes());
    for d in &sorted {
        h.update(d);
    }
    h.finalize().into()
}

/// A row of the set as stored, as `replace` compares it with what came.
struct StoredRow {
    rowid: i64,
    resource_type: String,
    resource_id: Option<String>,
    /// `None` for rows written before digests were kept, or without an
    /// index entry: never matched, so rewritten.
    digest: Option<[u8; 32]>,
    person: i64,
    info: RowInfo,
}

/// The set `holder` gave for `ticket_jti` as stored, in the order written.
fn stored_set(
    tx: &rusqlite::Transaction<'_>,
    holder: &str,
    ticket_jti: &str,
) -> Result<Vec<StoredRow>, StoreError> {
    let mut stmt = tx.prepare(
        "SELECT r.rowid, r.resource_type, r.resource_id, r.digest, e.resource IS NOT NULL,
                coalesce(e.person, 0), coalesce(e.keys, x''), coalesce(e.fingerprint, 0),
                coalesce(e.grp, r.rowid), coalesce(e.conflict, 0)
         FROM resources r LEFT JOIN entries e ON e.resource = r.rowid
         WHERE r.holder = ?1 AND r.ticket_jti = ?2 ORDER BY r.rowid",
    )?;
    let rows = stmt.query_map(params![holder, ticket_jti], |r| {
        let digest: Option<Vec<u8>> = r.get(3)?;
        let indexed: bool = r.get(4)?;
        Ok(StoredRow {
            rowid: r.get(0)?,
            resource_type: r.get(1)?,
            resource_id: r.get(2)?,
            digest: digest
                .and_then(|d| <[u8; 32]>::try_from(d.as_slice()).ok())
                .filter(|_| indexed),
            person: r.get(5)?,
            info: RowInfo {
                keys: blob_keys(&r.get::<_, Vec<u8>>(6)?),
                fingerprint: r.get(7)?,
                grp: r.get(8)?,
                conflict: r.get(9)?,
            },
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Removes a stored row with everything derived from it.
fn delete_row(
    tx: &rusqlite::Transaction<'_>,
    map: &mut KeyMap,
    row: &StoredRow,
) -> Result<(), StoreError> {
    for k in &row.info.keys {
        map.remove(*k, row.rowid);
    }
    for sql in [
        "DELETE FROM entries WHERE resource = ?1",
        "DELETE FROM entries_text WHERE rowid = ?1",
        "DELETE FROM resources WHERE rowid = ?1",
    ] {
        tx.prepare_cached(sql)?.execute(params![row.rowid])?;
    }
    Ok(())
}

/// Moves a kept row's content key from `from` to `to`; returns what
/// regrouping needs of it.
fn rekey(
    tx: &rusqlite::Transaction<'_>,
    map: &mut KeyMap,
    row: &StoredRow,
    from: i64,
    to: i64,
) -> Result<RowInfo, StoreError> {
    let keys: Vec<i64> = row
        .info
        .keys
        .iter()
        .map(|k| if *k == from { to } else { *k })
        .collect();
    map.remove(from, row.rowid);
    map.add(to, row.rowid);
    tx.prepare_cached("UPDATE entries SET keys = ?2 WHERE resource = ?1")?
        .execute(params![row.rowid, key_blob(&keys)])?;
    Ok(RowInfo {
        keys,
        fingerprint: row.info.fingerprint,
        grp: row.info.grp,
        conflict: row.info.conflict,
    })
}

/// Which kept rows hold one of `contents`, each with its content and its
/// content key now. A content's rows in the stored set are numbered 0, 1, …
/// with no gap, so each content's keys are walked until one is held by no
/// stored row: no kept row's JSON needs reading again.
fn kept_contents(
    old: &[StoredRow],
    is_kept: &[bool],
    contents: &Set<i64>,
) -> Vec<(usize, i64, i64)> {
    let mut holder_of: Map<i64, Option<usize>> = Map::default();
    for (i, row) in old.iter().enumerate() {
        for k in &row.info.keys {
            holder_of.insert(*k, is_kept[i].then_some(i));
        }
    }
    let mut found = Vec::new();
    for &content in contents {
        for n in 0.. {
            let key = crate::merge::numbered(content, n);
            match holder_of.get(&key) {
                Some(Some(i)) => found.push((*i, content, key)),
                Some(None) => {}
                None => break,
            }
        }
    }
    found
}

/// How a holder's set was fetched, for `replace_prepared`: which types came
/// as changes only, and where the next search for changes starts.
#[derive(Debug, Clone, Default)]
pub struct SetFetch {
    /// Types asked only for what changed, each with the holder's total: the
    /// records given are its changed ones, and its stored records the
    /// holder did not send again stay.
    pub changed_only: BTreeMap<String, u64>,
    /// Per type, a FHIR instant on the holder's clock: the next sync asks
    /// only for what changed since. A type missing here is fetched whole.
    pub since: BTreeMap<String, String>,
    /// Types whose holder's count came without a total (so they were
    /// fetched whole): the mark remembers it, and the next syncs fetch them
    /// whole without asking (`ChangeMark::uncounted_at`).
    pub uncounted: BTreeSet<String>,
    /// The scope the holder granted: a mark holds only while it stays.
    pub scope: String,
}

/// A type's mark as `RecordStore::change_marks` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeMark {
    pub since: String,
    pub scope: String,
    /// When the type was last fetched whole.
    pub whole_at: i64,
    /// When the holder last answered a count of the type without a total
    /// (cleared once a count with one lets the type come as changes only).
    pub uncounted_at: Option<i64>,
    /// The ids of its records as stored.
    pub ids: HashSet<String>,
}

/// Per (holder, ticket), per type, the marks `RecordStore::change_marks` reads.
pub type ChangeMarks = HashMap<(String, String), HashMap<String, ChangeMark>>;

/// Removes a (holder, ticket) set's marks.
fn delete_marks(
    conn: &rusqlite::Connection,
    holder: &str,
    ticket_jti: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM change_marks WHERE holder = ?1 AND ticket_jti = ?2")?
        .execute(params![holder, ticket_jti])?;
    Ok(())
}

/// A stored record of a type fetched as changes only, which the holder
/// did not send again: it stays, by its digest.
struct Carried {
    resource_type: String,
    resource_id: String,
    digest: [u8; 32],
}

/// One record of the set being written: as fetched, or carried over.
#[derive(Clone, Copy)]
enum Incoming<'a> {
    Fetched(&'a Record),
    Carried(&'a Carried),
}

impl<'a> Incoming<'a> {
    fn resource_type(&self) -> &'a str {
        match self {
            Self::Fetched(r) => &r.resource_type,
            Self::Carried(c) => &c.resource_type,
        }
    }
    fn id(&self) -> Option<&'a str> {
        match self {
            Self::Fetched(r) => r.id.as_deref(),
            Self::Carried(c) => Some(&c.resource_id),
        }
    }
    fn digest(&self) -> [u8; 32] {
        match self {
            Self::Fetched(r) => *r.digest(),
            Self::Carried(c) => c.digest,
        }
    }
}

/// The stored records of each type fetched as changes only that the holder
/// did not send again; an error unless with what it sent they make the
/// holder's total.
fn carried(
    tx: &rusqlite::Transaction<'_>,
    holder: &str,
    ticket_jti: &str,
    fetch: &SetFetch,
    records: &[&Record],
) -> Result<Vec<Carried>, StoreError> {
    if fetch.changed_only.is_empty() {
        return Ok(Vec::new());
    }
    let sent: HashSet<(&str, &str)> = records
        .iter()
        .filter_map(|r| Some((r.resource_type.as_str(), r.id.as_deref()?)))
        .collect();
    let mut out = Vec::new();
    let mut here: HashMap<String, u64> = HashMap::new();
    each_source_row(tx, holder, ticket_jti, |row| {
        let ty = row.resource_type;
        if !fetch.changed_only.contains_key(&ty) {
            return Ok(());
        }
        let (Some(id), Some(digest)) = (row.resource_id, row.digest) else {
            return Err(StoreError::Incomplete(ty));
        };
        if !sent.contains(&(ty.as_str(), id.as_str())) {
            *here.entry(ty.clone()).or_default() += 1;
            out.push(Carried {
                resource_type: ty,
                resource_id: id,
                digest,
            });
        }
        Ok(())
    })?;
    for (ty, total) in &fetch.changed_only {
        let came = records.iter().filter(|r| r.resource_type == *ty).count() as u64;
        if here.get(ty).copied().unwrap_or(0) + came != *total {
            return Err(StoreError::Incomplete(ty.clone()));
        }
    }
    Ok(out)
}

/// A stored row as `each_source_row` gives it.
struct SourceRow {
    resource_type: String,
    resource_id: Option<String>,
    digest: Option<[u8; 32]>,
}

/// Calls `each` with every stored row of one (holder, ticket) set, from the
/// set's own index alone (it holds the columns read): by type, SQLite would
/// read every holder's rows of that type, and from the table, their JSON.
/// A row without an index entry (none since schema 3) is not told apart
/// here: `replace` cannot match it, and fails rather than guess.
fn each_source_row(
    conn: &rusqlite::Connection,
    holder: &str,
    ticket_jti: &str,
    mut each: impl FnMut(SourceRow) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT resource_type, resource_id, digest
         FROM resources INDEXED BY resources_by_source
         WHERE holder = ?1 AND ticket_jti = ?2",
    )?;
    let mut rows = stmt.query(params![holder, ticket_jti])?;
    while let Some(r) = rows.next()? {
        let digest: Option<Vec<u8>> = r.get(2)?;
        each(SourceRow {
            resource_type: r.get(0)?,
            resource_id: r.get(1)?,
            digest: digest.and_then(|d| <[u8; 32]>::try_from(d.as_slice()).ok()),
        })?;
    }
    Ok(())
}

/// Writes the marks the next sync asks for changes from, in the set's
/// transaction, so a set and its marks move together. A type keeps the
/// time it was last fetched whole, and the time its holder's count came
/// without a total until a count comes with one; a type with a record
/// without an id gets none (its stored records could not be matched to
/// changed ones).
fn write_marks(
    tx: &rusqlite::Transaction<'_>,
    holder: &str,
    ticket_jti: &str,
    fetch: &SetFetch,
    items: &[Incoming<'_>],
    fetched_at: i64,
) -> Result<(), StoreError> {
    let mut before: HashMap<String, (i64, Option<i64>)> = HashMap::new();
    {
        let mut stmt = tx.prepare_cached(
            "SELECT resource_type, whole_at, uncounted_at FROM change_marks WHERE holder = ?1 AND ticket_jti = ?2",
        )?;
        let rows = stmt.query_map(params![holder, ticket_jti], |r| {
            Ok((r.get(0)?, (r.get(1)?, r.get(2)?)))
        })?;
        for row in rows {
            let (ty, at) = row?;
            before.insert(ty, at);
        }
    }
    delete_marks(tx, holder, ticket_jti)?;
    let without_id: HashSet<&str> = items
        .iter()
        .filter(|i| i.id().is_none())
        .map(|i| i.resource_type())
        .collect();
    let mut insert = tx.prepare_cached(
        "INSERT INTO change_marks (holder, ticket_jti, resource_type, since, scope, whole_at, uncounted_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (ty, since) in &fetch.since {
        if without_id.contains(ty.as_str()) {
            continue;
        }
        let last = before.get(ty);
        let whole = match fetch.changed_only.contains_key(ty) {
            false => fetched_at,
            true => match last {
                Some((at, _)) => *at,
                None => continue,
            },
        };
        // A count with a total (asked for changes) clears it; a type fetched
        // whole without asking keeps what was last learnt.
        let uncounted = match (
            fetch.uncounted.contains(ty),
            fetch.changed_only.contains_key(ty),
        ) {
            (true, _) => Some(fetched_at),
            (false, true) => None,
            (false, false) => last.and_then(|(_, u)| *u),
        };
        insert.execute(params![
            holder,
            ticket_jti,
            ty,
            since,
            fetch.scope,
            whole,
            uncounted
        ])?;
    }
    Ok(())
}

/// The statement that writes records' raw rows, taken from the statement
/// cache once for a set or a page rather than once a row.
pub(crate) struct RowWriter<'c>(rusqlite::CachedStatement<'c>);

impl<'c> RowWriter<'c> {
    pub(crate) fn new(tx: &'c rusqlite::Transaction<'_>) -> Result<Self, StoreError> {
        Ok(Self(tx.prepare_cached(
            "INSERT INTO resources (holder, ticket_jti, resource_type, resource_id, fetched_at, json, digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?))
    }

    /// Writes a record's raw row; returns its row id.
    pub(crate) fn insert(
        &mut self,
        holder: &str,
        ticket_jti: &str,
        fetched_at: i64,
        r: &Record,
    ) -> Result<i64, StoreError> {
        Ok(self.0.insert(params![
            holder,
            ticket_jti,
            r.resource_type,
            r.id,
            fetched_at,
            r.json.get(),
            &r.digest()[..]
        ])?)
    }
}

fn source<'a>(person: i64, holder: &'a str, r: &'a Record) -> Source<'a> {
    Source {
        person,
        holder,
        resource_type: &r.resource_type,
        resource_id: r.id.as_deref(),
    }
}

/// A stored row's or an incoming record's place among its content's repeats.
#[derive(Clone, Copy)]
enum Slot {
    Kept(usize),
    New(usize),
}

/// What each record of a set contributes to the index, worked out before
/// the set is written (`RecordStore::replace_prepared`): off the store's
/// lock, while another holder's set is being written.
pub struct PreparedSet(Vec<Option<Prepared>>);

impl PreparedSet {
    /// Every record's entries: for a set not stored before, where every
    /// record is new.
    pub fn all(records: &[&Record]) -> Self {
        Self(
            records
                .iter()
                .map(|r| Some(prepare(r.json.get())))
                .collect(),
        )
    }

    /// None: the records found new are prepared while the set is written.
    pub fn none() -> Self {
        Self(Vec::new())
    }
}

impl RecordStore {
    /// Per (holder, ticket), the types a sync may ask only for what changed:
    /// those whose every stored record has an id and a digest.
    pub fn change_marks(&self) -> Result<ChangeMarks, StoreError> {
        let mut out = ChangeMarks::new();
        let mut marks = self.conn.prepare(
            "SELECT holder, ticket_jti, resource_type, since, scope, whole_at, uncounted_at FROM change_marks",
        )?;
        let rows = marks.query_map([], |r| {
            let mark = ChangeMark {
                since: r.get(3)?,
                scope: r.get(4)?,
                whole_at: r.get(5)?,
                uncounted_at: r.get(6)?,
                ids: HashSet::new(),
            };
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get(2)?,
                mark,
            ))
        })?;
        for row in rows {
            let (holder, jti, ty, mark) = row?;
            out.entry((holder, jti)).or_default().insert(ty, mark);
        }
        for ((holder, jti), types) in &mut out {
            let mut unusable = HashSet::new();
            each_source_row(&self.conn, holder, jti, |row| {
                if let Some(mark) = types.get_mut(&row.resource_type) {
                    match row.resource_id.filter(|_| row.digest.is_some()) {
                        Some(id) => {
                            mark.ids.insert(id);
                        }
                        None => {
                            unusable.insert(row.resource_type);
                        }
                    }
                }
                Ok(())
            })?;
            types.retain(|ty, _| !unusable.contains(ty));
        }
        Ok(out)
    }

    /// Forgets where `holder`'s searches for changes start: its next sync
    /// fetches everything.
    pub fn forget_change_marks(
        &mut self,
        holder: &str,
        ticket_jti: &str,
    ) -> Result<(), StoreError> {
        delete_marks(&self.conn, holder, ticket_jti)
    }

    /// The (holder, ticket) sets stored.
    pub fn stored_sets(&self) -> Result<HashSet<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT holder, ticket_jti FROM syncs WHERE resources > 0")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Replaces what `holder` gave for ticket `ticket_jti` (about `person`)
    /// with `records`, in one transaction, and merges them with their copies
    /// from other holders. Only what changed is written: a record sent again
    /// byte for byte keeps its row.
    pub fn replace(
        &mut self,
        holder: &str,
        ticket_jti: &str,
        person: &Person,
        fetched_at: i64,
        records: &[&Record],
    ) -> Result<Replaced, StoreError> {
        let (none, whole) = (PreparedSet::none(), SetFetch::default());
        self.replace_prepared(
            holder, ticket_jti, person, fetched_at, records, none, &whole,
        )
    }

    /// As `replace`, with some of the work done beforehand (`PreparedSet`),
    /// and types that came as changes only completed from the set as
    /// stored (`SetFetch`).
    #[allow(clippy::too_many_arguments)]
    pub fn replace_prepared(
        &mut self,
        holder: &str,
        ticket_jti: &str,
        person: &Person,
        fetched_at: i64,
        records: &[&Record],
        prepared: PreparedSet,
        fetch: &SetFetch,
    ) -> Result<Replaced, StoreError> {
        let mut ready = prepared.0;
        let tx = self.conn.transaction()?;
        let person = person_id(&tx, ticket_jti, person)?;
        let staging = stage::end(&tx, holder, ticket_jti)?;
        let carried = carried(&tx, holder, ticket_jti, fetch, records)?;
        // Fetched records first, so `prepared`'s indexes still point at them.
        let items: Vec<Incoming<'_>> = records
            .iter()
            .map(|r| Incoming::Fetched(r))
            .chain(carried.iter().map(Incoming::Carried))
            .collect();
        let digests: Vec<[u8; 32]> = items.iter().map(Incoming::digest).collect();
        let digest = set_digest(person, &digests);
        // The same set as last time, and every row of it still there: nothing to write.
        let unchanged: Option<bool> = tx
            .query_row(
                "SELECT digest = ?3 AND resources = ?4
                   AND (SELECT count(*) FROM resources WHERE holder = ?1 AND ticket_jti = ?2) = ?4
                 FROM syncs WHERE holder = ?1 AND ticket_jti = ?2",
                params![holder, ticket_jti, &digest[..], items.len() as i64],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        if unchanged == Some(true) {
            tx.execute(
                "UPDATE syncs SET finished_at = ?3, removed = 0 WHERE holder = ?1 AND ticket_jti = ?2",
                params![holder, ticket_jti, fetched_at],
            )?;
            write_marks(&tx, holder, ticket_jti, fetch, &items, fetched_at)?;
            tx.commit()?;
            return Ok(Replaced {
                stored: items.len(),
                removed: 0,
                written: 0,
                unchanged: true,
            });
        }
        // Taken here, so a write that fails below leaves no map held.
        let (version, mut map) = self.keys.take(&tx)?;
        // A set being staged has no row stored, only rows written while it
        // downloaded: a new record takes one with its digest rather than
        // being written again.
        let (old, staged) = match staging {
            true => (Vec::new(), stage::rows(&tx, holder, ticket_jti)?),
            false => (stored_set(&tx, holder, ticket_jti)?, Vec::new()),
        };
        let mut staged_by: Map<[u8; 32], Vec<i64>> = Map::default();
        for (rowid, digest) in staged.iter().rev() {
            staged_by.entry(*digest).or_default().push(*rowid);
        }
        // Each incoming record takes a stored row with its digest, if one is
        // left. Rows about another person (the ticket's person changed) have
        // other keys throughout: the set is written whole.
        let mut by_digest: HashMap<[u8; 32], Vec<usize>> = HashMap::new();
        if old.iter().all(|r| r.person == person) {
            for (i, row) in old.iter().enumerate().rev() {
                if let Some(d) = row.digest {
                    by_digest.entry(d).or_default().push(i);
                }
            }
        }
        let kept: Vec<Option<usize>> = digests
            .iter()
            .map(|d| by_digest.get_mut(d).and_then(Vec::pop))
            .collect();
        let mut is_kept = vec![false; old.len()];
        for i in kept.iter().flatten() {
            is_kept[*i] = true;
        }
        // The records to insert, each with its content before numbering: all
        // fetched ones, since a carried record always finds its own row.
        let mut prepared: Vec<Option<(Prepared, Option<i64>)>> =
            std::iter::repeat_with(|| None).take(items.len()).collect();
        for (i, _) in kept.iter().enumerate().filter(|(_, k)| k.is_none()) {
            let Incoming::Fetched(r) = items[i] else {
                return Err(StoreError::Incomplete(items[i].resource_type().into()));
            };
            let p = ready
                .get_mut(i)
                .and_then(Option::take)
                .unwrap_or_else(|| prepare(r.json.get()));
            let content = p.content(&source(person, holder, r));
            prepared[i] = Some((p, content));
        }

        // The contents whose repeats may be numbered anew: those of the
        // records coming and going. A kept row's key moves only if its
        // content is one of them.
        let mut contents: Set<i64> = prepared.iter().flatten().filter_map(|(_, c)| *c).collect();
        let gone: Vec<&StoredRow> = old
            .iter()
            .zip(&is_kept)
            .filter(|(_, k)| !**k)
            .map(|(r, _)| r)
            .collect();
        let any_kept = is_kept.iter().any(|k| *k);
        if any_kept {
            let mut json_of = tx.prepare_cached("SELECT json FROM resources WHERE rowid = ?1")?;
            for row in &gone {
                let json: String = json_of.query_row(params![row.rowid], |r| r.get(0))?;
                let s = Source {
                    person,
                    holder,
                    resource_type: &row.resource_type,
                    resource_id: row.resource_id.as_deref(),
                };
                contents.extend(prepare(&json).content(&s));
            }
        }
        let held = if any_kept && !contents.is_empty() {
            kept_contents(&old, &is_kept, &contents)
        } else {
            Vec::new()
        };
        let no_digest = [0u8; 32];
        let mut members: Vec<(RepeatOrder<'_>, i64, Slot)> = held
            .iter()
            .map(|&(i, content, _)| {
                let row = &old[i];
                let order = (
                    row.resource_type.as_str(),
                    row.resource_id.as_deref(),
                    row.digest.as_ref().unwrap_or(&no_digest),
                );
                (order, content, Slot::Kept(i))
            })
            .collect();
        for (i, new) in prepared.iter().enumerate() {
            if let Some((_, Some(content))) = new {
                let order = (items[i].resource_type(), items[i].id(), &digests[i]);
                members.push((order, *content, Slot::New(i)));
            }
        }
        let mut numbered_new = Map::default();
        let mut numbered_kept = Map::default();
        for (slot, key) in number(members) {
            match slot {
                Slot::New(i) => numbered_new.insert(i, key),
                Slot::Kept(i) => numbered_kept.insert(i, key),
            };
        }

        // Rows the holder no longer sends as they are: their keys seed the regrouping.
        let mut seeds = Vec::new();
        for row in &gone {
            delete_row(&tx, &mut map, row)?;
            seeds.extend_from_slice(&row.info.keys);
        }
        let mut indexed = Map::default();
        let mut written = 0;
        for &(i, _, from) in &held {
            let to = numbered_kept.get(&i).copied().unwrap_or(from);
            if to != from {
                let row = &old[i];
                seeds.extend_from_slice(&row.info.keys);
                indexed.insert(row.rowid, rekey(&tx, &mut map, row, from, to)?);
                written += 1;
            }
        }
        let mut rows = RowWriter::new(&tx)?;
        let mut index = IndexWriter::new(&tx)?;
        for (i, r) in records.iter().enumerate() {
            let Some((p, _)) = &prepared[i] else {
                continue;
            };
            let rowid = match staged_by.get_mut(&digests[i]).and_then(Vec::pop) {
                Some(rowid) => rowid,
                None => rows.insert(holder, ticket_jti, fetched_at, r)?,
            };
            let src = source(person, holder, r);
            let mut keys = p.fixed_keys(&src);
            keys.extend(numbered_new.get(&i).copied());
            indexed.insert(
                rowid,
                index.index_one(rowid, &src, p, keys, Some(&mut map))?,
            );
            written += 1;
        }
        drop((rows, index));
        // Staged rows the set did not take (a type the holder then withheld,
        // an earlier sync's that was cut short) go.
        let mut unstage = tx.prepare_cached("DELETE FROM resources WHERE rowid = ?1")?;
        for rowid in staged_by.into_values().flatten() {
            unstage.execute(params![rowid])?;
        }
        drop(unstage);
        regroup(&tx, seeds, indexed, Some(&map))?;
        let removed = removed(&old, &items);
        tx.execute(
            "INSERT INTO syncs (holder, ticket_jti, finished_at, resources, removed, digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (holder, ticket_jti) DO UPDATE SET finished_at = ?3, resources = ?4, removed = ?5, digest = ?6",
            params![holder, ticket_jti, fetched_at, items.len() as i64, removed as i64, &digest[..]],
        )?;
        write_marks(&tx, holder, ticket_jti, fetch, &items, fetched_at)?;
        tx.commit()?;
        self.keys.put_back(version, map);
        Ok(Replaced {
            stored: items.len(),
            removed,
            written,
            unchanged: false,
        })
    }
}

/// How many records the set as stored had that the incoming one no longer
/// has (by type and id). A set stored for the first time has none, and is
/// not hashed record by record to find it out.
fn removed(old: &[StoredRow], items: &[Incoming<'_>]) -> usize {
    if old.is_empty() {
        return 0;
    }
    let now: HashSet<(&str, Option<&str>)> =
        items.iter().map(|r| (r.resource_type(), r.id())).collect();
    let before: HashSet<(&str, Option<&str>)> = old
        .iter()
        .map(|r| (r.resource_type.as_str(), r.resource_id.as_deref()))
        .collect();
    before.difference(&now).count()
}

fn person_id(
    tx: &rusqlite::Transaction<'_>,
    jti: &str,
    person: &Person,
) -> Result<i64, StoreError> {
    let id: i64 = tx.query_row(
        "INSERT INTO people (key, name, family, birth_date) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (key) DO UPDATE SET name = excluded.name, family = excluded.family
         RETURNING id",
        params![
            person.key(jti),
            person.name,
            person.family,
            person.birth_date
        ],
        |r| r.get(0),
    )?;
    tx.execute(
        "INSERT INTO tickets (jti, person) VALUES (?1, ?2) ON CONFLICT (jti) DO UPDATE SET person = excluded.person",
        params![jti, id],
    )?;
    Ok(id)
}
