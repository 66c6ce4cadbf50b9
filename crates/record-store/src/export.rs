//! Records leaving the store whole: one holder's as received, the merged
//! record of a person as one FHIR Bundle, and every copy of one fact.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::io::{BufWriter, Write};

use rusqlite::params;
use serde::Serialize;
use serde_json::{Value, json};
use ts_rs::TS;

use super::{RecordStore, StoreError};
use crate::fast::Map;
use crate::members::{Object, separate};

/// Marks a merged resource with the other places it came from.
pub const ALSO_FROM: &str = "urn:ticket-wallet:extension:also-from";
/// Tags a resource whose copies disagree.
pub const MERGE_TAGS: &str = "urn:ticket-wallet:merge";

/// One copy of a fact with its provenance and the JSON its holder sent.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Copy {
    pub holder: String,
    pub ticket_jti: String,
    #[ts(type = "number")]
    pub fetched_at: i64,
    pub resource_type: String,
    pub resource_id: Option<String>,
    /// The resource exactly as received.
    pub json: String,
}

fn full_url(holder: &str, resource_type: &str, id: Option<&str>) -> Option<String> {
    // Pushed rather than `format!`ed: one for every record exported.
    let id = id?;
    let holder = holder.trim_end_matches('/');
    let mut url = String::with_capacity(holder.len() + resource_type.len() + id.len() + 2);
    for part in [holder, "/", resource_type, "/", id] {
        url.push_str(part);
    }
    Some(url)
}

/// A row of the merged export, borrowed from the statement.
struct Reading<'a> {
    grp: i64,
    conflict: bool,
    holder: &'a str,
    resource_type: &'a str,
    resource_id: Option<&'a str>,
    json: &'a str,
}

/// What a fact's copy still to come is to do, decided when its first copy
/// came: left out (the same reading was written), or written naming the
/// places of its reading's other copies.
enum Later {
    Skip,
    Write(Vec<String>),
}

const BUNDLE_START: &[u8] = br#"{"resourceType":"Bundle","type":"collection","entry":["#;
const BUNDLE_END: &[u8] = b"]}";

/// `s` as a JSON string, serialised directly: through `Value`'s `Display`
/// it took a twelfth of the export's instructions.
fn json_string(s: &str) -> String {
    // A string always serialises.
    serde_json::to_string(s).unwrap_or_default()
}

