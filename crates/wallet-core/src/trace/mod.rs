//! A protocol trace of every HTTP exchange the engine makes, for testers:
//! method, URL, status, timing, headers and bodies, with tokens, assertions,
//! proofs, codes and tickets redacted (JWTs shown decoded, never signed
//! whole) unless tester mode is on. FHIR response bodies, which hold health
//! records, are summarised, never kept. A trace is saved as the wallet's own
//! file (a JSON array of entries), and can be written as HAR (`har`) or an
//! exchange as a curl command (`curl`).

pub mod curl;
pub mod har;

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use ts_rs::TS;

/// What an exchange is for, so a holder's exchanges read as the steps of the protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Step {
    /// `.well-known/smart-configuration`.
    Discovery,
    /// Dynamic client registration (RFC 7591).
    Registration,
    /// The ticket for a token (RFC 8693).
    Exchange,
    /// The code from the patient's confirmation for a token.
    Interaction,
    /// A FHIR read or search page.
    Fhir,
    /// An issuer's token endpoint, when connecting to it (Proposal 003).
    Issuer,
    /// A trace saved before steps were recorded.
    #[default]
    Other,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The same names as in a saved trace.
        let name = serde_json::to_value(self).ok();
        f.write_str(name.as_ref().and_then(Value::as_str).unwrap_or("other"))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TraceEntry {
    pub holder: String,
    #[serde(default)]
    pub step: Step,
    /// When the request left, in milliseconds since the Unix epoch (0 in
    /// traces saved before it was recorded).
    #[serde(default)]
    #[ts(type = "number")]
    pub started_ms: u64,
    pub method: String,
    pub url: String,
    pub status: Option<u16>,
    #[ts(type = "number")]
    pub millis: u64,
    pub request_headers: Vec<(String, String)>,
    pub request_body: Option<Value>,
    pub response_headers: Vec<(String, String)>,
    pub response: Option<Value>,
    /// JWTs in the exchange, decoded: `{role, header, claims}`, with
    /// `compact` (the token as sent) only in tester mode.
    pub jwts: Vec<Value>,
    pub error: Option<String>,
    /// Whether secrets were left out; false only in a tester-mode trace.
    #[serde(default = "yes")]
    pub redacted: bool,
}

fn yes() -> bool {
    true
}

/// A saved trace read back: the wallet's own file (as `tw trace --json`
/// prints it and the app saves it), or a sync report holding one (as
/// `tw sync --json` prints it, the way to keep a tester-mode trace).
pub fn parse(bytes: &[u8]) -> Result<Vec<TraceEntry>, crate::WalletError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum File {
        Entries(Vec<TraceEntry>),
        Report { trace: Vec<TraceEntry> },
    }
    match serde_json::from_slice(bytes) {
        Ok(File::Entries(entries) | File::Report { trace: entries }) => Ok(entries),
        Err(_) => {
            // The untagged error says nothing; the array reading's says where.
            let e = serde_json::from_slice::<Vec<TraceEntry>>(bytes)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            Err(crate::WalletError::Invalid(format!(
                "this is not a Ticket Wallet trace file: {e}"
            )))
        }
    }
}

/// A trace as the app shows it: exchanges in the order their requests left,
/// each with the curl command that sends it again.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct TraceView {
    /// The file it was opened from; none: the last sync's.
    pub file: Option<String>,
    pub exchanges: Vec<TracedExchange>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct TracedExchange {
    pub entry: TraceEntry,
    pub curl: String,
}

impl TraceView {
    pub fn of(mut entries: Vec<TraceEntry>, file: Option<String>) -> Self {
        entries.sort_by_key(|e| e.started_ms);
        let exchanges = entries
            .into_iter()
            .map(|entry| TracedExchange {
                curl: curl::command(&entry),
                entry,
            })
            .collect();
        Self { file, exchanges }
    }
}

/// Larger than any sync's trace (a page is one entry of about 2 KB), small
/// enough that a wrong file chosen by mistake is refused, not read.
const MAX_TRACE_FILE: u64 = 64 * 1024 * 1024;

