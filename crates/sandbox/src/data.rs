//! Synthetic patients and records, spread over holders the way real life
//! spreads them: the same person under different local ids, some records
//! duplicated across holders, an ambiguous twin at one holder, a caregiver,
//! and lab series long enough to chart. Deterministic from a seed.

use serde_json::{Value, json};
use time::Date;
use time::macros::date;

/// Where every synthetic history ends.
const LAST_DAY: Date = date!(2026 - 06 - 30);

/// A small deterministic generator (SplitMix64): same seed, same records.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A person as the issuer knows them (what goes into `subject.patient`).
#[derive(Debug, Clone)]
pub struct Person {
    pub family: &'static str,
    pub given: &'static str,
    pub birth_date: &'static str,
    pub gender: &'static str,
}

impl Person {
    pub fn fhir(&self) -> Value {
        json!({ "resourceType": "Patient", "name": [{ "family": self.family, "given": [self.given] }],
                "birthDate": self.birth_date, "gender": self.gender })
    }
}

/// The patient every holder knows: the demo and test subject.
pub const ANA: Person = Person {
    family: "Rivera",
    given: "Ana",
    birth_date: "1984-03-12",
    gender: "female",
};
/// Her father and caregiver, the requester of delegated tickets.
pub const LUIS: Person = Person {
    family: "Rivera",
    given: "Luis",
    birth_date: "1956-07-02",
    gender: "male",
};
/// Someone no holder knows.
pub const NOBODY: Person = Person {
    family: "Unknown",
    given: "Nobody",
    birth_date: "1900-01-01",
    gender: "other",
};
const OTHERS: [Person; 3] = [
    Person {
        family: "Lee",
        given: "Sam",
        birth_date: "1990-11-30",
        gender: "male",
    },
    Person {
        family: "Gomez",
        given: "Maria",
        birth_date: "1975-05-21",
        gender: "female",
    },
    Person {
        family: "Okafor",
        given: "Daniel",
        birth_date: "1962-03-09",
        gender: "male",
    },
];

/// What one holder holds.
#[derive(Debug, Clone, Default)]
pub struct HolderData {
    pub patients: Vec<Value>,
    pub resources: Vec<Value>,
}

fn date(year: i64, month: i64, day: i64) -> String {
    format!(
        "{year:04}-{:02}-{:02}",
        month.clamp(1, 12),
        day.clamp(1, 28)
    )
}

fn coding(system: &str, code: &str, display: &str) -> Value {
    json!({ "coding": [{ "system": system, "code": code, "display": display }], "text": display })
}

const LOINC: &str = "http://loinc.org";
const SNOMED: &str = "http://snomed.info/sct";
const OBS_CAT: &str = "http://terminology.hl7.org/CodeSystem/observation-category";

