//! What the record view indexes about a resource, read from its raw FHIR
//! JSON: the category a person browses by, the clinically relevant date, the
//! code and its display, a numeric value for charts, and text for search.
//! Everything here can be rebuilt from the raw JSON at any time.

use crate::tree::Tree;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Entry {
    /// `conditions`, `medications`, `allergies`, `immunizations`, `labs`,
    /// `vitals`, `procedures`, `encounters`, `documents`, or `other`.
    pub category: &'static str,
    /// `YYYY-MM-DD` (or shorter when the source is less precise).
    pub date: Option<String>,
    pub code_system: Option<String>,
    pub code: Option<String>,
    pub display: Option<String>,
    pub value: Option<f64>,
    pub unit: Option<String>,
    /// The first reference range the holder sent with the value.
    pub ref_low: Option<f64>,
    pub ref_high: Option<f64>,
    /// Display, notes and string values, for full-text search.
    pub text: String,
}

fn has_category<T: Tree>(r: &T, wanted: &str) -> bool {
    let c = r.key("category");
    let cats: &[T] = match c.list() {
        Some(items) => items,
        None if c.is_null() => &[],
        None => std::slice::from_ref(c),
    };
    cats.iter().any(|c| {
        c.key("coding").list().into_iter().flatten().any(|k| {
            k.key("code")
                .str()
                .is_some_and(|v| v.eq_ignore_ascii_case(wanted))
        }) || c
            .key("text")
            .str()
            .is_some_and(|t| t.eq_ignore_ascii_case(wanted))
    })
}

fn category<T: Tree>(r: &T) -> &'static str {
    match r.key("resourceType").str().unwrap_or_default() {
        "Condition" => "conditions",
        "MedicationRequest"
        | "MedicationStatement"
        | "MedicationDispense"
        | "MedicationAdministration" => "medications",
        "AllergyIntolerance" => "allergies",
        "Immunization" => "immunizations",
        "Observation" if has_category(r, "vital-signs") => "vitals",
        "Observation" if has_category(r, "laboratory") => "labs",
        "DiagnosticReport" if has_category(r, "LAB") => "labs",
        "Procedure" => "procedures",
        "Encounter" => "encounters",
        "DocumentReference" | "DiagnosticReport" => "documents",
        _ => "other",
    }
}

/// The date the record is about, by type, falling back to when it was recorded.
fn date<T: Tree>(r: &T) -> Option<String> {
    let candidates: &[&[&str]] = match r.key("resourceType").str().unwrap_or_default() {
        "Condition" => &[
            &["onsetDateTime"],
            &["onsetPeriod", "start"],
            &["recordedDate"],
        ],
        "Observation" | "DiagnosticReport" => &[
            &["effectiveDateTime"],
            &["effectivePeriod", "start"],
            &["issued"],
        ],
        "MedicationRequest" => &[&["authoredOn"]],
        "MedicationStatement" => &[
            &["effectiveDateTime"],
            &["effectivePeriod", "start"],
            &["dateAsserted"],
        ],
        "AllergyIntolerance" => &[&["onsetDateTime"], &["recordedDate"]],
        "Immunization" => &[&["occurrenceDateTime"], &["recorded"]],
        "Procedure" => &[&["performedDateTime"], &["performedPeriod", "start"]],
        "Encounter" => &[&["period", "start"]],
        "DocumentReference" => &[&["context", "period", "start"], &["date"]],
        // Who the record is about, not an event in it: shown in the banner,
        // never on the timeline (its `meta.lastUpdated` is the holder's).
        "Patient" => &[],
        _ => &[&["date"], &["meta", "lastUpdated"]],
    };
    candidates.iter().find_map(|path| {
        let v = path.iter().fold(r, |v, k| v.key(k));
        v.str().map(|d| d.chars().take(10).collect())
    })
}

fn concept<T: Tree>(r: &T) -> &T {
    for k in ["code", "vaccineCode", "medicationCodeableConcept"] {
        if !r.key(k).is_null() {
            return r.key(k);
        }
    }
    let t = r.key("type");
    if t.list().is_some() { t.item(0) } else { t }
}

