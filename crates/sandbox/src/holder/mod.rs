//! A FHIR data holder that accepts Permission Tickets: SMART discovery,
//! dynamic client registration, RFC 8693 token exchange with the spec's
//! validation pipeline, DPoP (in the `dpop` profile), the Proposal 001
//! interaction fallback, and a FHIR R4 API over synthetic records, with
//! knobs to make it misbehave.

mod authorize;
mod faults;
mod fhir;
mod oauth;
mod token;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::{get, post};
use permission_ticket::{Jwk, TicketType};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use faults::Faults;

use crate::Issuer;
use crate::data::HolderData;

/// How a holder wants tokens presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// DPoP-bound tokens (RFC 9449): a proof on the token request and on every FHIR call.
    Dpop,
    /// Plain Bearer tokens, 401 with `WWW-Authenticate` on FHIR auth errors.
    Bearer,
    /// Like the public reference server: Bearer plus an `x-client-jkt` header on FHIR
    /// calls for key-bound tickets, 400 OperationOutcome on FHIR auth errors, no authorize endpoint.
    Reference,
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "dpop" => Ok(Self::Dpop),
            "bearer" => Ok(Self::Bearer),
            "reference" => Ok(Self::Reference),
            other => Err(format!(
                "unknown profile `{other}` (dpop, bearer, reference)"
            )),
        }
    }
}

/// A registered client (RFC 7591 with `private_key_jwt`).
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub jwk: Jwk,
    pub jkt: String,
    pub redirect_uris: Vec<String>,
}

/// What an access token stands for.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub patient: String,
    pub scopes: Vec<permission_ticket::SmartScope>,
    pub data_period: Option<(Option<String>, Option<String>)>,
    pub expires_at: i64,
    pub dpop_jkt: Option<String>,
    /// The ticket's `jkt`, checked against `x-client-jkt` in the reference profile.
    pub bound_jkt: Option<String>,
    pub fhir_calls: u32,
}

/// A ticket waiting for the patient to pick their record (Proposal 001).
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    pub client_id: String,
    pub jti: String,
    pub candidates: Vec<String>,
    pub scopes: Vec<permission_ticket::SmartScope>,
    pub grant: Grant,
    pub expires_at: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct Code {
    pub client_id: String,
    pub redirect_uri: String,
    pub challenge: String,
    pub jti: String,
    pub grant: Grant,
    pub expires_at: i64,
}

pub(crate) struct State {
    pub name: String,
    pub slug: String,
    pub origin: String,
    pub profile: Profile,
    pub data: HolderData,
    /// (resource type, `Patient/{id}`) -> indexes into `data.resources`, built once:
    /// scanning every resource for every page made big searches slow.
    pub compartments: HashMap<(String, String), Vec<usize>>,
    /// `data.resources` serialised once, so pages are written by copying.
    pub raw: Vec<Box<serde_json::value::RawValue>>,
    pub raw_patients: Vec<Box<serde_json::value::RawValue>>,
    pub issuers: Vec<Issuer>,
    /// Ticket types this holder accepts, and from which issuers (all known types by default).
    pub accepted_types: Vec<TicketType>,
    pub clients: HashMap<String, Client>,
    pub grants: HashMap<String, Grant>,
    pub launches: HashMap<String, Launch>,
    pub codes: HashMap<String, Code>,
    /// Ticket `jti` -> the patient chosen interactively; later exchanges use it silently.
    pub resolved: HashMap<String, String>,
    pub seen_jtis: HashSet<String>,
    pub nonce: String,
    pub faults: Faults,
    pub requests: u64,
    /// The most bytes of one huge answer (`Faults::huge_body_bytes`) handed to the connection.
    pub huge_sent: Arc<std::sync::atomic::AtomicU64>,
}

impl State {
    pub fn base(&self) -> String {
        format!("{}/holders/{}", self.origin, self.slug)
    }
    pub fn fhir_base(&self) -> String {
        format!("{}/fhir", self.base())
    }
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base())
    }
    pub fn rotate_nonce(&mut self) -> String {
        self.nonce = uuid::Uuid::new_v4().simple().to_string();
        self.nonce.clone()
    }
}

pub(crate) type Shared = Arc<Mutex<State>>;

pub(crate) fn lock(s: &Shared) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running data holder, for tests and tools to inspect and steer.
#[derive(Clone)]
pub struct Holder {
    pub(crate) state: Shared,
}

/// What `tw sandbox` prints about each holder.
#[derive(Debug, Clone, Serialize)]
pub struct HolderInfo {
    pub name: String,
    pub fhir_base: String,
    pub profile: Profile,
}

