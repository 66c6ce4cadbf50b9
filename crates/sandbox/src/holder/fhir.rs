//! The FHIR R4 API: Patient read and patient-compartment searches, with the
//! token's scopes and the ticket's `data_period` enforced, and the token (and
//! its DPoP proof, or the reference profile's header) checked on every call.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::{Grant, Profile, Shared, State, lock, now};
use crate::jose::check_dpop;

pub const DEFAULT_COUNT: usize = 50;
pub const MAX_COUNT: usize = 200;
/// Types the `data_period` does not apply to.
const PERIOD_EXEMPT: [&str; 9] = [
    "Patient",
    "RelatedPerson",
    "Practitioner",
    "PractitionerRole",
    "Organization",
    "Location",
    "Coverage",
    "Device",
    "Medication",
];

pub struct FhirError {
    status: StatusCode,
    code: &'static str,
    message: String,
    www_authenticate: Option<String>,
    nonce: Option<String>,
    reference_style: bool,
}

impl FhirError {
    fn new(s: &State, status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            www_authenticate: None,
            nonce: None,
            reference_style: s.profile == Profile::Reference,
        }
    }
    fn auth(s: &State, error: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let scheme = if s.profile == Profile::Dpop {
            "DPoP"
        } else {
            "Bearer"
        };
        let mut e = Self::new(s, StatusCode::UNAUTHORIZED, "login", message.clone());
        e.www_authenticate = Some(format!(
            r#"{scheme} error="{error}", error_description="{message}""#
        ));
        e
    }
}

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        // The reference server answers every auth problem with 400 and an OperationOutcome.
        let status = if self.reference_style && self.status == StatusCode::UNAUTHORIZED {
            StatusCode::BAD_REQUEST
        } else {
            self.status
        };
        let outcome = json!({ "resourceType": "OperationOutcome",
            "issue": [{ "severity": "error", "code": self.code, "diagnostics": self.message }] });
        let mut r = (status, Json(outcome)).into_response();
        if !self.reference_style
            && let Some(v) = self
                .www_authenticate
                .and_then(|w| HeaderValue::from_str(&w).ok())
        {
            r.headers_mut().insert("www-authenticate", v);
        }
        if let Some(n) = self.nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
            r.headers_mut().insert("dpop-nonce", n);
        }
        r
    }
}

/// Checks the access token (and proof); returns the grant, counting the call.
fn authorize(s: &mut State, headers: &HeaderMap, path: &str) -> Result<Grant, FhirError> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let (scheme, token) = auth.split_once(' ').unwrap_or(("", ""));
    let want_scheme = if s.profile == Profile::Dpop {
        "DPoP"
    } else {
        "Bearer"
    };
    if !scheme.eq_ignore_ascii_case(want_scheme) || token.is_empty() {
        return Err(FhirError::auth(
            s,
            "invalid_token",
            format!("{want_scheme} access token required"),
        ));
    }
    let Some(grant) = s.grants.get(token).cloned() else {
        return Err(FhirError::auth(s, "invalid_token", "unknown access token"));
    };
    let worn_out =
        s.faults.expire_tokens_after > 0 && grant.fhir_calls >= s.faults.expire_tokens_after;
    if (grant.expires_at <= now() && !s.faults.accept_expired_tokens) || worn_out {
        return Err(FhirError::auth(
            s,
            "invalid_token",
            "the access token expired",
        ));
    }
    match s.profile {
        // The defect knob: DPoP advertised, proofs not checked.
        Profile::Dpop if s.faults.skip_dpop_checks => {}
        Profile::Dpop => {
            let url = format!("{}{path}", s.origin);
            let proof = check_dpop(
                headers.get("dpop").and_then(|v| v.to_str().ok()),
                "GET",
                &url,
                Some(token),
            )
            .map_err(|e| FhirError::auth(s, "invalid_dpop_proof", e))?;
            if Some(&proof.jkt) != grant.dpop_jkt.as_ref() {
                return Err(FhirError::auth(
                    s,
                    "invalid_dpop_proof",
                    "the proof is not signed by the token's key",
                ));
            }
            if s.faults.nonce_every_call && proof.nonce.as_deref() != Some(s.nonce.as_str()) {
                let nonce = s.rotate_nonce();
                let mut e = FhirError::auth(
                    s,
                    "use_dpop_nonce",
                    "Resource server requires nonce in DPoP proof",
                );
                e.nonce = Some(nonce);
                return Err(e);
            }
            if !s.seen_jtis.insert(format!("dpop:{}", proof.jti)) {
                return Err(FhirError::auth(
                    s,
                    "invalid_dpop_proof",
                    "DPoP proof jti was already used",
                ));
            }
        }
        Profile::Reference => {
            if let Some(bound) = &grant.bound_jkt
                && headers.get("x-client-jkt").and_then(|v| v.to_str().ok()) != Some(bound.as_str())
            {
                return Err(FhirError::auth(
                    s,
                    "invalid_token",
                    "Access token proof key mismatch",
                ));
            }
        }
        Profile::Bearer => {}
    }
    if let Some(g) = s.grants.get_mut(token) {
        g.fhir_calls += 1;
    }
    Ok(grant)
}

