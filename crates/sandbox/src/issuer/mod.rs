//! A ticket issuer on loopback: publishes its keys at
//! `{iss}/.well-known/jwks.json`, mints tickets of every type for a given
//! `jkt`, and hosts the revocation status list its tickets point at.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use p256::ecdsa::SigningKey;
use permission_ticket::jws::Es256Signer;
use permission_ticket::{Jwk, Jwks, StatusList, TicketType};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const STATUS_LIST_LEN: u64 = 4096;

/// What to put in a minted ticket. Everything but the type has a sensible default.
#[derive(Debug, Clone, Deserialize)]
pub struct MintRequest {
    /// A full type URI, or the short name (`patient-self-access-v1`).
    pub ticket_type: String,
    /// The presenter's key thumbprint to bind to; unbound when absent.
    #[serde(default)]
    pub jkt: Option<String>,
    #[serde(default)]
    pub aud: Option<Vec<String>>,
    #[serde(default)]
    pub patient: Option<Value>,
    #[serde(default)]
    pub smart_scopes: Option<Vec<String>>,
    #[serde(default)]
    pub data_period: Option<Value>,
    /// Seconds until the ticket expires (default one hour; negative mints an expired one).
    #[serde(default)]
    pub lifetime: Option<i64>,
    /// Whether the ticket points at the revocation list (default true).
    #[serde(default)]
    pub revocable: Option<bool>,
    /// Extra top-level claims, e.g. `must_understand`, set last (they win).
    #[serde(default)]
    pub extra_claims: Option<Map<String, Value>>,
    /// Extra members of `access`, e.g. a constraint a holder cannot enforce.
    #[serde(default)]
    pub extra_access: Option<Map<String, Value>>,
}

