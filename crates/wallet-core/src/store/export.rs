//! Records leaving the store whole: one holder's as received, the merged
//! record of a person as one FHIR Bundle, and every copy of one fact.

use std::collections::{HashMap, HashSet};

use rusqlite::params;
use serde::Serialize;
use serde_json::{Value, json};
use ts_rs::TS;

use super::{RecordStore, StoreError};

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
    id.map(|id| format!("{}/{resource_type}/{id}", holder.trim_end_matches('/')))
}

struct Member {
    grp: i64,
    fingerprint: i64,
    conflict: bool,
    holder: String,
    resource_type: String,
    resource_id: Option<String>,
    json: String,
}

impl RecordStore {
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

    /// The merged record (of one person, or of everyone) as a FHIR
    /// `collection` Bundle: each fact once, at its holder's own URL (so the
    /// holder's relative references still resolve), naming the other holders
    /// that gave it; copies that disagree are each included and tagged.
    /// Each holder's Patient links to the same person's Patients elsewhere.
    pub fn export_merged(&self, person: Option<i64>) -> Result<String, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT e.grp, e.fingerprint, e.conflict, r.holder, r.resource_type, r.resource_id, r.json, e.person
             FROM entries e JOIN resources r ON r.rowid = e.resource
             WHERE (?1 IS NULL OR e.person = ?1) ORDER BY e.grp, e.resource",
        )?;
        let mut members: Vec<(Member, i64)> = Vec::new();
        let rows = stmt.query_map(params![person], |r| {
            Ok((
                Member {
                    grp: r.get(0)?,
                    fingerprint: r.get(1)?,
                    conflict: r.get(2)?,
                    holder: r.get(3)?,
                    resource_type: r.get(4)?,
                    resource_id: r.get(5)?,
                    json: r.get(6)?,
                },
                r.get::<_, i64>(7)?,
            ))
        })?;
        for row in rows {
            members.push(row?);
        }
        // Each person's Patient at every holder, for `Patient.link`.
        let mut patients: HashMap<i64, Vec<String>> = HashMap::new();
        for (m, who) in &members {
            if m.resource_type == "Patient"
                && let Some(url) = full_url(&m.holder, "Patient", m.resource_id.as_deref())
            {
                let list = patients.entry(*who).or_default();
                if !list.contains(&url) {
                    list.push(url);
                }
            }
        }
        let mut entries = Vec::new();
        for group in members.chunk_by(|(a, _), (b, _)| a.grp == b.grp) {
            let urls: Vec<Option<String>> = group
                .iter()
                .map(|(m, _)| full_url(&m.holder, &m.resource_type, m.resource_id.as_deref()))
                .collect();
            // One resource per distinct reading: the first copy of each.
            let mut written = HashSet::new();
            for (k, (m, who)) in group.iter().enumerate() {
                if !written.insert(m.fingerprint) {
                    continue;
                }
                let Ok(mut r) = serde_json::from_str::<Value>(&m.json) else {
                    continue;
                };
                let mine = urls[k].clone();
                let same: Vec<&String> = group
                    .iter()
                    .zip(&urls)
                    .filter(|((o, _), u)| o.fingerprint == m.fingerprint && *u != &mine)
                    .filter_map(|(_, u)| u.as_ref())
                    .collect();
                annotate(&mut r, &m.holder, &same, m.conflict);
                if m.resource_type == "Patient"
                    && let Some(all) = patients.get(who)
                {
                    let others: Vec<Value> = all
                        .iter()
                        .filter(|u| Some(*u) != mine.as_ref())
                        .map(|u| json!({ "other": { "reference": u }, "type": "seealso" }))
                        .collect();
                    if !others.is_empty() {
                        r["link"] = Value::Array(others);
                    }
                }
                let mut entry = json!({ "resource": r });
                if let Some(url) = mine {
                    entry["fullUrl"] = json!(url);
                }
                entries.push(entry);
            }
        }
        Ok(json!({ "resourceType": "Bundle", "type": "collection", "entry": entries }).to_string())
    }
}

/// Adds where a merged resource came from to its `meta`, and the other
/// holders that gave the same thing as extensions.
fn annotate(r: &mut Value, holder: &str, also_from: &[&String], conflict: bool) {
    if !r["meta"].is_object() {
        r["meta"] = json!({});
    }
    r["meta"]["source"] = json!(holder);
    if conflict {
        let tag = json!({ "system": MERGE_TAGS, "code": "conflict",
            "display": "Holders disagree about this record; every version is included" });
        match r["meta"]["tag"].as_array_mut() {
            Some(tags) => tags.push(tag),
            None => r["meta"]["tag"] = json!([tag]),
        }
    }
    if !also_from.is_empty() {
        let ext: Vec<Value> = also_from
            .iter()
            .map(|u| json!({ "url": ALSO_FROM, "valueUri": u }))
            .collect();
        match r["extension"].as_array_mut() {
            Some(list) => list.extend(ext),
            None => r["extension"] = Value::Array(ext),
        }
    }
}