/// What the record view indexes about the resource `r` (a `Value`, or the
/// store's own `tree::Json`, read the same way).
pub fn extract<T: Tree>(r: &T) -> Entry {
    let c = concept(r);
    let coding = c.key("coding").item(0);
    let display = c
        .key("text")
        .str()
        .or(coding.key("display").str())
        .map(str::to_string);
    let mut text = display.clone().unwrap_or_default();
    for note in r.key("note").list().into_iter().flatten() {
        if let Some(t) = note.key("text").str() {
            text.push('\n');
            text.push_str(t);
        }
    }
    if let Some(v) = r.key("valueString").str() {
        text.push('\n');
        text.push_str(v);
    }
    let quantity = r.key("valueQuantity");
    let range = r.key("referenceRange").item(0);
    Entry {
        category: category(r),
        date: date(r),
        code_system: coding.key("system").str().map(str::to_string),
        code: coding.key("code").str().map(str::to_string),
        display,
        value: quantity.key("value").f64(),
        unit: quantity
            .key("unit")
            .str()
            .or(quantity.key("code").str())
            .map(str::to_string),
        ref_low: range.key("low").key("value").f64(),
        ref_high: range.key("high").key("value").f64(),
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_patient_has_no_date_even_with_a_stamp() {
        let ana = json!({ "resourceType": "Patient", "id": "p1", "birthDate": "1984-03-12",
            "meta": { "lastUpdated": "2026-07-01T00:00:00Z" } });
        assert_eq!(extract(&ana).date, None);
        let other = json!({ "resourceType": "Coverage", "meta": { "lastUpdated": "2026-07-01T00:00:00Z" } });
        assert_eq!(extract(&other).date.as_deref(), Some("2026-07-01"));
    }

    #[test]
    fn a_lab_result_is_indexed_by_its_test_date_code_and_value() {
        let hba1c = json!({ "resourceType": "Observation",
            "category": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory" }] }],
            "code": { "coding": [{ "system": "http://loinc.org", "code": "4548-4", "display": "Hemoglobin A1c" }] },
            "effectiveDateTime": "2025-03-04T09:30:00Z", "valueQuantity": { "value": 6.1, "unit": "%" },
            "note": [{ "text": "fasting" }] });
        let e = extract(&hba1c);
        assert_eq!(e.category, "labs");
        assert_eq!(e.date.as_deref(), Some("2025-03-04"));
        assert_eq!(
            (e.code_system.as_deref(), e.code.as_deref()),
            (Some("http://loinc.org"), Some("4548-4"))
        );
        assert_eq!((e.value, e.unit.as_deref()), (Some(6.1), Some("%")));
        assert!(e.text.contains("Hemoglobin A1c") && e.text.contains("fasting"));
    }

    #[test]
    fn each_type_lands_in_the_category_a_person_looks_in() {
        let cases = [
            (
                json!({ "resourceType": "Condition", "recordedDate": "2020-01-02" }),
                "conditions",
                Some("2020-01-02"),
            ),
            (
                json!({ "resourceType": "MedicationRequest", "authoredOn": "2021-05-06" }),
                "medications",
                Some("2021-05-06"),
            ),
            (
                json!({ "resourceType": "Immunization", "occurrenceDateTime": "2019-10-01" }),
                "immunizations",
                Some("2019-10-01"),
            ),
            (
                json!({ "resourceType": "Observation", "category": [{ "coding": [{ "code": "vital-signs" }] }] }),
                "vitals",
                None,
            ),
            (
                json!({ "resourceType": "Encounter", "period": { "start": "2022-02-02T10:00:00Z" } }),
                "encounters",
                Some("2022-02-02"),
            ),
            (
                json!({ "resourceType": "DiagnosticReport", "category": [{ "coding": [{ "code": "LAB" }] }] }),
                "labs",
                None,
            ),
            (
                json!({ "resourceType": "DocumentReference", "date": "2023-03-03" }),
                "documents",
                Some("2023-03-03"),
            ),
            (json!({ "resourceType": "Coverage" }), "other", None),
        ];
        for (r, cat, date) in cases {
            let e = extract(&r);
            assert_eq!(e.category, cat, "{r}");
            assert_eq!(e.date.as_deref(), date, "{r}");
        }
    }
}
