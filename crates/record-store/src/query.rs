//! What the record view asks of the store. Queries read the derived index
//! only, never the large raw rows, and show each merged group once.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use ts_rs::TS;

use super::fast::Set;
use super::{RecordStore, StoreError};

/// How many matches a search reads and sorts; past that it walks the
/// records newest first (`RecordStore::search_with`). A page of 50 among
/// 100,000 records with a thousand matches walks about 5,000 entries of the
/// date index, each far cheaper than reading a match's row: both ways take
/// a few milliseconds there, and the walk gains as matches grow.
const SORTED_UP_TO: usize = 1_000;

/// One copy of a record, as one holder gave it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct ItemSource {
    pub holder: String,
    pub resource_id: Option<String>,
    pub date: Option<String>,
    pub code: Option<String>,
    pub value: Option<f64>,
    pub unit: Option<String>,
}

/// One line of the timeline, a category list or search results: one fact,
/// however many holders reported it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Item {
    /// Names the group for `show`.
    #[ts(type = "number")]
    pub id: i64,
    /// Pass as `before` to get the page after this item.
    pub cursor: String,
    #[ts(type = "number")]
    pub person: i64,
    pub resource_type: String,
    pub category: String,
    pub date: Option<String>,
    pub display: Option<String>,
    pub value: Option<f64>,
    pub unit: Option<String>,
    /// Copies that should agree do not (see `differs`); every copy is kept.
    pub conflict: bool,
    /// What the copies disagree on: `code`, `date`, `value`, `unit`.
    pub differs: Vec<String>,
    /// Every holder that reported it, first stored first.
    pub sources: Vec<ItemSource>,
}

/// One point of an observation series, for a chart. Copies of one result
/// are one point; copies that disagree are a point each, flagged.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct SeriesPoint {
    pub date: String,
    pub value: f64,
    pub unit: Option<String>,
    pub holders: Vec<String>,
    pub conflict: bool,
    /// The reference range the holder sent with the result (its first
    /// `referenceRange`), when it sent one.
    pub low: Option<f64>,
    pub high: Option<f64>,
}

/// A person the records are about, and who they are at each holder.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct PersonRecords {
    #[ts(type = "number")]
    pub id: i64,
    pub name: Option<String>,
    pub birth_date: Option<String>,
    /// Distinct records (merged copies count once).
    #[ts(type = "number")]
    pub records: usize,
    pub at: Vec<PersonAtHolder>,
}

/// The Patient a holder matched a ticket to.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct PersonAtHolder {
    pub holder: String,
    pub patient_id: Option<String>,
    pub name: Option<String>,
    pub birth_date: Option<String>,
    /// The holder's Patient has the ticket's birth date and family name.
    pub matches: bool,
}

/// The latest value of one test or measurement, for summaries.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct LatestValue {
    pub code: String,
    pub display: Option<String>,
    pub date: String,
    pub value: f64,
    pub unit: Option<String>,
    /// How many results of this code there are.
    #[ts(type = "number")]
    pub count: usize,
}

/// How many records a category holds.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct CategoryCount {
    pub category: String,
    #[ts(type = "number")]
    pub count: usize,
}

/// A paged list: newest first, `before` a cursor (or a date) from the last page.
#[derive(Debug, Clone, Default)]
pub struct Query<'a> {
    pub person: Option<i64>,
    pub category: Option<&'a str>,
    pub before: Option<&'a str>,
    pub limit: usize,
}

/// The representative row of each group, with the group's flag.
const ITEM_COLUMNS: &str = "e.resource, e.person, e.resource_type, e.category, e.date, e.display, e.value, e.unit, e.conflict";

fn item(r: &rusqlite::Row<'_>) -> rusqlite::Result<Item> {
    let id: i64 = r.get(0)?;
    let date: Option<String> = r.get(4)?;
    Ok(Item {
        id,
        cursor: format!("{}|{id}", date.as_deref().unwrap_or_default()),
        person: r.get(1)?,
        resource_type: r.get(2)?,
        category: r.get(3)?,
        date,
        display: r.get(5)?,
        value: r.get(6)?,
        unit: r.get(7)?,
        conflict: r.get(8)?,
        differs: Vec::new(),
        sources: Vec::new(),
    })
}