/// Adds a fresh nonce to a successful answer when every call needs one.
fn finish(s: &mut State, body: impl serde::Serialize) -> Response {
    let nonce = next_nonce(s);
    respond(nonce, body)
}

/// The nonce the next call must carry, when the holder wants a new one on every call.
fn next_nonce(s: &mut State) -> Option<String> {
    s.faults.nonce_every_call.then(|| s.rotate_nonce())
}

fn respond(nonce: Option<String>, body: impl serde::Serialize) -> Response {
    let mut r = Json(body).into_response();
    if let Some(v) = nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
        r.headers_mut().insert("dpop-nonce", v);
    }
    r
}

fn allowed_scopes<'a>(
    grant: &'a Grant,
    resource_type: &str,
    letter: char,
) -> Vec<&'a permission_ticket::SmartScope> {
    grant
        .scopes
        .iter()
        .filter(|sc| {
            (sc.resource_type == "*" || sc.resource_type == resource_type)
                && sc.permissions.contains(letter)
        })
        .collect()
}

pub async fn read_patient(
    AxState(state): AxState<Shared>,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut s = lock(&state);
    let grant = match authorize(&mut s, &headers, uri.path()) {
        Ok(g) => g,
        Err(e) => return e.into_response(),
    };
    if allowed_scopes(&grant, "Patient", 'r').is_empty() {
        return FhirError::new(
            &s,
            StatusCode::FORBIDDEN,
            "forbidden",
            "the grant does not allow reading Patient",
        )
        .into_response();
    }
    let found = (id == grant.patient)
        .then(|| {
            s.data
                .patients
                .iter()
                .find(|p| p["id"] == id.as_str())
                .cloned()
        })
        .flatten();
    match found {
        Some(p) => finish(&mut s, p),
        None => FhirError::new(
            &s,
            StatusCode::NOT_FOUND,
            "not-found",
            format!("Patient/{id} is not known"),
        )
        .into_response(),
    }
}