impl MintRequest {
    pub fn new(ticket_type: TicketType, jkt: Option<String>) -> Self {
        Self {
            ticket_type: ticket_type.uri(),
            jkt,
            aud: None,
            patient: None,
            smart_scopes: None,
            data_period: None,
            lifetime: None,
            revocable: None,
            extra_claims: None,
            extra_access: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    #[error("unknown ticket type `{0}`")]
    UnknownType(String),
    #[error("no ticket with jti `{0}` was minted here")]
    UnknownTicket(String),
    #[error("the revocation list is full")]
    ListFull,
    #[error("the seed does not give a valid P-256 key")]
    BadSeed,
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
}

mod launch;

pub(crate) struct Inner {
    key: Es256Signer,
    jwk: Jwk,
    /// Keys no longer signing but still published, so earlier tickets verify.
    retired: Vec<Jwk>,
    /// Holders named in Proposal 003 token responses: (FHIR base, name).
    endpoints: Vec<(String, String)>,
    /// Hints sent as they are instead of `endpoints`: a hostile issuer's, for tests.
    raw_hints: Option<Vec<serde_json::Value>>,
    launch: launch::LaunchState,
    url: String,
    list: StatusList,
    /// jti -> status list index, in minting order.
    minted: Vec<String>,
    /// How many times the status list was fetched.
    status_fetches: u64,
}

/// A running issuer. Dropping it stops the server.
#[derive(Clone)]
pub struct Issuer {
    inner: Arc<Mutex<Inner>>,
    task: Arc<JoinHandle<()>>,
}

impl Drop for Issuer {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

impl Issuer {
    /// Starts on `127.0.0.1:port` (0 picks a free port) with a fresh key.
    pub async fn start(port: u16) -> Result<Self, IssuerError> {
        Self::start_with_key(port, SigningKey::random(&mut rand_core::OsRng)).await
    }

    /// Starts with a key derived from `seed`, so its tickets verify across
    /// restarts. Only for demos: anyone who knows the seed can sign.
    pub async fn start_seeded(port: u16, seed: &[u8]) -> Result<Self, IssuerError> {
        Self::start_with_key(port, seeded_key(seed)?).await
    }

    async fn start_with_key(port: u16, key: SigningKey) -> Result<Self, IssuerError> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
        let addr = listener.local_addr()?;
        let (mut issuer, app) = Self::mounted(key, &format!("http://{addr}"));
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("issuer stopped: {e}");
            }
        });
        issuer.task = Arc::new(task);
        Ok(issuer)
    }

    /// An issuer at `{origin}/issuer` whose routes the caller serves.
    pub(crate) fn mounted(key: SigningKey, origin: &str) -> (Self, Router) {
        let jwk = Jwk::from_p256(key.verifying_key());
        let inner = Arc::new(Mutex::new(Inner {
            key: Es256Signer::new(key),
            jwk,
            retired: Vec::new(),
            endpoints: Vec::new(),
            raw_hints: None,
            launch: launch::LaunchState::default(),
            url: format!("{origin}/issuer"),
            list: StatusList::new(STATUS_LIST_LEN),
            minted: Vec::new(),
            status_fetches: 0,
        }));
        let app = Router::new()
            .route("/issuer/.well-known/jwks.json", get(jwks))
            .route("/issuer/status/1", get(status))
            .route("/issuer/tickets", post(mint_http))
            .route(
                "/issuer/.well-known/smart-configuration",
                get(launch::configuration),
            )
            .route("/issuer/authorize", get(launch::page).post(launch::decide))
            .route("/issuer/token", post(launch::token))
            .with_state(inner.clone());
        let idle = tokio::spawn(async {});
        (
            Self {
                inner,
                task: Arc::new(idle),
            },
            app,
        )
    }

    pub(crate) fn random_key() -> SigningKey {
        SigningKey::random(&mut rand_core::OsRng)
    }

    /// Whether the status list says `index` is revoked (`None`: out of range).
    pub fn is_revoked(&self, index: u64) -> Option<bool> {
        self.lock().list.is_revoked(index).ok()
    }

    /// How many times the revocation status list has been fetched.
    pub fn status_fetches(&self) -> u64 {
        self.lock().status_fetches
    }

    /// The issuer identifier (`iss`), an http://127.0.0.1 URL.
    pub fn url(&self) -> String {
        self.lock().url.clone()
    }

    /// The published key set: the signing key and any retired ones.
    pub fn jwks(&self) -> Jwks {
        self.lock().jwks()
    }

    /// Starts signing with a new key; the old one stays published.
    pub fn rotate_key(&self) {
        let mut inner = self.lock();
        let key = Self::random_key();
        let old = std::mem::replace(&mut inner.jwk, Jwk::from_p256(key.verifying_key()));
        inner.retired.push(old);
        inner.key = Es256Signer::new(key);
    }

    /// Signs from now on with the key derived from `seed`; the key it used
    /// before stays published, so what it signed still verifies.
    pub fn use_seed(&self, seed: &[u8]) -> Result<(), IssuerError> {
        let key = seeded_key(seed)?;
        let jwk = Jwk::from_p256(key.verifying_key());
        let mut inner = self.lock();
        if inner.jwk.kid == jwk.kid {
            return Ok(());
        }
        inner.retired.retain(|k| k.kid != jwk.kid);
        let old = std::mem::replace(&mut inner.jwk, jwk);
        inner.retired.push(old);
        inner.key = Es256Signer::new(key);
        Ok(())
    }

    /// The signing key as a private JWK: the test issuer key a tester gives
    /// `tw check --issuer-key` to build tickets with one claim changed. A
    /// sandbox key, never a real issuer's.
    pub fn test_key_jwk(&self) -> serde_json::Value {
        let inner = self.lock();
        let mut jwk = serde_json::to_value(&inner.jwk).unwrap_or_default();
        jwk["d"] = permission_ticket::base64url::encode(inner.key.key().to_bytes()).into();
        jwk
    }

    /// The holders a Proposal 003 token response points the wallet to.
    pub fn set_endpoints(&self, endpoints: Vec<(String, String)>) {
        self.lock().endpoints = endpoints;
    }

    /// Sends these `smart_permission_ticket_endpoints` entries as they are, as
    /// a careless or hostile issuer might (any holder, any organization, any
    /// `ticket_indices`).
    pub fn set_endpoint_hints(&self, hints: Vec<serde_json::Value>) {
        self.lock().raw_hints = Some(hints);
    }

    /// Mints a signed ticket.
    pub fn mint(&self, req: &MintRequest) -> Result<String, IssuerError> {
        mint(&mut self.lock(), req)
    }

    /// Sets the ticket's bit in the status list.
    pub fn revoke(&self, jti: &str) -> Result<(), IssuerError> {
        let mut inner = self.lock();
        let index = inner
            .minted
            .iter()
            .position(|j| j == jti)
            .ok_or_else(|| IssuerError::UnknownTicket(jti.into()))?;
        inner
            .list
            .set_revoked(index as u64)
            .map_err(|_| IssuerError::ListFull)
    }

    /// Takes the next index for a ticket that was never handed out and sets
    /// its bit, so the list always holds a revoked entry a tester (or
    /// `tw check`'s `revoked_ticket` case) can point a re-signed ticket at.
    pub(crate) fn keep_one_revoked(&self) -> Result<(), IssuerError> {
        let jti = {
            let mut inner = self.lock();
            let jti = format!("sandbox-revoked-{}", inner.minted.len());
            inner.minted.push(jti.clone());
            jti
        };
        self.revoke(&jti)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A key derived from a seed: the same seed always gives the same key.
pub(crate) fn seeded_key(seed: &[u8]) -> Result<SigningKey, IssuerError> {
    use sha2::Digest;
    SigningKey::from_slice(&sha2::Sha256::digest(seed)).map_err(|_| IssuerError::BadSeed)
}

impl Inner {
    fn jwks(&self) -> Jwks {
        let mut keys = vec![self.jwk.clone()];
        keys.extend(self.retired.iter().cloned());
        Jwks { keys }
    }
}

pub(crate) fn mint(inner: &mut Inner, req: &MintRequest) -> Result<String, IssuerError> {
    let ty = if req.ticket_type.contains('/') {
        TicketType::from_uri(&req.ticket_type)
    } else {
        TicketType::from_uri(&format!(
            "https://smarthealthit.org/permission-ticket-type/{}",
            req.ticket_type
        ))
    };
    if !ty.is_known() {
        return Err(IssuerError::UnknownType(req.ticket_type.clone()));
    }
    let jti = uuid::Uuid::new_v4().to_string();
    let index = inner.minted.len() as u64;
    if index >= inner.list.len() {
        return Err(IssuerError::ListFull);
    }
    let now = now();
    let mut c = Map::new();
    c.insert("iss".into(), inner.url.clone().into());
    // By default the ticket is for every holder of the sandbox's trust framework.
    match &req.aud {
        Some(aud) => {
            c.insert("aud".into(), json!(aud));
            c.insert("aud_type".into(), json!("data_holder_url"));
        }
        None => {
            c.insert("aud".into(), json!([crate::NETWORK]));
            c.insert("aud_type".into(), json!("trust_framework"));
        }
    }
    c.insert("exp".into(), json!(now + req.lifetime.unwrap_or(3600)));
    c.insert("iat".into(), json!(now));
    c.insert("jti".into(), jti.clone().into());
    c.insert("ticket_type".into(), ty.uri().into());
    if let Some(jkt) = &req.jkt {
        c.insert(
            "presenter_binding".into(),
            json!({ "method": "jkt", "jkt": jkt }),
        );
    }
    if req.revocable.unwrap_or(true) {
        c.insert(
            "revocation".into(),
            json!({ "url": format!("{}/status/1", inner.url), "index": index }),
        );
    }
    let patient = req.patient.clone().unwrap_or_else(|| {
        json!({ "resourceType": "Patient", "name": [{ "family": "Rivera", "given": ["Ana"] }],
                "birthDate": "1984-03-12", "gender": "female",
                "identifier": [{ "system": "https://sandbox.example/mrn", "value": "SB-1001" }] })
    });
    c.insert("subject".into(), json!({ "patient": patient }));
    let mut access = Map::new();
    access.insert(
        "smart_scopes".into(),
        json!(
            req.smart_scopes
                .clone()
                .unwrap_or_else(|| default_scopes(&ty))
        ),
    );
    if let Some(p) = &req.data_period {
        access.insert("data_period".into(), p.clone());
    }
    type_claims(&ty, &mut c, &mut access);
    access.extend(req.extra_access.clone().unwrap_or_default());
    c.insert("access".into(), Value::Object(access));
    c.extend(req.extra_claims.clone().unwrap_or_default());
    let mut header = Map::new();
    header.insert(
        "kid".into(),
        inner.jwk.kid.clone().unwrap_or_default().into(),
    );
    header.insert("typ".into(), "JWT".into());
    let ticket = inner.key.sign(header, &Value::Object(c));
    inner.minted.push(jti);
    Ok(ticket)
}

fn default_scopes(ty: &TicketType) -> Vec<String> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect();
    match ty {
        TicketType::PayerQualityGap => s(&["patient/Observation.rs?code=http://loinc.org|4548-4"]),
        _ => s(&[
            "patient/Patient.rs",
            "patient/Condition.rs",
            "patient/Observation.rs",
            "patient/MedicationRequest.rs",
            "patient/AllergyIntolerance.rs",
            "patient/Immunization.rs",
        ]),
    }
}