impl RecordStore {
    /// Every record `holder` gave (for any ticket), as a FHIR `collection`
    /// Bundle of the resources exactly as they were received, written to
    /// `out` as the rows are read.
    pub fn write_holder(&self, holder: &str, out: impl Write) -> Result<(), StoreError> {
        let mut out = BufWriter::new(out);
        let mut stmt = self.conn.prepare(concat!(
            "SELECT json FROM resources r WHERE holder = ?1 AND ",
            visible!(),
            " ORDER BY resource_type, rowid",
        ))?;
        let mut rows = stmt.query(params![holder])?;
        out.write_all(BUNDLE_START)?;
        let mut first = true;
        while let Some(row) = rows.next()? {
            separate(&mut first, &mut out)?;
            // The stored text is JSON the holder sent and the wallet parsed; it is spliced as is.
            out.write_all(br#"{"resource":"#)?;
            out.write_all(row.get::<_, String>(0)?.as_bytes())?;
            out.write_all(b"}")?;
        }
        out.write_all(BUNDLE_END)?;
        out.flush()?;
        Ok(())
    }

    /// [`Self::write_holder`] into a string.
    pub fn export_holder(&self, holder: &str) -> Result<String, StoreError> {
        let mut out = Vec::new();
        self.write_holder(holder, &mut out)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// The raw JSON of every record of `resource_type` from `holder`.
    pub fn records(&self, holder: &str, resource_type: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare(concat!(
            "SELECT json FROM resources r WHERE holder = ?1 AND resource_type = ?2 AND ",
            visible!(),
            " ORDER BY rowid",
        ))?;
        let rows = stmt.query_map(params![holder, resource_type], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every copy of the fact `id` names, first stored first.
    pub fn copies(&self, id: i64) -> Result<Vec<Copy>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT r.holder, r.ticket_jti, r.fetched_at, r.resource_type, r.resource_id, r.json
             FROM entries e JOIN resources r ON r.rowid = e.resource
             WHERE e.grp = (SELECT grp FROM entries WHERE resource = ?1) ORDER BY e.resource",
        )?;
        let rows = stmt.query_map(params![id], |r| {
            Ok(Copy {
                holder: r.get(0)?,
                ticket_jti: r.get(1)?,
                fetched_at: r.get(2)?,
                resource_type: r.get(3)?,
                resource_id: r.get(4)?,
                json: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Each person's Patient URL at every holder, for `Patient.link`.
    fn patient_urls(&self, person: Option<i64>) -> Result<HashMap<i64, Vec<String>>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT e.person, r.holder, r.resource_id
             FROM entries e JOIN resources r ON r.rowid = e.resource
             WHERE r.resource_type = 'Patient' AND (?1 IS NULL OR e.person = ?1)
             ORDER BY e.grp, e.resource",
        )?;
        let mut rows = stmt.query(params![person])?;
        let mut patients: HashMap<i64, Vec<String>> = HashMap::new();
        while let Some(r) = rows.next()? {
            let holder: String = r.get(1)?;
            let id: Option<String> = r.get(2)?;
            if let Some(url) = full_url(&holder, "Patient", id.as_deref()) {
                let list = patients.entry(r.get(0)?).or_default();
                if !list.contains(&url) {
                    list.push(url);
                }
            }
        }
        Ok(patients)
    }

    /// The merged record (of one person, or of everyone) as a FHIR
    /// `collection` Bundle: each fact once, at its holder's own URL (so the
    /// holder's relative references still resolve), naming the other holders
    /// that gave it; copies that disagree are each included and tagged.
    /// Each holder's Patient links to the same person's Patients elsewhere.
    /// Written to `out` a resource at a time as the rows are read: no two
    /// records' JSON are held at once, and what grows with the record is 8
    /// bytes for each fact with several copies, and, between a fact's first
    /// copy and its last, what each copy still to come is to do.
    pub fn write_merged(&self, person: Option<i64>, out: impl Write) -> Result<(), StoreError> {
        let patients = self.patient_urls(person)?;
        // The facts held by more than one row, sorted (8 bytes each, read
        // from the group index alone); every other row is a fact of its own.
        let shared: Vec<i64> = {
            let mut stmt = self
                .conn
                .prepare("SELECT DISTINCT grp FROM entries WHERE grp != resource ORDER BY grp")?;
            stmt.query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        let mut copies_of = self.conn.prepare(
            "SELECT resource, fingerprint, holder, resource_type, resource_id
             FROM entries WHERE grp = ?1 ORDER BY resource",
        )?;
        // Read in the order stored, so each page of the records is read and
        // decrypted once: in the order of their facts, a fact's copies from
        // other holders sent SQLite back to pages it had already let go.
        let mut stmt = self.conn.prepare(
            "SELECT e.grp, e.conflict, r.holder, r.resource_type, r.resource_id, r.json, e.person, r.rowid
             FROM resources r JOIN entries e ON e.resource = r.rowid
             WHERE (?1 IS NULL OR e.person = ?1) ORDER BY r.rowid",
        )?;
        let mut rows = stmt.query(params![person])?;
        let mut later: Map<i64, Later> = Map::default();
        let mut out = BufWriter::new(out);
        out.write_all(BUNDLE_START)?;
        let mut first = true;
        while let Some(r) = rows.next()? {
            // Borrowed from the row: a record's JSON is not copied before it is written.
            let text = |i: usize| r.get_ref(i)?.as_str().map_err(rusqlite::Error::from);
            let m = Reading {
                grp: r.get(0)?,
                conflict: r.get(1)?,
                holder: text(2)?,
                resource_type: text(3)?,
                resource_id: r
                    .get_ref(4)?
                    .as_str_or_null()
                    .map_err(rusqlite::Error::from)?,
                json: text(5)?,
            };
            let (who, rowid): (i64, i64) = (r.get(6)?, r.get(7)?);
            let mine = full_url(m.holder, m.resource_type, m.resource_id);
            // A reading is written once, by its first copy, naming the
            // places of the others. A fact's copies are read once, when its
            // first copy comes; what its later copies are to do waits here.
            let same = match later.remove(&rowid) {
                Some(Later::Skip) => continue,
                Some(Later::Write(same)) => same,
                None if shared.binary_search(&m.grp).is_ok() => {
                    let copies = copies_of
                        .query_map(params![m.grp], |c| {
                            let (holder, ty): (String, String) = (c.get(2)?, c.get(3)?);
                            let id: Option<String> = c.get(4)?;
                            Ok((
                                c.get::<_, i64>(0)?,
                                c.get::<_, i64>(1)?,
                                full_url(&holder, &ty, id.as_deref()),
                            ))
                        })?
                        .collect::<Result<Vec<_>, _>>()?;
                    match plan(&copies, rowid, &mut later) {
                        Later::Skip => continue,
                        Later::Write(same) => same,
                    }
                }
                None => Vec::new(),
            };
            write_reading(
                &m,
                mine.as_ref(),
                &same,
                patients.get(&who),
                &mut first,
                &mut out,
            )?;
        }
        out.write_all(BUNDLE_END)?;
        out.flush()?;
        Ok(())
    }

    /// [`Self::write_merged`] into a string.
    pub fn export_merged(&self, person: Option<i64>) -> Result<String, StoreError> {
        let mut out = Vec::new();
        self.write_merged(person, &mut out)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

/// What each copy of one fact (row, reading's fingerprint, place; first
/// stored first) is to do: the first copy of each reading is written naming
/// the places of the others, the others are left out. Returns what the copy
/// `now` is to do, and keeps what the copies after it are to do in `later`.
fn plan(copies: &[(i64, i64, Option<String>)], now: i64, later: &mut Map<i64, Later>) -> Later {
    let mut mine = Later::Skip;
    for (row, print, url) in copies {
        let reading = copies.iter().filter(|(_, p, _)| p == print);
        let to_do = if reading.clone().next().map(|(r, _, _)| r) == Some(row) {
            Later::Write(
                reading
                    .filter_map(|(_, _, other)| other.clone())
                    .filter(|other| Some(other) != url.as_ref())
                    .collect(),
            )
        } else {
            Later::Skip
        };
        match row.cmp(&now) {
            Ordering::Equal => mine = to_do,
            Ordering::Greater => {
                later.insert(*row, to_do);
            }
            // Read before: not of this export's person.
            Ordering::Less => {}
        }
    }
    mine
}

/// One reading of a fact as a Bundle entry: the holder's resource with where
/// it came from (`meta`), the other holders that gave the same (`same`), and,
/// for a Patient, the same person's Patients elsewhere (`patients`).
fn write_reading(
    m: &Reading<'_>,
    mine: Option<&String>,
    same: &[String],
    patients: Option<&Vec<String>>,
    first: &mut bool,
    out: &mut impl Write,
) -> Result<(), StoreError> {
    // Only the top level is read; every other member is written as the holder sent it.
    let Some(members) = Object::parse(m.json) else {
        return Ok(());
    };
    // Room for every member the wallet may change (meta, extension, link).
    let mut changed = Vec::with_capacity(3);
    changed.push(("meta", meta(members.get("meta"), m.holder, m.conflict)));
    if !same.is_empty() {
        changed.push(("extension", also_from(members.get("extension"), same)));
    }
    if m.resource_type == "Patient"
        && let Some(all) = patients
    {
        let others: Vec<Value> = all
            .iter()
            .filter(|u| Some(*u) != mine)
            .map(|u| json!({ "other": { "reference": u }, "type": "seealso" }))
            .collect();
        if !others.is_empty() {
            changed.push(("link", Value::Array(others).to_string()));
        }
    }
    separate(first, out)?;
    out.write_all(b"{")?;
    if let Some(url) = mine {
        out.write_all(br#""fullUrl":"#)?;
        serde_json::to_writer(&mut *out, url).map_err(std::io::Error::from)?;
        out.write_all(b",")?;
    }
    out.write_all(br#""resource":"#)?;
    members.write_with(&changed, out)?;
    out.write_all(b"}")?;
    Ok(())
}

/// The resource's `meta` with where the merged copy came from, and a tag when
/// holders disagree about it; the holder's other members as sent.
fn meta(existing: Option<&str>, holder: &str, conflict: bool) -> String {
    let members = existing
        .and_then(Object::parse)
        .unwrap_or_else(Object::empty);
    let mut changed = vec![("source", json_string(holder))];
    if conflict {
        let tag = json!({ "system": MERGE_TAGS, "code": "conflict",
            "display": "Holders disagree about this record; every version is included" });
        changed.push((
            "tag",
            appended(members.get("tag"), [tag.to_string()].into_iter()),
        ));
    }
    let mut out = Vec::with_capacity(existing.map_or(0, str::len) + holder.len() + 32);
    // Writing into a Vec does not fail, and every piece written is UTF-8.
    let _ = members.write_with(&changed, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// The resource's extensions with the other holders that gave the same thing.
fn also_from(existing: Option<&str>, urls: &[String]) -> String {
    // Written as text: building each as a `Value` was a sixth of writing a reading.
    appended(
        existing,
        urls.iter()
            .map(|u| format!(r#"{{"url":"{ALSO_FROM}","valueUri":{}}}"#, json_string(u))),
    )
}

/// The holder's list with `items` after its own (the holder's text kept), or
/// `items` (JSON text) alone where the holder sent no list.
fn appended(list: Option<&str>, items: impl Iterator<Item = String>) -> String {
    let kept = list
        .map(str::trim)
        .and_then(|l| l.strip_prefix('[')?.strip_suffix(']'))
        .map(str::trim)
        .unwrap_or_default();
    let mut out = format!("[{kept}");
    let mut first = kept.is_empty();
    for item in items {
        if !std::mem::take(&mut first) {
            out.push(',');
        }
        out.push_str(&item);
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_merged_resource_keeps_what_the_holder_sent_and_gains_its_sources() {
        let sent = r#"{"resourceType":"Observation","id":"a1","meta":{"versionId":"3","tag":[{"code":"x"}]},"extension":[{"url":"u1"}],"valueQuantity":{"value":7.40,"unit":"%"},"a\"b":"\u00e9"}"#;
        let members = Object::parse(sent).unwrap();
        let other = "https://g.example/fhir/Observation/9".to_string();
        let changed = vec![
            (
                "meta",
                meta(members.get("meta"), "https://h.example/fhir", true),
            ),
            (
                "extension",
                also_from(members.get("extension"), std::slice::from_ref(&other)),
            ),
        ];
        let mut out = Vec::new();
        members.write_with(&changed, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();

        // The holder's order and its text for what the wallet does not touch.
        assert!(
            text.starts_with(r#"{"resourceType":"Observation","id":"a1","meta":"#),
            "{text}"
        );
        assert!(
            text.contains(r#""valueQuantity":{"value":7.40,"unit":"%"}"#),
            "{text}"
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["a\"b"], "é");
        assert_eq!(v["meta"]["versionId"], "3");
        assert_eq!(v["meta"]["source"], "https://h.example/fhir");
        let tags: Vec<&str> = v["meta"]["tag"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["code"].as_str().unwrap())
            .collect();
        assert_eq!(tags, ["x", "conflict"]);
        assert_eq!(v["extension"][0]["url"], "u1");
        assert_eq!(v["extension"][1]["url"], ALSO_FROM);
        assert_eq!(v["extension"][1]["valueUri"], other.as_str());

        // A resource with none of them gains them at the end.
        let bare = Object::parse(r#"{"resourceType":"Patient"}"#).unwrap();
        let mut out = Vec::new();
        bare.write_with(
            &[("meta", meta(None, "https://h.example/fhir", false))],
            &mut out,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"resourceType":"Patient","meta":{"source":"https://h.example/fhir"}}"#
        );
    }

    /// Lists and `meta` are extended in the holder's own text, however it
    /// is spaced; what is not a list or an object is replaced, as FHIR
    /// allows nothing else there.
    #[test]
    fn what_the_wallet_adds_keeps_the_holders_text_around_it() {
        let raw = |t: &'static str| t;
        let item = || [json!({ "url": "u2" }).to_string()].into_iter();
        for (sent, expect) in [
            ("[ ]", r#"[{"url":"u2"}]"#),
            (
                " [ {\"url\": \"u1\"} ]\n",
                r#"[{"url": "u1"},{"url":"u2"}]"#,
            ),
            (r#"{"url":"u1"}"#, r#"[{"url":"u2"}]"#),
        ] {
            assert_eq!(appended(Some(raw(sent)), item()), expect, "{sent}");
        }
        assert_eq!(appended(None, item()), r#"[{"url":"u2"}]"#);

        let with_source = raw(r#"{ "source" : "elsewhere", "versionId": "2" }"#);
        let m: Value =
            serde_json::from_str(&meta(Some(with_source), "https://h/fhir", false)).unwrap();
        assert_eq!(m, json!({ "source": "https://h/fhir", "versionId": "2" }));
        let m: Value = serde_json::from_str(&meta(Some(raw("5")), "https://h/fhir", true)).unwrap();
        assert_eq!(m["source"], "https://h/fhir");
        assert_eq!(m["tag"][0]["code"], "conflict");
    }

    /// Three holders' copies of one vaccination, two agreeing and one not:
    /// the agreeing reading once, at its first holder, naming the other;
    /// the other reading on its own; both tagged. Each copy of a fact is
    /// written or left out by what its first copy read.
    #[test]
    fn a_fact_with_two_readings_is_written_once_per_reading() {
        use crate::Person;
        use crate::testing::{ok, record};
        let dir = tempfile::tempdir().unwrap();
        let key = vault::DatabaseKey::from_bytes([7; 32]);
        let mut s = ok(RecordStore::open(&dir.path().join("records.db"), &key));
        let shot = |id: &str, date: &str| {
            record(json!({ "resourceType": "Immunization", "id": id,
                "identifier": [{ "system": "https://registry.example/immunization", "value": "IMM-1" }],
                "vaccineCode": { "coding": [{ "system": "http://hl7.org/fhir/sid/cvx", "code": "208" }] },
                "occurrenceDateTime": date }))
        };
        let ana = Person {
            name: Some("Ana Rivera".into()),
            family: Some("Rivera".into()),
            birth_date: Some("1984-03-12".into()),
        };
        for (holder, id, date) in [
            ("https://a/fhir", "a1", "2021-04-20"),
            ("https://b/fhir", "b1", "2021-04-21"),
            ("https://c/fhir", "c1", "2021-04-20"),
        ] {
            ok(s.replace(holder, "t1", &ana, 1, &[&shot(id, date)]));
        }

        let bundle: Value = serde_json::from_str(&ok(s.export_merged(None))).unwrap();
        let entries = bundle["entry"].as_array().unwrap();
        let urls: Vec<&str> = entries
            .iter()
            .map(|e| e["fullUrl"].as_str().unwrap())
            .collect();
        assert_eq!(
            urls,
            [
                "https://a/fhir/Immunization/a1",
                "https://b/fhir/Immunization/b1"
            ]
        );
        let also = |e: &Value| -> Vec<String> {
            e["resource"]["extension"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|x| x["url"] == ALSO_FROM)
                .map(|x| x["valueUri"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(also(&entries[0]), ["https://c/fhir/Immunization/c1"]);
        assert!(also(&entries[1]).is_empty());
        assert!(
            entries
                .iter()
                .all(|e| e["resource"]["meta"]["tag"][0]["code"] == "conflict")
        );
    }
}