/// A saved trace file, read back.
pub fn read_file(path: &std::path::Path) -> Result<Vec<TraceEntry>, crate::WalletError> {
    use std::io::Read;
    let cannot = |e: std::io::Error| {
        crate::WalletError::Invalid(format!("cannot read {}: {e}", path.display()))
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(cannot)?
        .take(MAX_TRACE_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_TRACE_FILE {
        return Err(crate::WalletError::Invalid(format!(
            "{} is larger than {} MiB: not a Ticket Wallet trace",
            path.display(),
            MAX_TRACE_FILE >> 20
        )));
    }
    parse(&bytes)
}

/// Writes `entries` to `path` as the wallet's own trace file or as HAR; an
/// old file at `path` stays until the new one is whole.
pub fn write_file(
    path: &std::path::Path,
    entries: &[TraceEntry],
    as_har: bool,
) -> Result<(), crate::WalletError> {
    crate::atomic::write_file(path, |out| {
        if as_har {
            serde_json::to_writer_pretty(out, &har::document(entries))
        } else {
            serde_json::to_writer_pretty(out, entries)
        }
        .map_err(std::io::Error::from)
    })
    .map_err(|e: std::io::Error| {
        crate::WalletError::Invalid(format!("cannot write {}: {e}", path.display()))
    })
}

#[derive(Debug, Clone, Default)]
pub struct Trace {
    entries: Arc<Mutex<Vec<TraceEntry>>>,
    /// Show secrets (tokens, tickets, proofs) in full: for testers on their own machine.
    pub tester_mode: bool,
}

/// Fields of forms and JSON answers a saved trace shows as they are. Every
/// other field keeps its name and loses its value: a secret the wallet has
/// never heard of (`registration_access_token`, `client_secret`, a
/// server's own) stays hidden, as tickets, assertions, codes and tokens do.
const SHOWN_FIELDS: [&str; 26] = [
    // Token requests and answers (RFC 6749, 8693, 9449; SMART).
    "grant_type",
    "subject_token_type",
    "requested_token_type",
    "issued_token_type",
    "client_assertion_type",
    "client_id",
    "redirect_uri",
    "scope",
    "audience",
    "resource",
    "token_type",
    "expires_in",
    "error",
    "error_description",
    "error_uri",
    "launch",
    "need_patient_banner",
    // Registration requests and answers (RFC 7591), with only public keys.
    "client_name",
    "client_id_issued_at",
    "client_secret_expires_at",
    "token_endpoint_auth_method",
    "grant_types",
    "redirect_uris",
    "jwks",
    "jwk_thumbprint",
    // An issuer's holder hints (Proposal 003).
    "smart_permission_ticket_endpoints",
];

/// Query parameters whose values a saved trace shows: how the wallet pages and
/// filters, never whom it asks about. Any other value (`patient`, `subject`,
/// a holder's paging token) becomes `[redacted]`.
const SHOWN_PARAMS: [&str; 9] = [
    "_count",
    "_offset",
    "_sort",
    "_lastUpdated",
    "_since",
    "_summary",
    "category",
    "code",
    "date",
];

/// A field's value as a saved trace may show it.
fn shown(key: &str, value: &Value, tester_mode: bool) -> Value {
    if tester_mode || SHOWN_FIELDS.contains(&key) {
        value.clone()
    } else {
        json!("[redacted]")
    }
}

impl Trace {
    pub fn new(tester_mode: bool) -> Self {
        Self {
            entries: Arc::default(),
            tester_mode,
        }
    }

    /// Adds an entry; returns its place, for `set_response`.
    pub fn push(&self, entry: TraceEntry) -> usize {
        match self.entries.lock() {
            Ok(mut e) => {
                e.push(entry);
                e.len() - 1
            }
            Err(_) => usize::MAX,
        }
    }

    /// Fills in what an answer showed, once its reader has parsed it (large
    /// pages are read once, by the reader, not again for the trace).
    pub fn set_response(&self, index: usize, shown: Value) {
        if let Ok(mut e) = self.entries.lock()
            && let Some(entry) = e.get_mut(index)
        {
            entry.response = Some(shown);
        }
    }

    pub fn entries(&self) -> Vec<TraceEntry> {
        self.entries.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// A URL as it may be shown: the patient's id at the holder (a
    /// `Patient/<id>` path, a `patient=` search) and every query value not
    /// in `SHOWN_PARAMS` are redacted, so a saved trace can be passed on.
    pub fn url(&self, text: &str) -> String {
        if self.tester_mode {
            return text.to_string();
        }
        redact_url(text)
    }

    /// A request header as it may be shown.
    pub fn header(&self, name: &str, value: &str, jwts: &mut Vec<Value>) -> (String, String) {
        let shown = match name.to_ascii_lowercase().as_str() {
            "authorization" if !self.tester_mode => {
                let scheme = value.split(' ').next().unwrap_or_default();
                format!("{scheme} [redacted]")
            }
            "dpop" => {
                let mut proof = self.decode("DPoP proof", value);
                if let Some(htu) = proof["claims"]["htu"].as_str() {
                    proof["claims"]["htu"] = json!(self.url(htu));
                }
                jwts.push(proof);
                if self.tester_mode {
                    value.to_string()
                } else {
                    "[DPoP proof, decoded below]".into()
                }
            }
            _ => value.to_string(),
        };
        (name.to_string(), shown)
    }

    /// A form body as it may be shown; JWTs in it are decoded into `jwts`.
    pub fn form(&self, fields: &[(&str, String)], jwts: &mut Vec<Value>) -> Value {
        let mut out = serde_json::Map::new();
        for (k, v) in fields {
            match *k {
                "client_assertion" => jwts.push(self.decode("client assertion", v)),
                "subject_token" => jwts.push(self.ticket_summary(v)),
                _ => {}
            }
            out.insert(k.to_string(), shown(k, &json!(v), self.tester_mode));
        }
        Value::Object(out)
    }

    /// A JSON response as it may be shown: secrets redacted, FHIR bodies summarised.
    pub fn response(&self, body: &[u8]) -> Option<Value> {
        // FHIR answers are summarised from a light read that skips resources
        // without building them; everything else is read whole to redact it.
        if let Ok(light) = serde_json::from_slice::<LightFhir>(body)
            && let Some(t) = light.resource_type.as_deref()
            && t != "OperationOutcome"
        {
            return Some(match t {
                "Bundle" => self.bundle_summary(
                    light.total,
                    light.entry.map(|e| e.len()).unwrap_or(0),
                    light
                        .link
                        .unwrap_or_default()
                        .into_iter()
                        .find(|l| l.relation.as_deref() == Some("next"))
                        .and_then(|l| l.url),
                ),
                _ => self.resource_summary(t, light.id.unwrap_or(Value::Null)),
            });
        }
        let mut v: Value = serde_json::from_slice(body).ok()?;
        if v.get("resourceType").is_some() {
            return Some(self.fhir_summary(&v));
        }
        if let Some(obj) = v.as_object_mut() {
            for (k, value) in obj.iter_mut() {
                *value = match (k.as_str(), value.take()) {
                    // Each ticket an issuer hands out, counted, not shown.
                    ("smart_permission_ticket", Value::Array(tickets)) if !self.tester_mode => {
                        Value::Array(tickets.iter().map(|_| json!("[ticket redacted]")).collect())
                    }
                    (k, taken) => shown(k, &taken, self.tester_mode),
                };
            }
        } else if !self.tester_mode {
            v = json!("[redacted]");
        }
        Some(v)
    }

    /// Tokens a token endpoint issued that are JWTs, decoded. Only their
    /// header and what says how they may be used are shown, unless in tester
    /// mode: an access token's claims may name the patient.
    pub fn issued_tokens(&self, body: &[u8]) -> Vec<Value> {
        let Ok(Value::Object(answer)) = serde_json::from_slice::<Value>(body) else {
            return Vec::new();
        };
        [("access_token", "access token"), ("id_token", "id token")]
            .into_iter()
            .filter_map(|(field, role)| {
                let text = answer.get(field)?.as_str()?;
                let mut decoded = self.decode(role, text);
                if decoded.get("error").is_some() {
                    return None; // an opaque token: nothing to decode
                }
                if !self.tester_mode {
                    let c = &decoded["claims"];
                    decoded["claims"] = json!({
                        "iss": c["iss"], "aud": c["aud"], "exp": c["exp"], "iat": c["iat"],
                        "scope": c["scope"], "cnf": c["cnf"], "[other claims]": "[redacted]",
                    });
                }
                Some(decoded)
            })
            .collect()
    }

    /// A JWT decoded; in tester mode its compact form is kept beside it.
    fn decode(&self, role: &str, text: &str) -> Value {
        let mut decoded = decode_jwt(role, text);
        if self.tester_mode {
            decoded["compact"] = json!(text);
        }
        decoded
    }

    /// Tickets carry the patient's identity: by default only their kind and id are shown.
    fn ticket_summary(&self, ticket: &str) -> Value {
        let mut decoded = self.decode("permission ticket", ticket);
        if !self.tester_mode
            && let Some(claims) = decoded.get("claims").cloned()
        {
            decoded["claims"] = json!({
                "iss": claims["iss"], "jti": claims["jti"], "ticket_type": claims["ticket_type"],
                "exp": claims["exp"], "presenter_binding": claims["presenter_binding"],
                "subject": "[redacted]",
            });
        }
        decoded
    }
}

#[derive(serde::Deserialize)]
struct LightFhir {
    #[serde(rename = "resourceType")]
    resource_type: Option<String>,
    id: Option<Value>,
    total: Option<Value>,
    entry: Option<Vec<serde::de::IgnoredAny>>,
    link: Option<Vec<LightLink>>,
}

#[derive(serde::Deserialize)]
struct LightLink {
    relation: Option<String>,
    url: Option<String>,
}

/// A URL without whom it is about: the segment after `Patient/` and every
/// query value outside `SHOWN_PARAMS` become `[redacted]` (see `Trace::url`).
pub fn redact_url(text: &str) -> String {
    let Ok(mut url) = url::Url::parse(text) else {
        return "[redacted]".into();
    };
    let path: Vec<String> = url
        .path_segments()
        .map(|segments| {
            let mut after_patient = false;
            segments
                .map(|seg| {
                    let shown = if after_patient { "[redacted]" } else { seg };
                    after_patient = seg == "Patient";
                    shown.to_string()
                })
                .collect()
        })
        .unwrap_or_default();
    if url.path_segments().is_some() {
        url.set_path(&path.join("/"));
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if SHOWN_PARAMS.contains(&k.as_ref()) {
                    v.into_owned()
                } else {
                    "[redacted]".into()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.set_fragment(None);
    url.to_string()
}

impl Trace {
    /// How a Bundle shows in the trace: its size and where it goes next, never its resources.
    pub(crate) fn bundle_summary(
        &self,
        total: Option<Value>,
        entries: usize,
        next: Option<String>,
    ) -> Value {
        let next = next.map(|n| self.url(&n));
        json!({ "resourceType": "Bundle", "total": total, "entries": entries, "next": next })
    }

    /// Any other resource shows only its type and id; a Patient's id is whom it is about.
    pub(crate) fn resource_summary(&self, resource_type: &str, id: Value) -> Value {
        let id = if resource_type == "Patient" && !self.tester_mode {
            json!("[redacted]")
        } else {
            id
        };
        json!({ "resourceType": resource_type, "id": id })
    }

    fn fhir_summary(&self, v: &Value) -> Value {
        match v["resourceType"].as_str() {
            Some("Bundle") => self.bundle_summary(
                Some(v["total"].clone()),
                v["entry"].as_array().map(Vec::len).unwrap_or(0),
                v["link"]
                    .as_array()
                    .and_then(|l| l.iter().find(|x| x["relation"] == "next"))
                    .and_then(|x| x["url"].as_str())
                    .map(str::to_string),
            ),
            // The holder's words about what went wrong, and nothing else it sent.
            Some("OperationOutcome") => json!({
                "resourceType": "OperationOutcome",
                "issue": v["issue"].as_array().map(|issues| issues.iter().map(|i| json!({
                    "severity": i["severity"],
                    "code": i["code"],
                    "diagnostics": i["diagnostics"],
                    "details": { "text": i["details"]["text"] },
                })).collect::<Vec<_>>()),
            }),
            Some(t) => self.resource_summary(t, v["id"].clone()),
            None => Value::Null,
        }
    }
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Header and claims of a compact JWS, without its signature.
pub fn decode_jwt(role: &str, text: &str) -> Value {
    match permission_ticket::jws::CompactJws::parse(text) {
        Ok(j) => json!({ "role": role, "header": j.header, "claims": j.claims }),
        Err(e) => json!({ "role": role, "error": e.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_by_default() {
        let t = Trace::new(false);
        let mut jwts = Vec::new();
        let form = t.form(
            &[
                ("code", "abc".into()),
                ("grant_type", "authorization_code".into()),
            ],
            &mut jwts,
        );
        assert_eq!(form["code"], "[redacted]");
        assert_eq!(form["grant_type"], "authorization_code");
        let (_, auth) = t.header("Authorization", "DPoP secret-token", &mut jwts);
        assert_eq!(auth, "DPoP [redacted]");
        let resp = t
            .response(br#"{"access_token":"secret","token_type":"DPoP"}"#)
            .unwrap();
        assert_eq!(resp["access_token"], "[redacted]");
        assert!(!serde_json::to_string(&resp).unwrap().contains("secret"));
    }

    #[test]
    fn only_known_fields_keep_their_values() {
        let t = Trace::new(false);
        let resp = t
            .response(br#"{"client_id":"c1","registration_access_token":"rat-1","client_secret":"cs-1","x_vendor_key":"v-1","token_endpoint_auth_method":"private_key_jwt","nested":{"k":"n-1"}}"#)
            .unwrap();
        assert_eq!(resp["client_id"], "c1");
        assert_eq!(resp["token_endpoint_auth_method"], "private_key_jwt");
        for (field, secret) in [
            ("registration_access_token", "rat-1"),
            ("client_secret", "cs-1"),
            ("x_vendor_key", "v-1"),
            ("nested", "n-1"),
        ] {
            assert_eq!(resp[field], "[redacted]", "{field}");
            assert!(!resp.to_string().contains(secret), "{secret} shown");
        }
        let mut jwts = Vec::new();
        let form = t.form(
            &[
                ("client_secret", "cs-2".into()),
                ("refresh_token", "rt-2".into()),
                ("scope", "patient/*.rs".into()),
            ],
            &mut jwts,
        );
        assert_eq!(form["client_secret"], "[redacted]");
        assert_eq!(form["refresh_token"], "[redacted]");
        assert_eq!(form["scope"], "patient/*.rs");
        // A JSON answer that is not an object shows nothing of itself.
        assert_eq!(t.response(br#"["s-3"]"#).unwrap(), "[redacted]");
    }

    #[test]
    fn urls_keep_their_shape_and_lose_whom_they_are_about() {
        let t = Trace::new(false);
        assert_eq!(
            t.url(
                "https://h.example/fhir/Observation?patient=h1-ana&category=laboratory&_count=50"
            ),
            "https://h.example/fhir/Observation?patient=%5Bredacted%5D&category=laboratory&_count=50"
        );
        assert_eq!(
            t.url("https://h.example/fhir/Patient/h1-ana"),
            "https://h.example/fhir/Patient/[redacted]"
        );
        // A holder's own paging token may encode anything.
        assert_eq!(
            t.url("https://h.example/fhir?_getpages=abc123&_offset=100#x"),
            "https://h.example/fhir?_getpages=%5Bredacted%5D&_offset=100"
        );
        assert_eq!(t.url("not a url"), "[redacted]");
        let mut jwts = Vec::new();
        let proof = "eyJhbGciOiJFUzI1NiIsInR5cCI6ImRwb3Arand0In0.eyJodHUiOiJodHRwczovL2guZXhhbXBsZS9maGlyL1BhdGllbnQvaDEtYW5hIn0.c2ln";
        t.header("DPoP", proof, &mut jwts);
        assert_eq!(
            jwts[0]["claims"]["htu"],
            "https://h.example/fhir/Patient/[redacted]"
        );
        let tester = Trace::new(true);
        assert!(
            tester
                .url("https://h.example/fhir/Patient/h1-ana")
                .ends_with("h1-ana")
        );
    }

    #[test]
    fn an_issued_jwt_shows_how_it_may_be_used_and_not_whom_it_is_about() {
        // {"alg":"ES256"} . {"iss":"h","scope":"patient/*.rs","patient":"h1-ana","cnf":{"jkt":"k"}} . sig
        let token = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJoIiwic2NvcGUiOiJwYXRpZW50LyoucnMiLCJwYXRpZW50IjoiaDEtYW5hIiwiY25mIjp7ImprdCI6ImsifX0.c2ln";
        let body = format!(r#"{{"access_token":"{token}","token_type":"DPoP"}}"#);
        let shown = Trace::new(false).issued_tokens(body.as_bytes());
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0]["role"], "access token");
        assert_eq!(shown[0]["claims"]["scope"], "patient/*.rs");
        assert_eq!(shown[0]["claims"]["cnf"]["jkt"], "k");
        let text = shown[0].to_string();
        assert!(!text.contains("h1-ana") && !text.contains("c2ln"), "{text}");
        let full = Trace::new(true).issued_tokens(body.as_bytes());
        assert_eq!(full[0]["claims"]["patient"], "h1-ana");
        assert_eq!(full[0]["compact"], token);
        // An opaque token has nothing to decode.
        assert!(
            Trace::new(true)
                .issued_tokens(br#"{"access_token":"abc"}"#)
                .is_empty()
        );
    }

    #[test]
    fn tester_mode_shows_everything() {
        let t = Trace::new(true);
        let resp = t.response(br#"{"access_token":"secret"}"#).unwrap();
        assert_eq!(resp["access_token"], "secret");
    }

    #[test]
    fn fhir_bodies_are_summarised() {
        let t = Trace::new(true);
        let resp = t.response(br#"{"resourceType":"Bundle","total":3,"entry":[{"resource":{"name":"Ana"}}],"link":[]}"#).unwrap();
        assert_eq!(resp["entries"], 1);
        assert!(!resp.to_string().contains("Ana"));
    }
}
