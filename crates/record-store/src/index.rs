//! The derived index of the record store: what each record is indexed and
//! matched by (`prepare`, pure), writing it beside its raw row
//! (`IndexWriter`), and the groups of copies of one fact (`regroup`).
//! Everything here can be recomputed from the raw rows (`rebuild_index`).

use super::fast::{Map, Set};

use rusqlite::{OptionalExtension, params};

use super::keys::KeyMap;
use super::tree::Json;
use super::{StoreError, extract, merge};

/// Where a stored resource came from, as the index repeats it (so queries
/// never read the large raw rows).
pub(super) struct Source<'a> {
    pub person: i64,
    pub holder: &'a str,
    pub resource_type: &'a str,
    pub resource_id: Option<&'a str>,
}

impl Source<'_> {
    fn origin(&self) -> merge::Origin<'_> {
        merge::Origin {
            person: self.person,
            holder: self.holder,
            resource_type: self.resource_type,
            resource_id: self.resource_id,
        }
    }
}

/// A row's match keys as stored beside it (8 bytes each, little-endian), so
/// the rows holding a key can be read back (`keys.rs`).
pub(super) fn key_blob(keys: &[i64]) -> Vec<u8> {
    keys.iter().flat_map(|k| k.to_le_bytes()).collect()
}

pub(super) fn blob_keys(blob: &[u8]) -> Vec<i64> {
    blob.chunks_exact(8)
        .map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            i64::from_le_bytes(b)
        })
        .collect()
}

/// What grouping needs to know of a row.
pub(super) struct RowInfo {
    pub keys: Vec<i64>,
    pub fingerprint: i64,
    /// Its group and flag as stored now (a write is skipped when they stay).
    pub grp: i64,
    pub conflict: bool,
}

/// What a record contributes to the index, worked out from its JSON alone
/// (so outside the store's lock, before the person it is about has a row).
pub(crate) struct Prepared {
    entry: extract::Entry,
    fingerprint: i64,
    identifiers: Vec<(String, String)>,
}

impl Prepared {
    /// Its keys that do not depend on its place in its set.
    pub fn fixed_keys(&self, src: &Source<'_>) -> Vec<i64> {
        merge::fixed_keys(&src.origin(), &self.identifiers)
    }

    /// Its content before repeats are numbered (`merge::content`).
    pub fn content(&self, src: &Source<'_>) -> Option<i64> {
        merge::content(&src.origin(), &self.entry)
    }
}

pub(crate) fn prepare(json: &str) -> Prepared {
    let value = Json::parse(json);
    let entry = extract::extract(&value);
    Prepared {
        fingerprint: merge::fingerprint(&entry),
        identifiers: merge::identifiers(&value),
        entry,
    }
}

/// The order in which a set's repeats are numbered: by type and id (then
/// digest), not the order pages finished in, so the same set always gets
/// the same keys and a new version of one record moves no other's number.
pub(super) type RepeatOrder<'a> = (&'a str, Option<&'a str>, &'a [u8; 32]);

/// Numbers the readings of each content within one set, from 0 in
/// `RepeatOrder`: each member `(order, content, slot)` gets its content key.
pub(super) fn number<T>(mut members: Vec<(RepeatOrder<'_>, i64, T)>) -> Vec<(T, i64)> {
    members.sort_by(|(a, c, _), (b, d, _)| (c, a).cmp(&(d, b)));
    let mut out = Vec::with_capacity(members.len());
    let mut current = None;
    let mut n = 0;
    for (_, content, slot) in members {
        if current != Some(content) {
            current = Some(content);
            n = 0;
        }
        out.push((slot, merge::numbered(content, n)));
        n += 1;
    }
    out
}

/// The statements that write a row's index entry and full text, taken from
/// the statement cache once for a whole set rather than once a row.
pub(super) struct IndexWriter<'c> {
    entry: rusqlite::CachedStatement<'c>,
    text: rusqlite::CachedStatement<'c>,
}

