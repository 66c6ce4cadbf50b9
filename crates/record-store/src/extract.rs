//! What the record view indexes about a resource, read from its raw FHIR
//! JSON: the category a person browses by, the clinically relevant date, the
//! code and its display, a numeric value for charts, and text for search.
//! Everything here can be rebuilt from the raw JSON at any time.

use serde_json::Value;

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

fn has_category(r: &Value, wanted: &str) -> bool {
    let cats = match &r["category"] {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        one => vec![one],
    };
    cats.iter().any(|c| {
        c["coding"].as_array().into_iter().flatten().any(|k| {
            k["code"]
                .as_str()
                .is_some_and(|v| v.eq_ignore_ascii_case(wanted))
        }) || c["text"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case(wanted))
    })
}

fn category(r: &Value) -> &'static str {
    match r["resourceType"].as_str().unwrap_or_default() {
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
fn date(r: &Value) -> Option<String> {
    let candidates: &[&[&str]] = match r["resourceType"].as_str().unwrap_or_default() {
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
        let v = path.iter().fold(r, |v, k| &v[*k]);
        v.as_str().map(|d| d.chars().take(10).collect())
    })
}

fn concept(r: &Value) -> &Value {
    for k in ["code", "vaccineCode", "medicationCodeableConcept"] {
        if !r[k].is_null() {
            return &r[k];
        }
    }
    match &r["type"] {
        Value::Array(items) => items.first().unwrap_or(&Value::Null),
        other => other,
    }
}

pub fn extract(r: &Value) -> Entry {
    let c = concept(r);
    let coding = &c["coding"][0];
    let display = c["text"]
        .as_str()
        .or(coding["display"].as_str())
        .map(str::to_string);
    let mut text = display.clone().unwrap_or_default();
    for note in r["note"].as_array().into_iter().flatten() {
        if let Some(t) = note["text"].as_str() {
            text.push('\n');
            text.push_str(t);
        }
    }
    if let Some(v) = r["valueString"].as_str() {
        text.push('\n');
        text.push_str(v);
    }
    Entry {
        category: category(r),
        date: date(r),
        code_system: coding["system"].as_str().map(str::to_string),
        code: coding["code"].as_str().map(str::to_string),
        display,
        value: r["valueQuantity"]["value"].as_f64(),
        unit: r["valueQuantity"]["unit"]
            .as_str()
            .or(r["valueQuantity"]["code"].as_str())
            .map(str::to_string),
        ref_low: r["referenceRange"][0]["low"]["value"].as_f64(),
        ref_high: r["referenceRange"][0]["high"]["value"].as_f64(),
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