impl Holder {
    pub(crate) fn new(
        name: &str,
        slug: &str,
        origin: &str,
        profile: Profile,
        mut data: HolderData,
        issuers: Vec<Issuer>,
    ) -> Self {
        // Every resource says when it last changed, as a server's do; the
        // synthetic ones all before the holder came up, so a search for what
        // changed since an earlier sync finds only what `revise` touched.
        for r in data.resources.iter_mut().chain(data.patients.iter_mut()) {
            if let Some(o) = r.as_object_mut() {
                o.entry("meta")
                    .or_insert_with(|| serde_json::json!({ "lastUpdated": DATA_AS_OF }));
            }
        }
        let mut compartments: HashMap<(String, String), Vec<usize>> = HashMap::new();
        for (i, r) in data.resources.iter().enumerate() {
            let ty = r["resourceType"].as_str().unwrap_or_default();
            for k in ["subject", "patient"] {
                if let Some(reference) = r[k]["reference"].as_str() {
                    let list = compartments
                        .entry((ty.to_string(), reference.to_string()))
                        .or_default();
                    if list.last() != Some(&i) {
                        list.push(i);
                    }
                }
            }
        }
        let raw = data
            .resources
            .iter()
            .map(|r| serde_json::value::to_raw_value(r).unwrap_or_default())
            .collect();
        let raw_patients = data
            .patients
            .iter()
            .map(|r| serde_json::value::to_raw_value(r).unwrap_or_default())
            .collect();
        let state = State {
            name: name.into(),
            slug: slug.into(),
            origin: origin.into(),
            profile,
            data,
            compartments,
            raw,
            raw_patients,
            issuers,
            accepted_types: TicketType::KNOWN.to_vec(),
            clients: HashMap::new(),
            grants: HashMap::new(),
            launches: HashMap::new(),
            codes: HashMap::new(),
            resolved: HashMap::new(),
            seen_jtis: HashSet::new(),
            nonce: uuid::Uuid::new_v4().simple().to_string(),
            faults: Faults::default(),
            requests: 0,
            huge_sent: Arc::default(),
        };
        Self {
            state: Arc::new(Mutex::new(state)),
        }
    }

    pub fn info(&self) -> HolderInfo {
        let s = lock(&self.state);
        HolderInfo {
            name: s.name.clone(),
            fhir_base: s.fhir_base(),
            profile: s.profile,
        }
    }

    pub fn fhir_base(&self) -> String {
        lock(&self.state).fhir_base()
    }

    /// Makes the holder misbehave (or behave again with `Faults::default()`).
    pub fn set_faults(&self, faults: Faults) {
        lock(&self.state).faults = faults;
    }

    /// Limits which ticket types the holder accepts.
    pub fn accept_types(&self, types: Vec<TicketType>) {
        lock(&self.state).accepted_types = types;
    }

    /// Stops returning its last `n` resources, as if they were deleted at the
    /// source: the next sync finds a smaller set.
    pub fn forget_last(&self, n: usize) {
        let mut s = lock(&self.state);
        let keep = s.data.resources.len().saturating_sub(n);
        s.data.resources.truncate(keep);
        s.raw.truncate(keep);
        for list in s.compartments.values_mut() {
            list.retain(|&i| i < keep);
        }
    }

    /// Gives `n` of its resources, spread evenly through its set, a new
    /// version (`meta.versionId`, and `meta.lastUpdated` now), as if each
    /// were corrected at the source: the next sync finds them changed. Their
    /// ids stay.
    pub fn revise(&self, n: usize) {
        let mut s = lock(&self.state);
        let stamp = fhir::instant(now());
        let len = s.data.resources.len();
        if n == 0 || len == 0 {
            return;
        }
        let step = (len / n.min(len)).max(1);
        for i in (0..len).step_by(step).take(n) {
            let Some(r) = s.data.resources[i].as_object_mut() else {
                continue;
            };
            let version = r
                .get("meta")
                .and_then(|m| m["versionId"].as_str())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(1)
                + 1;
            r.insert(
                "meta".into(),
                serde_json::json!({ "versionId": version.to_string(), "lastUpdated": stamp }),
            );
            s.raw[i] = serde_json::value::to_raw_value(&s.data.resources[i]).unwrap_or_default();
        }
    }

    /// The most bytes of one huge answer the client took before it stopped reading.
    pub fn huge_body_sent(&self) -> u64 {
        lock(&self.state)
            .huge_sent
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many resources the holder would return for its main patient.
    pub fn resource_count(&self) -> usize {
        lock(&self.state).data.resources.len()
    }

    pub(crate) fn router(&self) -> Router {
        let slug = lock(&self.state).slug.clone();
        let p = |path: &str| format!("/holders/{slug}{path}");
        Router::new()
            .route(
                &p("/fhir/.well-known/smart-configuration"),
                get(oauth::smart_configuration),
            )
            .route(
                &p("/.well-known/smart-configuration"),
                get(oauth::smart_configuration),
            )
            .route(&p("/register"), post(oauth::register))
            .route(&p("/token"), post(token::token))
            .route(
                &p("/authorize"),
                get(authorize::page).post(authorize::decide),
            )
            .route(&p("/fhir/metadata"), get(fhir::metadata))
            .route(&p("/fhir/Patient/{id}"), get(fhir::read_patient))
            .route(&p("/fhir/{resource_type}"), get(fhir::search))
            .route(&p("/_faults"), post(faults::set))
            .layer(axum::middleware::from_fn_with_state(
                self.state.clone(),
                faults::apply,
            ))
            .with_state(self.state.clone())
    }
}

/// `meta.lastUpdated` of the synthetic records as generated.
pub const DATA_AS_OF: &str = "2026-07-01T00:00:00Z";

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

pub(crate) fn random_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A patient's display line on the interaction page.
pub(crate) fn describe_patient(p: &Value) -> String {
    let name = p["name"][0]["given"][0].as_str().unwrap_or("?").to_string()
        + " "
        + p["name"][0]["family"].as_str().unwrap_or("?");
    format!(
        "{name}, born {}, {} ({})",
        p["birthDate"].as_str().unwrap_or("?"),
        p["address"][0]["city"].as_str().unwrap_or("?"),
        p["identifier"][0]["value"].as_str().unwrap_or("?")
    )
}