pub async fn search(
    AxState(state): AxState<Shared>,
    uri: Uri,
    headers: HeaderMap,
    Path(resource_type): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let mut s = lock(&state);
    let grant = match authorize(&mut s, &headers, uri.path()) {
        Ok(g) => g,
        Err(e) => return e.into_response(),
    };
    let scopes = allowed_scopes(&grant, &resource_type, 's');
    if scopes.is_empty() {
        if s.profile == Profile::Reference {
            // The reference server answers searches outside the grant with an empty Bundle.
            let body = bundle(&s, &resource_type, &[], &pairs, 0, DEFAULT_COUNT, 0);
            return finish(&mut s, body);
        }
        return FhirError::new(
            &s,
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("the grant does not allow searching {resource_type}"),
        )
        .into_response();
    }
    let params: HashMap<&str, Vec<&str>> = pairs.iter().fold(HashMap::new(), |mut m, (k, v)| {
        m.entry(k.as_str()).or_default().push(v.as_str());
        m
    });
    if let Some(patients) = params.get("patient")
        && patients
            .iter()
            .any(|p| p.trim_start_matches("Patient/") != grant.patient)
    {
        return FhirError::new(
            &s,
            StatusCode::FORBIDDEN,
            "forbidden",
            "the grant is for another patient",
        )
        .into_response();
    }
    let count = params
        .get("_count")
        .and_then(|v| v[0].parse().ok())
        .unwrap_or(DEFAULT_COUNT)
        .clamp(1, MAX_COUNT);
    let offset: usize = params
        .get("_offset")
        .and_then(|v| v[0].parse().ok())
        .unwrap_or(0);
    let member = format!("Patient/{}", grant.patient);
    let nonce = next_nonce(&mut s);
    // (parsed, serialised) pairs: filters read the first, pages copy the second.
    let pool: Vec<(&Value, &RawValue)> = if resource_type == "Patient" {
        s.data
            .patients
            .iter()
            .zip(&s.raw_patients)
            .filter(|(p, _)| p["id"] == grant.patient.as_str())
            .map(|(p, raw)| (p, &**raw))
            .collect()
    } else {
        s.compartments
            .get(&(resource_type.clone(), member))
            .into_iter()
            .flatten()
            .map(|&i| (&s.data.resources[i], &*s.raw[i]))
            .collect()
    };
    // Looked up once, not once per resource.
    let (category, code, date) = (
        params.get("category"),
        params.get("code"),
        params.get("date"),
    );
    let changes = !s.faults.ignore_change_searches;
    let mut updated = Vec::new();
    for v in params
        .get("_lastUpdated")
        .filter(|_| changes)
        .into_iter()
        .flatten()
    {
        match Bound::parse(v) {
            Some(b) => updated.push(b),
            None => {
                return FhirError::new(
                    &s,
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    format!("_lastUpdated={v} is not a FHIR instant with a prefix"),
                )
                .into_response();
            }
        }
    }
    let count_only = changes && params.get("_summary").is_some_and(|v| v.contains(&"count"));
    let matches: Vec<(&Value, &RawValue)> = pool
        .into_iter()
        .filter(|(r, _)| scopes.iter().any(|sc| scope_allows(sc, r)))
        .filter(|(r, _)| s.faults.ignore_data_period || within_period(r, &grant.data_period))
        .filter(|(r, _)| {
            category.is_none_or(|vals| vals.iter().all(|v| token_matches(categories(r), v)))
        })
        .filter(|(r, _)| code.is_none_or(|vals| vals.iter().all(|v| token_matches(codes(r), v))))
        .filter(|(r, _)| {
            date.is_none_or(|vals| {
                vals.iter()
                    .all(|v| date_matches(designated_date(r).as_deref(), v))
            })
        })
        .filter(|(r, _)| updated.is_empty() || updated.iter().all(|b| b.holds(last_updated(r))))
        .collect();
    let total = matches.len();
    let count = if count_only { 0 } else { count };
    let page: Vec<(&Value, &RawValue)> = matches.into_iter().skip(offset).take(count).collect();
    let body = bundle(&s, &resource_type, &page, &pairs, offset, count, total);
    respond(nonce, body)
}

fn bundle<'a>(
    s: &State,
    resource_type: &str,
    page: &[(&'a Value, &'a RawValue)],
    pairs: &[(String, String)],
    offset: usize,
    count: usize,
    total: usize,
) -> Bundle<'a> {
    let base = s.fhir_base();
    let query = |off: usize| {
        let mut q: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| k != "_offset" && k != "_count")
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        q.push(format!("_count={count}"));
        q.push(format!("_offset={off}"));
        format!("{base}/{resource_type}?{}", q.join("&"))
    };
    let mut links = vec![json!({ "relation": "self", "url": query(offset) })];
    // A count-only answer (`_summary=count`, asked as `count` 0) has no pages.
    if (offset + page.len() < total && count > 0) || s.faults.endless_next {
        links.push(json!({ "relation": "next", "url": query(offset + page.len().max(1)) }));
    }
    Bundle {
        resource_type: "Bundle",
        meta: BundleMeta {
            last_updated: instant(super::now()),
        },
        kind: "searchset",
        total: (!s.faults.omit_total).then_some(total),
        link: links,
        entry: page
            .iter()
            .map(|(r, raw)| Entry {
                full_url: format!(
                    "{base}/{}/{}",
                    r["resourceType"].as_str().unwrap_or_default(),
                    r["id"].as_str().unwrap_or_default()
                ),
                resource: raw,
                search: Mode { mode: "match" },
            })
            .collect(),
    }
}