/// Records for holder number `index` of `count`; `size` is the rough number of
/// resources for the main patient (at least a small realistic set).
pub fn holder_data(index: usize, seed: u64, size: usize) -> HolderData {
    let mut rng = Rng::new(seed ^ (index as u64).wrapping_mul(0x1000_0001));
    let slug = format!("h{}", index + 1);
    let mut d = HolderData::default();
    let ana_id = format!("{slug}-ana");
    d.patients.push(patient(
        &ana_id,
        &ANA,
        &format!("MRN-{}-{:05}", slug.to_uppercase(), 1000 + index),
        "Springfield",
    ));
    if index == 1 {
        // Same name and birth date, another person: demographics alone cannot tell them apart.
        d.patients.push(patient(
            &format!("{slug}-ana-2"),
            &ANA,
            "MRN-H2-77777",
            "Shelbyville",
        ));
    }
    for (i, p) in OTHERS.iter().enumerate() {
        d.patients.push(patient(
            &format!("{slug}-o{i}"),
            p,
            &format!("MRN-{}-{i:05}", slug.to_uppercase()),
            "Springfield",
        ));
    }
    d.resources.push(json!({
        "resourceType": "RelatedPerson", "id": format!("{slug}-luis"),
        "patient": { "reference": format!("Patient/{ana_id}") },
        "relationship": [coding("http://terminology.hl7.org/CodeSystem/v3-RoleCode", "FTH", "father")],
        "name": [{ "family": LUIS.family, "given": [LUIS.given] }], "birthDate": LUIS.birth_date,
    }));
    let subject = json!({ "reference": format!("Patient/{ana_id}") });
    let add = |mut r: Value, d: &mut HolderData| {
        r["subject"] = subject.clone();
        if r["resourceType"] == "AllergyIntolerance" || r["resourceType"] == "Immunization" {
            let s = r["subject"].take();
            r.as_object_mut().map(|o| o.remove("subject"));
            r["patient"] = s;
        }
        let n = d.resources.len();
        r["id"] = json!(format!("{slug}-{n}"));
        d.resources.push(r);
    };

    // Shared across holders (duplicates): same business identifier or same code, date and value.
    // The third holder dates the shared vaccination a day later: a conflict to flag, not to hide.
    let shot_date = if index == 2 {
        "2021-04-21"
    } else {
        "2021-04-20"
    };
    add(
        json!({ "resourceType": "Immunization", "status": "completed",
        "identifier": [{ "system": "https://registry.example/immunization", "value": "IMM-2021-0042" }],
        "vaccineCode": coding("http://hl7.org/fhir/sid/cvx", "208", "COVID-19, mRNA, 30 mcg/0.3 mL"),
        "occurrenceDateTime": shot_date }),
        &mut d,
    );
    add(
        observation(
            LOINC,
            "4548-4",
            "Hemoglobin A1c",
            "laboratory",
            "2023-06-01",
            7.4,
            "%",
        ),
        &mut d,
    );
    add(
        json!({ "resourceType": "Condition", "clinicalStatus": coding("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
        "category": [coding("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item", "Problem List Item")],
        "code": coding(SNOMED, "44054006", "Type 2 diabetes mellitus"), "recordedDate": "2019-02-14" }),
        &mut d,
    );

    // This holder's own history.
    let base_year = 2016 + index as i64;
    let conditions = [
        ("38341003", "Hypertension"),
        ("195967001", "Asthma"),
        ("35489007", "Depressive disorder"),
        ("267036007", "Dyspnea"),
    ];
    for (i, (code, display)) in conditions.iter().enumerate().take(2 + index % 3) {
        add(
            json!({ "resourceType": "Condition",
            "clinicalStatus": coding("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
            "category": [coding("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item", "Problem List Item")],
            "code": coding(SNOMED, code, display), "recordedDate": date(base_year + i as i64, 3 + i as i64, 10) }),
            &mut d,
        );
    }
    let meds = [
        ("860975", "Metformin 500 MG Oral Tablet"),
        ("314076", "Lisinopril 10 MG Oral Tablet"),
        ("745679", "Albuterol 90 MCG Inhaler"),
    ];
    for (i, (code, display)) in meds.iter().enumerate() {
        add(
            json!({ "resourceType": "MedicationRequest", "status": "active", "intent": "order",
            "medicationCodeableConcept": coding("http://www.nlm.nih.gov/research/umls/rxnorm", code, display),
            "authoredOn": date(base_year + i as i64, 5, 2) }),
            &mut d,
        );
    }
    add(
        json!({ "resourceType": "AllergyIntolerance",
        "clinicalStatus": coding("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active"),
        "code": coding(SNOMED, "91936005", "Allergy to penicillin"), "recordedDate": date(base_year, 1, 15) }),
        &mut d,
    );
    add(
        json!({ "resourceType": "Procedure", "status": "completed",
        "code": coding(SNOMED, "80146002", "Appendectomy"), "performedDateTime": date(base_year + 1, 9, 3) }),
        &mut d,
    );
    add(
        json!({ "resourceType": "DocumentReference", "status": "current",
        "type": coding(LOINC, "11506-3", "Progress note"),
        "category": [coding("http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category", "clinical-note", "Clinical Note")],
        "date": format!("{}T10:00:00Z", date(base_year + 2, 2, 11)),
        "description": "Follow-up visit: blood sugar better controlled, continue metformin." }),
        &mut d,
    );

    // Encounters and vitals, then labs until `size` is reached: HbA1c every quarter makes a chartable series.
    // Spread evenly from the holder's first year to mid-2026, however many
    // there are: a large history is dense, not centuries long.
    let target = size.max(40);
    let first = Date::from_ordinal_date(base_year as i32, 1)
        .unwrap_or(LAST_DAY)
        .to_julian_day();
    let span = LAST_DAY.to_julian_day() - first;
    // About 1.2 resources per step (every fourth step adds two).
    let steps = ((target.saturating_sub(d.resources.len())) as f64 / 1.25).max(1.0);
    let mut i = 0i64;
    while d.resources.len() < target {
        let jitter = rng.below(3) as i32;
        let day = first + ((i as f64) * f64::from(span) / steps) as i32 + jitter;
        let when = Date::from_julian_day(day.min(first + span))
            .unwrap_or(LAST_DAY)
            .to_string();
        match i % 4 {
            0 => add(
                json!({ "resourceType": "Encounter", "status": "finished",
                "class": { "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "ambulatory" },
                "type": [coding(SNOMED, "185349003", "Encounter for check up")],
                "period": { "start": format!("{when}T09:00:00Z"), "end": format!("{when}T09:30:00Z") } }),
                &mut d,
            ),
            1 => add(
                observation(
                    LOINC,
                    "8867-4",
                    "Heart rate",
                    "vital-signs",
                    &when,
                    60.0 + rng.below(30) as f64,
                    "/min",
                ),
                &mut d,
            ),
            2 => add(
                observation(
                    LOINC,
                    "29463-7",
                    "Body weight",
                    "vital-signs",
                    &when,
                    60.0 + rng.below(200) as f64 / 10.0,
                    "kg",
                ),
                &mut d,
            ),
            _ => {
                let a1c = 6.0 + (rng.below(30) as f64) / 10.0;
                let mut result = observation(
                    LOINC,
                    "4548-4",
                    "Hemoglobin A1c",
                    "laboratory",
                    &when,
                    a1c,
                    "%",
                );
                // Holder 2 sends no reference ranges; the others do, as many labs do.
                if index != 1 {
                    result["referenceRange"] = json!([{
                        "low": { "value": 4.0, "unit": "%" },
                        "high": { "value": 5.6, "unit": "%" },
                        "text": "4.0-5.6 %"
                    }]);
                }
                add(result, &mut d);
                add(
                    json!({ "resourceType": "DiagnosticReport", "status": "final",
                    "category": [coding("http://terminology.hl7.org/CodeSystem/v2-0074", "LAB", "Laboratory")],
                    "code": coding(LOINC, "4548-4", "Hemoglobin A1c panel"), "effectiveDateTime": when }),
                    &mut d,
                );
            }
        }
        i += 1;
    }
    d
}

fn patient(id: &str, p: &Person, mrn: &str, city: &str) -> Value {
    let mut v = p.fhir();
    v["id"] = json!(id);
    v["identifier"] = json!([{ "system": "https://sandbox.example/mrn", "value": mrn }]);
    v["address"] = json!([{ "city": city, "state": "IL", "country": "US" }]);
    v
}

fn observation(
    system: &str,
    code: &str,
    display: &str,
    category: &str,
    when: &str,
    value: f64,
    unit: &str,
) -> Value {
    json!({ "resourceType": "Observation", "status": "final",
        "category": [coding(OBS_CAT, category, category)],
        "code": coding(system, code, display), "effectiveDateTime": when,
        "valueQuantity": { "value": (value * 10.0).round() / 10.0, "unit": unit } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_sized() {
        let a = holder_data(0, 7, 500);
        let b = holder_data(0, 7, 500);
        assert_eq!(a.resources, b.resources);
        assert!(a.resources.len() >= 500);
        assert_ne!(holder_data(0, 8, 500).resources, a.resources);
    }

    #[test]
    fn a_large_history_stays_within_real_years() {
        let d = holder_data(0, 7, 10_000);
        let last = d
            .resources
            .iter()
            .filter_map(|r| r["effectiveDateTime"].as_str())
            .max()
            .unwrap_or_default()
            .to_string();
        assert!(last.as_str() <= "2026-07-03", "{last}");
    }

    #[test]
    fn the_second_holder_has_an_ambiguous_twin() {
        let d = holder_data(1, 7, 0);
        let anas = d
            .patients
            .iter()
            .filter(|p| p["name"][0]["given"][0] == "Ana")
            .count();
        assert_eq!(anas, 2);
        assert_eq!(
            holder_data(0, 7, 0)
                .patients
                .iter()
                .filter(|p| p["name"][0]["given"][0] == "Ana")
                .count(),
            1
        );
    }
}