impl<'c> IndexWriter<'c> {
    pub(super) fn new(tx: &'c rusqlite::Transaction<'_>) -> Result<Self, StoreError> {
        Ok(Self {
            entry: tx.prepare_cached(
                "INSERT INTO entries (resource, person, grp, fingerprint, keys, holder, resource_type, resource_id, category, date, code_system, code, display, value, unit, ref_low, ref_high)
                 VALUES (?1, ?2, ?1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )?,
            text: tx.prepare_cached("INSERT INTO entries_text (rowid, text) VALUES (?1, ?2)")?,
        })
    }

    /// Writes a row's index entry and full text, and adds its keys to `map`
    /// (when one is kept); it starts as a group of its own (`regroup` joins
    /// it to its copies).
    pub(super) fn index_one(
        &mut self,
        rowid: i64,
        src: &Source<'_>,
        p: &Prepared,
        keys: Vec<i64>,
        map: Option<&mut KeyMap>,
    ) -> Result<RowInfo, StoreError> {
        let e = &p.entry;
        self.entry.execute(params![
            rowid,
            src.person,
            p.fingerprint,
            key_blob(&keys),
            src.holder,
            src.resource_type,
            src.resource_id,
            e.category,
            e.date,
            e.code_system,
            e.code,
            e.display,
            e.value,
            e.unit,
            e.ref_low,
            e.ref_high
        ])?;
        if !e.text.is_empty() {
            self.text.execute(params![rowid, e.text])?;
        }
        if let Some(map) = map {
            for k in &keys {
                map.add(*k, rowid);
            }
        }
        Ok(RowInfo {
            keys,
            fingerprint: p.fingerprint,
            grp: rowid,
            conflict: false,
        })
    }
}

/// Recomputes the groups of the rows in `rows`, of rows that share a key
/// with `seeds` or with a row in `rows`, and of every row joined to those
/// through further keys, found in `map`. Without a map, `rows` is every row there is and nothing is
/// looked up.
pub(super) fn regroup(
    tx: &rusqlite::Transaction<'_>,
    seeds: Vec<i64>,
    mut rows: Map<i64, RowInfo>,
    map: Option<&KeyMap>,
) -> Result<(), StoreError> {
    if let Some(map) = map {
        let mut seen_keys: Set<i64> = rows.values().flat_map(|i| i.keys.iter().copied()).collect();
        let mut keys: Vec<i64> = seeds.into_iter().filter(|k| seen_keys.insert(*k)).collect();
        // Other rows that share a key with one in `rows`.
        let mut found: Vec<i64> = seen_keys
            .iter()
            .flat_map(|k| map.rows(*k))
            .filter(|r| !rows.contains_key(r))
            .copied()
            .collect();
        let mut row_info = tx.prepare_cached(
            "SELECT fingerprint, grp, conflict, keys FROM entries WHERE resource = ?1",
        )?;
        // Alternately: rows not yet known are read, and their unseen keys looked up.
        while !found.is_empty() || !keys.is_empty() {
            for row in std::mem::take(&mut found) {
                if rows.contains_key(&row) {
                    continue;
                }
                let info = row_info
                    .query_row(params![row], |r| {
                        Ok(RowInfo {
                            fingerprint: r.get(0)?,
                            grp: r.get(1)?,
                            conflict: r.get(2)?,
                            keys: blob_keys(&r.get::<_, Vec<u8>>(3)?),
                        })
                    })
                    .optional()?;
                if let Some(info) = info {
                    keys.extend(info.keys.iter().filter(|k| seen_keys.insert(**k)));
                    rows.insert(row, info);
                }
            }
            for key in std::mem::take(&mut keys) {
                found.extend(map.rows(key).iter().filter(|r| !rows.contains_key(r)));
            }
        }
    }
    // Pairs in a fixed order, so the groups do not depend on the order found.
    let mut pairs: Vec<(i64, i64)> = rows
        .iter()
        .flat_map(|(&row, i)| i.keys.iter().map(move |&k| (k, row)))
        .collect();
    pairs.sort_unstable();
    let mut groups = merge::Groups::default();
    for &row in rows.keys() {
        groups.row(row);
    }
    for (key, row) in pairs {
        groups.add(row, key);
    }
    let assigned = groups.assignments();
    let mut prints: Map<i64, Set<i64>> = Map::default();
    for &(row, grp) in &assigned {
        if let Some(i) = rows.get(&row) {
            prints.entry(grp).or_default().insert(i.fingerprint);
        }
    }
    let mut update =
        tx.prepare_cached("UPDATE entries SET grp = ?2, conflict = ?3 WHERE resource = ?1")?;
    for (row, grp) in assigned {
        let conflict = prints.get(&grp).is_some_and(|p| p.len() > 1);
        if rows
            .get(&row)
            .is_some_and(|i| i.grp != grp || i.conflict != conflict)
        {
            update.execute(params![row, grp, conflict])?;
        }
    }
    Ok(())
}

pub(super) fn rebuild_index(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    // A set staged by a sync cut short is not a set: it goes, not indexed.
    crate::stage::discard_all(tx)?;
    tx.execute_batch(
        "DELETE FROM entries; INSERT INTO entries_text (entries_text) VALUES ('delete-all');",
    )?;
    type Row = (i64, i64, String, String, String, Option<String>, String);
    let rows: Vec<Row> = {
        // Records fetched before people were kept belong to person 0 until the next sync.
        let mut stmt = tx.prepare(
            "SELECT r.rowid, coalesce(t.person, 0), r.holder, r.ticket_jti, r.resource_type, r.resource_id, r.json
             FROM resources r LEFT JOIN tickets t ON t.jti = r.ticket_jti
             ORDER BY r.holder, r.ticket_jti, r.rowid",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let mut indexed = Map::with_capacity_and_hasher(rows.len(), Default::default());
    // Repeats are numbered per set (one holder, one ticket).
    for set in rows.chunk_by(|a, b| a.2 == b.2 && a.3 == b.3) {
        let prepared: Vec<(Source<'_>, Prepared, Option<i64>, [u8; 32])> = set
            .iter()
            .map(|(_, person, holder, _, ty, id, json)| {
                let src = Source {
                    person: *person,
                    holder,
                    resource_type: ty,
                    resource_id: id.as_deref(),
                };
                let p = prepare(json);
                let content = p.content(&src);
                let digest = crate::record_digest(ty, id.as_deref(), json);
                (src, p, content, digest)
            })
            .collect();
        let numbered: Map<usize, i64> = number(
            prepared
                .iter()
                .enumerate()
                .filter_map(|(i, (src, _, content, d))| {
                    content.map(|c| ((src.resource_type, src.resource_id, d), c, i))
                })
                .collect(),
        )
        .into_iter()
        .collect();
        let mut writer = IndexWriter::new(tx)?;
        for (i, ((src, p, _, _), row)) in prepared.iter().zip(set).enumerate() {
            let mut keys = p.fixed_keys(src);
            keys.extend(numbered.get(&i).copied());
            indexed.insert(row.0, writer.index_one(row.0, src, p, keys, None)?);
        }
    }
    regroup(tx, Vec::new(), indexed, None)
}