/// A searchset written straight from the holder's records, without copying them.
#[derive(serde::Serialize)]
struct Bundle<'a> {
    #[serde(rename = "resourceType")]
    resource_type: &'static str,
    /// When the search ran: where a client's next `_lastUpdated` search starts.
    meta: BundleMeta,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<usize>,
    link: Vec<Value>,
    entry: Vec<Entry<'a>>,
}

#[derive(serde::Serialize)]
struct BundleMeta {
    #[serde(rename = "lastUpdated")]
    last_updated: String,
}

#[derive(serde::Serialize)]
struct Entry<'a> {
    #[serde(rename = "fullUrl")]
    full_url: String,
    resource: &'a RawValue,
    search: Mode,
}

#[derive(serde::Serialize)]
struct Mode {
    mode: &'static str,
}

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn categories(r: &Value) -> Vec<&Value> {
    match &r["category"] {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        one => vec![one],
    }
}

fn codes(r: &Value) -> Vec<&Value> {
    ["code", "vaccineCode", "medicationCodeableConcept", "type"]
        .iter()
        .map(|k| &r[*k])
        .filter(|v| !v.is_null())
        .collect()
}

/// `system|code`, `|code` or `code` against CodeableConcepts.
fn token_matches(concepts: Vec<&Value>, token: &str) -> bool {
    token.split(',').any(|one| {
        let (system, code) = match one.split_once('|') {
            Some((s, c)) => (Some(s), c),
            None => (None, one),
        };
        concepts.iter().any(|cc| {
            cc["coding"].as_array().is_some_and(|codings| {
                codings.iter().any(|c| {
                    c["code"].as_str() == Some(code)
                        && system.is_none_or(|s| s.is_empty() || c["system"].as_str() == Some(s))
                })
            })
        })
    })
}

/// A granular scope's `?category=` / `?code=` narrowing.
fn scope_allows(scope: &permission_ticket::SmartScope, r: &Value) -> bool {
    let Some(query) = &scope.query else {
        return true;
    };
    query.split('&').all(|pair| match pair.split_once('=') {
        Some(("category", v)) => token_matches(categories(r), v),
        Some(("code", v)) => token_matches(codes(r), v),
        _ => true,
    })
}

/// The date the spec designates for `data_period` and `date` searches, per type.
fn designated_date(r: &Value) -> Option<String> {
    let field = match r["resourceType"].as_str()? {
        "Condition" | "AllergyIntolerance" => &r["recordedDate"],
        "MedicationRequest" => &r["authoredOn"],
        "Encounter" => &r["period"]["start"],
        "Procedure" => &r["performedDateTime"],
        "Immunization" => &r["occurrenceDateTime"],
        "DocumentReference" => &r["date"],
        _ => &r["effectiveDateTime"],
    };
    field.as_str().map(|d| d.chars().take(10).collect())
}

fn within_period(r: &Value, period: &Option<(Option<String>, Option<String>)>) -> bool {
    let Some((start, end)) = period else {
        return true;
    };
    if PERIOD_EXEMPT.contains(&r["resourceType"].as_str().unwrap_or_default()) {
        return true;
    }
    let Some(date) = designated_date(r) else {
        return false;
    };
    start
        .as_deref()
        .is_none_or(|s| date.as_str() >= &s[..s.len().min(10)])
        && end
            .as_deref()
            .is_none_or(|e| date.as_str() <= &e[..e.len().min(10)])
}