/// `2024-01-02|815` (a cursor) or `2024-01-02` (a date: everything before it).
fn cursor(before: Option<&str>) -> (Option<String>, Option<i64>) {
    match before {
        None => (None, None),
        Some(b) => match b.split_once('|') {
            Some((date, id)) => (Some(date.to_string()), id.parse().ok()),
            None => (Some(b.to_string()), None),
        },
    }
}

/// Each word of what a person typed, quoted, so FTS5 syntax in it is just text.
fn fts_query(text: &str) -> String {
    text.split_whitespace()
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

fn differs(sources: &[ItemSource]) -> Vec<String> {
    let Some(first) = sources.first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if sources.iter().any(|s| s.code != first.code) {
        out.push("code".into());
    }
    if sources.iter().any(|s| s.date != first.date) {
        out.push("date".into());
    }
    if sources.iter().any(|s| s.value != first.value) {
        out.push("value".into());
    }
    if sources.iter().any(|s| s.unit != first.unit) {
        out.push("unit".into());
    }
    out
}

/// Each code of a section with its latest value and how many (copies once).
/// Read from `entries_series` alone, already in code order: `+` keeps SQLite
/// from looking up each row of the section through `entries_by_category`.
/// SQLite takes the bare columns from the row that holds max(date); only its
/// display is looked up.
const LATEST_VALUES: &str = "
    SELECT l.code, (SELECT d.display FROM entries d WHERE d.resource = l.latest) AS display,
           l.date, l.value, l.unit, l.n
    FROM (SELECT e.code, max(e.date) AS date, e.value, e.unit, e.resource AS latest, count(*) AS n
          FROM entries e
          WHERE +e.category = ?1 AND e.grp = e.resource AND e.code IS NOT NULL
            AND e.value IS NOT NULL AND e.date IS NOT NULL AND (?2 IS NULL OR e.person = ?2)
          GROUP BY e.code) l
    ORDER BY display";

impl RecordStore {
    /// Fills in every item's sources (one query per 500 items).
    fn with_sources(&self, mut items: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut by_group: HashMap<i64, Vec<ItemSource>> = HashMap::new();
        for chunk in items.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let mut stmt = self.conn.prepare(&format!(
                "SELECT grp, holder, resource_id, date, code, value, unit FROM entries WHERE grp IN ({marks}) ORDER BY resource"
            ))?;
            let ids = chunk.iter().map(|i| i.id);
            let rows = stmt.query_map(rusqlite::params_from_iter(ids), |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    ItemSource {
                        holder: r.get(1)?,
                        resource_id: r.get(2)?,
                        date: r.get(3)?,
                        code: r.get(4)?,
                        value: r.get(5)?,
                        unit: r.get(6)?,
                    },
                ))
            })?;
            for row in rows {
                let (grp, source) = row?;
                by_group.entry(grp).or_default().push(source);
            }
        }
        for i in &mut items {
            i.sources = by_group.remove(&i.id).unwrap_or_default();
            if i.conflict {
                i.differs = differs(&i.sources);
            }
        }
        Ok(items)
    }

    /// Newest first, across every type and holder, each fact once.
    pub fn timeline(&self, q: &Query<'_>) -> Result<Vec<Item>, StoreError> {
        let (date, id) = cursor(q.before);
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM entries e
             WHERE e.date IS NOT NULL AND e.grp = e.resource
               AND (?1 IS NULL OR e.category = ?1) AND (?2 IS NULL OR e.person = ?2)
               AND (?3 IS NULL OR (e.date <= ?3 AND (e.date < ?3 OR e.resource < ?4)))
             ORDER BY e.date DESC, e.resource DESC LIMIT ?5"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![q.category, q.person, date, id, q.limit as i64],
            item,
        )?;
        self.with_sources(rows.collect::<Result<_, _>>()?)
    }

    /// The values of one code over time (lab trends, vitals), oldest first.
    pub fn series(&self, code: &str, person: Option<i64>) -> Result<Vec<SeriesPoint>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.grp, e.date, e.value, e.unit, e.holder, e.conflict, e.ref_low, e.ref_high
             FROM entries e
             WHERE e.code = ?1 AND e.value IS NOT NULL AND e.date IS NOT NULL
               AND (?2 IS NULL OR e.person = ?2)
             ORDER BY e.date, e.grp, e.resource",
        )?;
        let mut points: Vec<(i64, SeriesPoint)> = Vec::new();
        let mut rows = stmt.query(params![code, person])?;
        while let Some(r) = rows.next()? {
            let grp: i64 = r.get(0)?;
            let p = SeriesPoint {
                date: r.get(1)?,
                value: r.get(2)?,
                unit: r.get(3)?,
                holders: vec![r.get(4)?],
                conflict: r.get(5)?,
                low: r.get(6)?,
                high: r.get(7)?,
            };
            // Copies of one result (same group, same reading) are one point.
            let same = points
                .iter_mut()
                .rev()
                .take_while(|(g, _)| *g == grp)
                .find(|(_, q)| q.date == p.date && q.value == p.value && q.unit == p.unit);
            match same {
                Some((_, q)) => {
                    // A range any copy sent is shown.
                    q.low = q.low.or(p.low);
                    q.high = q.high.or(p.high);
                    q.holders.extend(p.holders);
                }
                None => points.push((grp, p)),
            }
        }
        Ok(points.into_iter().map(|(_, p)| p).collect())
    }

    /// Records whose display, notes or text values contain every word of
    /// `text`, newest first (then the latest written; undated last).
    pub fn search(&self, text: &str, q: &Query<'_>) -> Result<Vec<Item>, StoreError> {
        self.search_with(text, q, SORTED_UP_TO)
    }

    /// `search`, reading every match and sorting them when there are at
    /// most `sorted_up_to`; past that, walking the records newest first and
    /// keeping the matches, which stops after a page: a common word
    /// ("hemoglobin": 18,000 of 100,000 records) cost a lookup of every
    /// match's row to sort them all.
    fn search_with(
        &self,
        text: &str,
        q: &Query<'_>,
        sorted_up_to: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let query = fts_query(text);
        if query.is_empty() {
            return Ok(Vec::new());
        }
        let matches: Set<i64> = self
            .conn
            .prepare_cached("SELECT rowid FROM entries_text WHERE entries_text MATCH ?1")?
            .query_map([&query], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        // Walked by date only through its index (a first sync builds it
        // after done; until then the matches are sorted).
        let items = if matches.len() > sorted_up_to
            && crate::deferred::built(&self.conn, "entries_by_date")?
        {
            self.newest_of(&matches, q)?
        } else {
            let sql = format!(
                "SELECT {ITEM_COLUMNS} FROM entries_text t JOIN entries e ON e.resource = t.rowid
                 WHERE entries_text MATCH ?1 AND e.grp = e.resource AND (?2 IS NULL OR e.person = ?2)
                 ORDER BY e.date DESC, e.resource DESC LIMIT ?3"
            );
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![query, q.person, q.limit as i64], item)?;
            rows.collect::<Result<_, _>>()?
        };
        self.with_sources(items)
    }

    /// The newest `q.limit` facts among `rows`, in `search`'s order: the
    /// date index read newest first (no row read but the matches').
    fn newest_of(&self, rows: &Set<i64>, q: &Query<'_>) -> Result<Vec<Item>, StoreError> {
        let mut walk = self
            .conn
            .prepare_cached("SELECT resource FROM entries ORDER BY date DESC, resource DESC")?;
        let mut one = self.conn.prepare_cached(&format!(
            "SELECT {ITEM_COLUMNS} FROM entries e
             WHERE e.resource = ?1 AND e.grp = e.resource AND (?2 IS NULL OR e.person = ?2)"
        ))?;
        let mut out = Vec::new();
        let mut newest = walk.query([])?;
        while out.len() < q.limit {
            let Some(r) = newest.next()? else {
                break;
            };
            let row: i64 = r.get(0)?;
            if rows.contains(&row)
                && let Some(found) = one.query_row(params![row, q.person], item).optional()?
            {
                out.push(found);
            }
        }
        Ok(out)
    }

    /// One fact with every copy of it, for `show`.
    pub fn item(&self, id: i64) -> Result<Option<Item>, StoreError> {
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM entries e WHERE e.resource = (SELECT grp FROM entries WHERE resource = ?1)"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let found: Vec<Item> = stmt
            .query_map(params![id], item)?
            .collect::<Result<_, _>>()?;
        Ok(self.with_sources(found)?.into_iter().next())
    }

    /// Each code in `category` with a value: its latest result and how many.
    pub fn latest_values(
        &self,
        category: &str,
        person: Option<i64>,
    ) -> Result<Vec<LatestValue>, StoreError> {
        let mut stmt = self.conn.prepare_cached(LATEST_VALUES)?;
        let rows = stmt.query_map(params![category, person], |r| {
            Ok(LatestValue {
                code: r.get(0)?,
                display: r.get(1)?,
                date: r.get(2)?,
                value: r.get(3)?,
                unit: r.get(4)?,
                count: r.get::<_, i64>(5)? as usize,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many records (merged copies once) each category holds for a person.
    pub fn category_counts(&self, person: Option<i64>) -> Result<Vec<CategoryCount>, StoreError> {
        // Two statements rather than `?1 IS NULL OR …`, which keeps SQLite
        // from reading one person's range of `entries_by_person`.
        let mut stmt = self.conn.prepare_cached(match person {
            Some(_) => {
                "SELECT e.category, count(*) FROM entries e INDEXED BY entries_by_person
                 WHERE e.grp = e.resource AND e.resource_type != 'Patient' AND e.person = ?1
                 GROUP BY e.category ORDER BY e.category"
            }
            None => {
                "SELECT e.category, count(*) FROM entries e INDEXED BY entries_by_person
                 WHERE e.grp = e.resource AND e.resource_type != 'Patient' AND ?1 IS NULL
                 GROUP BY e.category ORDER BY e.category"
            }
        })?;
        let rows = stmt.query_map(params![person], |r| {
            Ok(CategoryCount {
                category: r.get(0)?,
                count: r.get::<_, i64>(1)? as usize,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The people this profile holds records about.
    pub fn people(&self) -> Result<Vec<PersonRecords>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT p.id, p.name, p.family, p.birth_date,
                    (SELECT count(*) FROM entries e INDEXED BY entries_by_person
                     WHERE e.person = p.id AND e.grp = e.resource AND e.resource_type != 'Patient')
             FROM people p ORDER BY p.id",
        )?;
        type Row = (i64, Option<String>, Option<String>, Option<String>, i64);
        let people: Vec<Row> = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<Result<_, _>>()?;
        let mut patients = self.conn.prepare(concat!(
            "SELECT DISTINCT r.holder, r.resource_id, r.json FROM resources r INDEXED BY resources_patients JOIN tickets t ON t.jti = r.ticket_jti
             WHERE t.person = ?1 AND r.resource_type = 'Patient' AND ",
            visible!(),
            " ORDER BY r.holder",
        ))?;
        let mut out = Vec::new();
        for (id, name, family, birth_date, records) in people {
            let mut at: Vec<PersonAtHolder> = Vec::new();
            let rows = patients.query_map(params![id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?;
            for row in rows {
                let (holder, patient_id, json) = row?;
                if at
                    .iter()
                    .any(|a| a.holder == holder && a.patient_id == patient_id)
                {
                    continue;
                }
                let p: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
                let their_family = p["name"][0]["family"].as_str();
                let their_birth = p["birthDate"].as_str();
                let matches = their_birth.is_some()
                    && their_birth == birth_date.as_deref()
                    && their_family
                        .zip(family.as_deref())
                        .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b));
                at.push(PersonAtHolder {
                    holder,
                    patient_id,
                    name: permission_ticket::fhir::resource_display_name(&p),
                    birth_date: their_birth.map(str::to_string),
                    matches,
                });
            }
            out.push(PersonRecords {
                id,
                name,
                birth_date,
                records: records as usize,
                at,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ok, record};
    use crate::{Person, Record};

    /// A Rivera born on one day: two first names are two people.
    fn person(name: &str) -> Person {
        Person {
            name: Some(name.into()),
            family: Some("Rivera".into()),
            birth_date: Some("1984-03-12".into()),
        }
    }

    /// An HbA1c result, its code's text the word searched for; some undated,
    /// several on one day, so the order's every rule is met.
    fn a1c(id: usize) -> Record {
        let mut json = serde_json::json!({ "resourceType": "Observation", "id": format!("o{id}"),
            "category": [{ "coding": [{ "code": "laboratory" }] }],
            "code": { "coding": [{ "system": "http://loinc.org", "code": "4548-4" }], "text": "Hemoglobin A1c" },
            "valueQuantity": { "value": 5.0 + (id % 40) as f64 / 10.0, "unit": "%" } });
        if !id.is_multiple_of(13) {
            json["effectiveDateTime"] =
                format!("20{:02}-{:02}-{:02}", 10 + id % 15, 1 + id % 12, 1 + id % 5).into();
        }
        let vital = serde_json::json!({ "resourceType": "Observation", "id": format!("v{id}"),
            "code": { "text": "Heart rate" }, "effectiveDateTime": "2020-01-01" });
        record(if id.is_multiple_of(4) { vital } else { json })
    }

    #[test]
    fn a_search_walked_newest_first_finds_what_sorting_every_match_finds() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let key = vault::DatabaseKey::from_bytes([6; 32]);
        let mut store = ok(RecordStore::open(&dir.path().join("records.db"), &key));
        let records: Vec<Record> = (0..1_600).map(a1c).collect();
        let all: Vec<&Record> = records.iter().collect();
        // Two holders with the same results (merged: one row of each pair is
        // not its group's), a third's about another person.
        ok(store.replace("https://a.example/fhir", "t1", &person("Ana"), 1, &all));
        ok(store.replace(
            "https://b.example/fhir",
            "t1",
            &person("Ana"),
            1,
            &all[..700],
        ));
        ok(store.replace(
            "https://c.example/fhir",
            "t2",
            &person("Leo"),
            1,
            &all[300..],
        ));
        let people: Vec<i64> = ok(store.people()).iter().map(|p| p.id).collect();
        assert_eq!(people.len(), 2);
        assert!(ok(crate::deferred::built(&store.conn, "entries_by_date")));
        for who in [None, Some(people[0]), Some(people[1])] {
            for limit in [1, 7, 50, 5_000] {
                let q = Query {
                    person: who,
                    limit,
                    ..Query::default()
                };
                let walked = ok(store.search_with("hemoglobin", &q, 0));
                let sorted = ok(store.search_with("hemoglobin", &q, usize::MAX));
                assert!(!walked.is_empty(), "{who:?} {limit}");
                assert_eq!(walked, sorted, "{who:?} {limit}");
                assert!(
                    walked.windows(2).all(|w| w[0].date >= w[1].date),
                    "newest first, undated last"
                );
            }
        }
        // The walk reads the date index in its order: no sort of the store.
        let plan: Vec<String> = ok(store
            .conn
            .prepare(
                "EXPLAIN QUERY PLAN SELECT resource FROM entries ORDER BY date DESC, resource DESC",
            )
            .and_then(|mut s| s.query_map([], |r| r.get(3))?.collect())
            .map_err(StoreError::from));
        assert!(
            plan.iter().any(|p| p.contains("entries_by_date"))
                && !plan.iter().any(|p| p.contains("TEMP B-TREE")),
            "{plan:?}"
        );
    }

    /// A measurement as a holder sends it: `code` in `category`, on `day`.
    fn measured(id: &str, category: &str, code: &str, name: &str, day: &str, value: f64) -> Record {
        record(serde_json::json!({ "resourceType": "Observation", "id": id,
            "category": [{ "coding": [{ "code": category }] }],
            "code": { "coding": [{ "system": "http://loinc.org", "code": code, "display": name }] },
            "effectiveDateTime": day, "valueQuantity": { "value": value, "unit": "u" } }))
    }

    #[test]
    fn a_section_shows_each_measure_s_latest_value_its_copies_counted_once() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let key = vault::DatabaseKey::from_bytes([6; 32]);
        let mut store = ok(RecordStore::open(&dir.path().join("records.db"), &key));
        let hr = |id, day, v| measured(id, "vital-signs", "8867-4", "Heart rate", day, v);
        let a = [
            hr("a1", "2024-01-01", 60.0),
            hr("a2", "2024-03-01", 70.0),
            measured(
                "a3",
                "vital-signs",
                "29463-7",
                "Body weight",
                "2024-02-01",
                80.0,
            ),
            measured(
                "a4",
                "laboratory",
                "4548-4",
                "Hemoglobin A1c",
                "2024-06-01",
                6.1,
            ),
        ];
        // b holds a copy of a's 70 and the newest; c is about someone else.
        let b = [hr("b1", "2024-03-01", 70.0), hr("b2", "2024-05-01", 72.0)];
        let c = [hr("c1", "2025-01-01", 99.0)];
        fn refs(r: &[Record]) -> Vec<&Record> {
            r.iter().collect()
        }
        ok(store.replace("https://a/fhir", "t1", &person("Ana"), 1, &refs(&a)));
        ok(store.replace("https://b/fhir", "t1", &person("Ana"), 1, &refs(&b)));
        ok(store.replace("https://c/fhir", "t2", &person("Leo"), 1, &refs(&c)));
        let ids: Vec<i64> = ok(store.people()).iter().map(|p| p.id).collect();
        let shown = |category: &str, who: Option<i64>| -> Vec<String> {
            ok(store.latest_values(category, who))
                .iter()
                .map(|v| {
                    format!(
                        "{} {} {:?} {} {:?} ×{}",
                        v.code,
                        v.display.as_deref().unwrap_or("-"),
                        v.value,
                        v.date,
                        v.unit,
                        v.count
                    )
                })
                .collect()
        };
        assert_eq!(
            shown("vitals", Some(ids[0])),
            [
                "29463-7 Body weight 80.0 2024-02-01 Some(\"u\") ×1",
                "8867-4 Heart rate 72.0 2024-05-01 Some(\"u\") ×3",
            ],
            "by name, each its newest value, the copy of 70 once"
        );
        assert_eq!(
            shown("vitals", None),
            [
                "29463-7 Body weight 80.0 2024-02-01 Some(\"u\") ×1",
                "8867-4 Heart rate 99.0 2025-01-01 Some(\"u\") ×4",
            ]
        );
        assert_eq!(
            shown("vitals", Some(ids[1])),
            ["8867-4 Heart rate 99.0 2025-01-01 Some(\"u\") ×1"]
        );
        assert_eq!(
            shown("labs", None),
            ["4548-4 Hemoglobin A1c 6.1 2024-06-01 Some(\"u\") ×1"]
        );
        // Read from the chart index alone, in its order: no row looked up
        // through the index by category, no sort of the section's rows.
        let plan: Vec<String> = ok(store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {LATEST_VALUES}"))
            .and_then(|mut s| {
                s.query_map(params!["vitals", ids[0]], |r| r.get(3))?
                    .collect()
            })
            .map_err(StoreError::from));
        assert!(
            plan.iter()
                .any(|p| p.contains("COVERING INDEX entries_series"))
                && !plan
                    .iter()
                    .any(|p| p.contains("entries_by_category") || p.contains("GROUP BY")),
            "{plan:?}"
        );
    }

    #[test]
    fn a_cursor_or_a_plain_date_pages_on() {
        assert_eq!(
            cursor(Some("2024-01-02|815")),
            (Some("2024-01-02".into()), Some(815))
        );
        assert_eq!(
            cursor(Some("2024-01-02")),
            (Some("2024-01-02".into()), None)
        );
        assert_eq!(cursor(None), (None, None));
    }

    #[test]
    fn what_copies_disagree_on_is_named() {
        let s = |date: &str, value: f64| ItemSource {
            holder: "h".into(),
            resource_id: None,
            date: Some(date.into()),
            code: Some("4548-4".into()),
            value: Some(value),
            unit: Some("%".into()),
        };
        assert_eq!(
            differs(&[s("2021-04-20", 7.4), s("2021-04-21", 7.4)]),
            vec!["date"]
        );
        assert_eq!(
            differs(&[s("2021-04-20", 7.4), s("2021-04-20", 7.9)]),
            vec!["value"]
        );
        assert!(differs(&[s("2021-04-20", 7.4), s("2021-04-20", 7.4)]).is_empty());
    }
}