/// The requester and facts each type needs, in the current spec's shape.
fn type_claims(ty: &TicketType, c: &mut Map<String, Value>, access: &mut Map<String, Value>) {
    let org = |name: &str| json!({ "resourceType": "Organization", "name": name });
    let concept = |text: &str| json!({ "text": text });
    let order = json!({ "resourceType": "ServiceRequest", "status": "active", "intent": "order" });
    match ty {
        TicketType::PatientDelegatedAccess => {
            c.insert("requester".into(), json!({ "resourceType": "RelatedPerson",
                "relationship": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "DELEGATEE", "display": "delegatee" }] }],
                "name": [{ "family": "Rivera", "given": ["Luis"] }] }));
        }
        TicketType::PublicHealthInvestigation => {
            c.insert("requester".into(), org("Sandbox Public Health Department"));
            c.insert("reportable_condition".into(), concept("Measles"));
        }
        TicketType::SocialCareReferral => {
            c.insert("requester".into(), org("Sandbox Community Services"));
            c.insert("concern".into(), concept("Food insecurity"));
            c.insert("referral".into(), order.clone());
        }
        TicketType::PayerClaimsAdjudication => {
            c.insert("requester".into(), org("Sandbox Health Plan"));
            access.remove("smart_scopes");
            access.insert(
                "claim_linkage".into(),
                json!({ "encounter": [{ "reference": "Encounter/sandbox-1" }] }),
            );
        }
        TicketType::ResearchStudyAccess => {
            c.insert("requester".into(), org("Sandbox Research Institute"));
            c.insert("study".into(), json!({ "resourceType": "ResearchStudy", "status": "active", "title": "Sandbox Registry" }));
        }
        TicketType::ProviderConsult => {
            c.insert("requester".into(), json!({ "resourceType": "PractitionerRole", "practitioner": { "display": "Dr. Sam Okafor" } }));
            c.insert("reason".into(), concept("Second opinion"));
            c.insert("consult_request".into(), order);
        }
        TicketType::PayerQualityGap => {
            c.insert("requester".into(), org("Sandbox Health Plan"));
            c.insert("measure".into(), concept("Diabetes: HbA1c poor control"));
            access
                .entry("data_period")
                .or_insert(json!({ "start": "2026-01-01", "end": "2026-12-31" }));
        }
        TicketType::PatientSelfAccess | TicketType::Unknown(_) => {}
    }
}

async fn jwks(State(inner): State<Arc<Mutex<Inner>>>) -> Response {
    let jwks = inner.lock().map(|i| i.jwks());
    match jwks {
        Ok(jwks) => Json(jwks).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn status(State(inner): State<Arc<Mutex<Inner>>>) -> Response {
    let list = inner.lock().map(|mut i| {
        i.status_fetches += 1;
        i.list.to_json()
    });
    match list {
        Ok(list) => Json(list).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn mint_http(
    State(inner): State<Arc<Mutex<Inner>>>,
    Json(req): Json<MintRequest>,
) -> Response {
    let minted = match inner.lock() {
        Ok(mut i) => mint(&mut i, &req),
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    match minted {
        Ok(ticket) => Json(json!({ "ticket": ticket })).into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "invalid_request", "error_description": e.to_string() })),
        )
            .into_response(),
    }
}