/// A FHIR instant (seconds since the epoch) as the holder writes it: UTC, whole seconds.
pub fn instant(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// An instant or a date (its first moment, UTC) as seconds since the epoch.
fn parse_instant(v: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(v, &Rfc3339) {
        return Some(t.unix_timestamp());
    }
    let day = format!("{v}T00:00:00Z");
    time::OffsetDateTime::parse(&day, &Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// When a resource last changed (`meta.lastUpdated`), in seconds.
fn last_updated(r: &Value) -> Option<i64> {
    r["meta"]["lastUpdated"].as_str().and_then(parse_instant)
}

/// A search value's comparison prefix (FHIR's `ge`, `gt`, `le`, `lt`,
/// `eq`; none means `eq`).
#[derive(Clone, Copy)]
enum Prefix {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
}

impl Prefix {
    /// The prefix and the value after it.
    fn split(param: &str) -> (Self, &str) {
        let prefix = match param.get(..2) {
            Some("ge") => Self::Ge,
            Some("gt") => Self::Gt,
            Some("le") => Self::Le,
            Some("lt") => Self::Lt,
            Some("eq") => Self::Eq,
            _ => return (Self::Eq, param),
        };
        (prefix, &param[2..])
    }

    /// Whether a resource's value, compared with the searched one, matches.
    fn holds(self, found: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            Self::Ge => found != Less,
            Self::Gt => found == Greater,
            Self::Le => found != Greater,
            Self::Lt => found == Less,
            Self::Eq => found == Equal,
        }
    }
}

/// One `_lastUpdated` parameter: a comparison and an instant.
struct Bound {
    prefix: Prefix,
    at: i64,
}

impl Bound {
    fn parse(v: &str) -> Option<Self> {
        let (prefix, rest) = Prefix::split(v);
        Some(Self {
            prefix,
            at: parse_instant(rest)?,
        })
    }

    /// Whether a resource last changed at `at` is within it (never, unknown).
    fn holds(&self, at: Option<i64>) -> bool {
        at.is_some_and(|t| self.prefix.holds(t.cmp(&self.at)))
    }
}

fn date_matches(date: Option<&str>, param: &str) -> bool {
    let Some(date) = date else { return false };
    let (prefix, value) = Prefix::split(param);
    let value = value.get(..10).unwrap_or(value);
    let d = date.get(..value.len()).unwrap_or(date);
    prefix.holds(d.cmp(value))
}

/// The CapabilityStatement (`GET [base]/metadata`), public as FHIR servers
/// make it: among other things, who this holder is, for a client to name it.
pub async fn metadata(AxState(state): AxState<Shared>) -> Json<Value> {
    let s = lock(&state);
    Json(json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "publisher": s.name,
        "software": { "name": "Ticket Wallet sandbox" },
        "implementation": { "description": s.name, "url": s.fhir_base() }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_compare_by_prefix() {
        assert!(date_matches(Some("2023-06-01"), "ge2023"));
        assert!(date_matches(Some("2023-06-01"), "2023-06"));
        assert!(!date_matches(Some("2023-06-01"), "lt2023-06-01"));
        assert!(date_matches(Some("2023-06-01"), "le2023-06-01"));
        // A value that is not ASCII is a mismatch, not a panic.
        assert!(!date_matches(Some("2023-06-01"), "xé2023"));
        assert!(!date_matches(Some("2023-06-01"), "ge2023-06-0é"));
    }

    #[test]
    fn last_updated_bounds_compare_instants() {
        let b = Bound::parse("ge2026-12-01T10:00:00Z").expect("parses");
        assert!(b.holds(parse_instant("2026-12-01T10:00:00Z")));
        assert!(b.holds(parse_instant("2026-12-01T11:00:00+01:00")));
        assert!(!b.holds(parse_instant("2026-12-01T09:59:59Z")));
        assert!(!b.holds(None));
        assert!(Bound::parse("gt2026-12-01").is_some());
        assert!(Bound::parse("ge yesterday").is_none());
        assert_eq!(instant(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn tokens_match_with_or_without_system() {
        let cc = json!({ "coding": [{ "system": "http://loinc.org", "code": "4548-4" }] });
        assert!(token_matches(vec![&cc], "4548-4"));
        assert!(token_matches(vec![&cc], "http://loinc.org|4548-4"));
        assert!(!token_matches(vec![&cc], "http://snomed.info/sct|4548-4"));
        assert!(token_matches(vec![&cc], "x,4548-4"));
    }
}
