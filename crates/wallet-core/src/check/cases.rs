//! The cases of the battery, in the order they run. Each names the
//! requirement it checks: the IG's section (build.fhir.org/ig/jmandel/
//! smart-permission-tickets-wip), an RFC's, or SMART App Launch's.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use permission_ticket::SmartScope;
use reqwest::Method;
use serde_json::{Map, Value, json};
use sha2::Digest;
use vault::WalletKey;

use super::{Outcome, Target, Verdict, needs_discovery};
use crate::engine::{Engine, JWT_BEARER, Outgoing, Reply, TICKET_TOKEN_TYPE};
use crate::holders::{SmartConfig, TOKEN_EXCHANGE};
use crate::http::Http;
use crate::proofs::{client_assertion, dpop_proof};
use crate::trace::Step;
use crate::wallet::now;

const MAX_BYTES: usize = 4 * 1024 * 1024;

pub(crate) struct Ctx {
    pub http: Http,
    pub key: Arc<WalletKey>,
    pub target: Target,
    pub config: Option<SmartConfig>,
    pub client_id: Option<String>,
    pub nonce: Option<String>,
    pub session: Option<Session>,
}

#[derive(Clone)]
pub(crate) struct Session {
    access_token: String,
    expires_in: Option<i64>,
    dpop: bool,
    patient: Option<String>,
    scope: Option<String>,
}

pub(crate) struct Case {
    pub id: &'static str,
    pub title: &'static str,
    pub requirement: &'static str,
    pub run: for<'a> fn(&'a mut Ctx, &'a Engine) -> BoxFuture<'a, Verdict>,
}

pub(crate) const ALL: &[Case] = &[
    Case {
        id: "discovery",
        title: "Discovery document present and well formed",
        requirement: "IG §Discovery: SHALL list token exchange in grant_types_supported and the ticket types in smart_permission_ticket_types_supported; SMART App Launch 2 §Conformance: token_endpoint; client-confidential-asymmetric: private_key_jwt with ES256",
        run: discovery,
    },
    Case {
        id: "registration",
        title: "Dynamic client registration, when offered",
        requirement: "RFC 7591 §3.2.1 (a client id for the registered key); IG §Trust and Client Registration",
        run: registration,
    },
    Case {
        id: "exchange_valid",
        title: "A valid ticket is exchanged for an access token",
        requirement: "IG §Transport and RFC 8693 §2.2.1: access_token, issued_token_type, token_type",
        run: exchange_valid,
    },
    Case {
        id: "scopes_within_ticket",
        title: "Granted scopes stay within the ticket's",
        requirement: "IG §Access Calculation: access is the intersection of the request, the ticket's access and local policy",
        run: scopes_within_ticket,
    },
    Case {
        id: "dpop_nonce",
        title: "A DPoP nonce challenge is honoured",
        requirement: "RFC 9449 §8: a server that uses nonces answers use_dpop_nonce with a fresh DPoP-Nonce and accepts a proof that carries it",
        run: dpop_nonce,
    },
    Case {
        id: "tampered_signature",
        title: "A ticket with a tampered signature is refused",
        requirement: "IG §Error Responses: invalid_grant, \"Ticket signature verification failed\"",
        run: tampered_signature,
    },
    Case {
        id: "assertion_audience",
        title: "A client assertion for another audience is refused",
        requirement: "RFC 7523 §3 (aud identifies the token endpoint) and §3.2: invalid_client",
        run: assertion_audience,
    },
    Case {
        id: "assertion_replay",
        title: "A replayed client assertion jti is refused",
        requirement: "RFC 7523 §3: jti lets the server refuse a replayed assertion (a SHOULD for this battery: a warning when accepted)",
        run: assertion_replay,
    },
    Case {
        id: "dpop_wrong_htu",
        title: "A DPoP proof for another URL is refused",
        requirement: "RFC 9449 §4.3 (htu matches the request URI) and §5: invalid_dpop_proof",
        run: dpop_wrong_htu,
    },
    Case {
        id: "dpop_wrong_htm",
        title: "A DPoP proof for another method is refused",
        requirement: "RFC 9449 §4.3 (htm matches the method) and §5: invalid_dpop_proof",
        run: dpop_wrong_htm,
    },
    Case {
        id: "dpop_reused_proof",
        title: "A DPoP proof used twice is refused",
        requirement: "RFC 9449 §11.1: servers protect against replay (a proof's jti used once)",
        run: dpop_reused_proof,
    },
    Case {
        id: "dpop_missing_at_fhir",
        title: "A DPoP-bound token without a proof is refused at the FHIR API",
        requirement: "RFC 9449 §7.1: a DPoP-bound access token is accepted only with a valid proof",
        run: dpop_missing_at_fhir,
    },
    Case {
        id: "dpop_wrong_ath",
        title: "A DPoP proof for another access token is refused at the FHIR API",
        requirement: "RFC 9449 §7.1 and §4.3 (ath is the hash of the access token)",
        run: dpop_wrong_ath,
    },
    Case {
        id: "paging_on_holder",
        title: "Paging links stay on the holder",
        requirement: "FHIR R4 RESTful API, paging (Bundle.link next), with the wallet's rule: the token goes only to the holder's own FHIR base",
        run: paging_on_holder,
    },
    Case {
        id: "expired_ticket",
        title: "An expired ticket is refused",
        requirement: "IG §Error Responses: invalid_grant, \"Ticket expired\"",
        run: expired_ticket,
    },
    Case {
        id: "wrong_audience",
        title: "A ticket for another holder is refused",
        requirement: "IG §Error Responses: invalid_grant, \"Ticket not valid for this server\"",
        run: wrong_audience,
    },
    Case {
        id: "unknown_ticket_type",
        title: "A ticket of an unknown type is refused",
        requirement: "IG §Error Responses: invalid_grant, \"Unsupported ticket type\"",
        run: unknown_ticket_type,
    },
    Case {
        id: "unknown_must_understand",
        title: "A ticket with a must_understand claim the holder does not know is refused",
        requirement: "IG §Ticket format (must_understand) and §Error Responses: invalid_grant, \"Cannot enforce kernel field\"",
        run: unknown_must_understand,
    },
    Case {
        id: "presenter_mismatch",
        title: "A ticket bound to another key is refused",
        requirement: "IG §Presenter Binding and §Error Responses: invalid_grant, \"Ticket presenter binding mismatch\"",
        run: presenter_mismatch,
    },
    Case {
        id: "revoked_ticket",
        title: "A revoked ticket is refused",
        requirement: "IG §Revocation: holders SHALL check the status list the ticket points at and fail closed; §Error Responses: invalid_grant, \"Ticket has been revoked\"",
        run: revoked_ticket,
    },
    Case {
        id: "search_beyond_scope",
        title: "A search beyond the granted scopes is refused",
        requirement: "IG §Token-Time and Resource-Time Enforcement; SMART App Launch 2 §Scopes",
        run: search_beyond_scope,
    },
    Case {
        id: "expired_access_token",
        title: "An expired access token is refused",
        requirement: "RFC 6749 §5.1 (expires_in) and RFC 6750 §3.1 (invalid_token: the access token expired)",
        run: expired_access_token,
    },
    Case {
        id: "data_period",
        title: "Data outside the ticket's data_period is not returned",
        requirement: "IG §Access (access.data_period) and §Token-Time and Resource-Time Enforcement: only data dated within the period",
        run: data_period,
    },
];

/// How a DPoP proof is made for a request.
#[derive(Clone)]
enum Proof {
    Proper,
    Missing,
    Url(String),
    Method(&'static str),
    Nonce(String),
    Given(String),
}

fn verdict(outcome: Outcome, detail: impl Into<String>) -> Verdict {
    (outcome, detail.into())
}

fn error_of(reply: &Reply) -> String {
    reply
        .json()
        .map(|v| v["error"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

/// A refusal judged: the OAuth error the requirement names passes, another
/// 4xx refusal is a warning, a token issued fails (a warning where the
/// requirement is a SHOULD).
fn refused(sent: Result<Reply, String>, want: &[&str], must: bool) -> Verdict {
    let reply = match sent {
        Ok(r) => r,
        Err(e) => return verdict(Outcome::Fail, format!("no answer: {e}")),
    };
    let error = error_of(&reply);
    match reply.status {
        200..=299 => verdict(
            if must {
                Outcome::Fail
            } else {
                Outcome::Warning
            },
            format!("accepted (HTTP {}): a token was issued", reply.status),
        ),
        400..=499 if want.contains(&error.as_str()) => verdict(
            Outcome::Pass,
            format!("refused with {error} (HTTP {})", reply.status),
        ),
        400..=499 => verdict(
            Outcome::Warning,
            format!(
                "refused (HTTP {}), but with `{error}` where {} is expected",
                reply.status,
                want.join(" or ")
            ),
        ),
        s => verdict(Outcome::Fail, format!("answered HTTP {s}")),
    }
}

/// A replay says something only if the first use was accepted: otherwise
/// the verdict (`if_refused`) that says why it was not.
fn first_use(sent: Result<Reply, String>, what: &str, if_refused: Outcome) -> Option<Verdict> {
    match sent {
        Ok(r) if (200..300).contains(&r.status) => None,
        Ok(r) => Some(verdict(
            if_refused,
            format!(
                "the first use of {what} was refused (HTTP {}: {}); nothing to replay",
                r.status,
                error_of(&r)
            ),
        )),
        Err(e) => Some(verdict(Outcome::Fail, format!("no answer: {e}"))),
    }
}

/// A FHIR request refused: 401 or 403 pass; 400 is a choice the holder may make.
fn refused_at_fhir(sent: Result<Reply, String>) -> Verdict {
    match sent {
        Err(e) => verdict(Outcome::Fail, format!("no answer: {e}")),
        Ok(r) => match r.status {
            401 | 403 => verdict(Outcome::Pass, format!("refused with HTTP {}", r.status)),
            400 => verdict(
                Outcome::Info,
                "refused with HTTP 400 (RFC 6750 suggests 401; a holder may answer 400)",
            ),
            200..=299 => {
                let body = r.json().unwrap_or(Value::Null);
                let empty_bundle = body["resourceType"] == "Bundle"
                    && body["entry"].as_array().is_none_or(Vec::is_empty);
                if empty_bundle {
                    verdict(
                        Outcome::Info,
                        "answered with an empty Bundle rather than an error (the reference server's choice): nothing beyond the grant was shared",
                    )
                } else {
                    verdict(
                        Outcome::Fail,
                        format!("answered HTTP {} with data", r.status),
                    )
                }
            }
            s => verdict(Outcome::Fail, format!("answered HTTP {s}")),
        },
    }
}

fn covers(ticket: &SmartScope, granted: &SmartScope) -> bool {
    ticket.context == granted.context
        && (ticket.resource_type == "*" || ticket.resource_type == granted.resource_type)
        && granted
            .permissions
            .chars()
            .all(|p| ticket.permissions.contains(p))
        && (ticket.query.is_none() || ticket.query == granted.query)
}

impl Ctx {
    fn ticket_scopes(ticket: &str) -> Vec<SmartScope> {
        permission_ticket::decode(ticket)
            .map(|d| d.ticket.access.scopes())
            .unwrap_or_default()
    }

    fn exchange_form(ticket: &str) -> Vec<(&'static str, String)> {
        let mut form = vec![
            ("grant_type", TOKEN_EXCHANGE.to_string()),
            ("subject_token", ticket.to_string()),
            ("subject_token_type", TICKET_TOKEN_TYPE.to_string()),
        ];
        let scopes: Vec<String> = Self::ticket_scopes(ticket)
            .iter()
            .map(ToString::to_string)
            .collect();
        if !scopes.is_empty() {
            form.push(("scope", scopes.join(" ")));
        }
        form
    }

    fn proof(&self, proof: &Proof, method: &str, url: &str, token: Option<&str>) -> Option<String> {
        let nonce = self.nonce.as_deref();
        match proof {
            Proof::Proper => Some(dpop_proof(&self.key, method, url, nonce, token)),
            Proof::Missing => None,
            Proof::Url(other) => Some(dpop_proof(&self.key, method, other, nonce, token)),
            Proof::Method(other) => Some(dpop_proof(&self.key, other, url, nonce, token)),
            Proof::Nonce(n) => Some(dpop_proof(&self.key, method, url, Some(n), token)),
            Proof::Given(p) => Some(p.clone()),
        }
    }

    /// A token request; a proof made here (not given) is made again once
    /// with the nonce a `use_dpop_nonce` answer hands out.
    async fn token(
        &mut self,
        engine: &Engine,
        form: Vec<(&'static str, String)>,
        assertion: Option<String>,
        proof: Proof,
    ) -> Result<Reply, String> {
        let (Some(config), Some(client_id)) = (self.config.clone(), self.client_id.clone()) else {
            return Err("no client id at this holder".into());
        };
        let endpoint = config.token_endpoint.clone();
        let mut proof = proof;
        for attempt in 0..2 {
            let mut f = form.clone();
            f.push(("client_id", client_id.clone()));
            f.push(("client_assertion_type", JWT_BEARER.to_string()));
            f.push((
                "client_assertion",
                assertion
                    .clone()
                    .unwrap_or_else(|| client_assertion(&self.key, &client_id, &endpoint)),
            ));
            let headers: Vec<_> = if config.dpop() {
                self.proof(&proof, "POST", &endpoint, None)
                    .map(|p| ("DPoP", p))
                    .into_iter()
                    .collect()
            } else {
                Vec::new()
            };
            let reply = engine
                .send(
                    Outgoing {
                        holder: &self.target.fhir_base,
                        step: Step::Exchange,
                        method: Method::POST,
                        url: endpoint.clone(),
                        headers,
                        form: Some(f),
                        json: None,
                    },
                    MAX_BYTES,
                )
                .await
                .map_err(|e| e.to_string())?;
            let fresh = reply.header("dpop-nonce");
            let challenged = reply.status == 400 && error_of(&reply) == "use_dpop_nonce";
            match (&proof, fresh) {
                (Proof::Proper | Proof::Url(_) | Proof::Method(_) | Proof::Nonce(_), Some(n))
                    if challenged && attempt == 0 =>
                {
                    self.nonce = Some(n);
                    if matches!(proof, Proof::Nonce(_)) {
                        proof = Proof::Proper;
                    }
                }
                _ => return Ok(reply),
            }
        }
        Err("the holder asked for a DPoP nonce twice".into())
    }

    async fn fhir(
        &mut self,
        engine: &Engine,
        session: &Session,
        url: &str,
        proof: Proof,
    ) -> Result<Reply, String> {
        for attempt in 0..2 {
            let mut headers = Vec::new();
            if session.dpop {
                headers.push(("Authorization", format!("DPoP {}", session.access_token)));
                let token = match &proof {
                    Proof::Given(_) => None,
                    _ => Some(session.access_token.as_str()),
                };
                if let Some(p) = self.proof(&proof, "GET", url, token) {
                    headers.push(("DPoP", p));
                }
            } else {
                headers.push(("Authorization", format!("Bearer {}", session.access_token)));
                // As a sync sends it: reference-style holders match it to the ticket's binding.
                headers.push(("x-client-jkt", self.key.jkt()));
            }
            let reply = engine
                .send(
                    Outgoing {
                        holder: &self.target.fhir_base,
                        step: Step::Fhir,
                        method: Method::GET,
                        url: url.to_string(),
                        headers,
                        form: None,
                        json: None,
                    },
                    MAX_BYTES,
                )
                .await
                .map_err(|e| e.to_string())?;
            let challenged = reply.status == 401
                && reply
                    .header("www-authenticate")
                    .is_some_and(|h| h.contains("use_dpop_nonce"));
            match reply.header("dpop-nonce") {
                Some(n) if challenged && attempt == 0 && matches!(proof, Proof::Proper) => {
                    self.nonce = Some(n);
                }
                Some(n) => {
                    self.nonce = Some(n);
                    return Ok(reply);
                }
                None => return Ok(reply),
            }
        }
        Err("the holder asked for a DPoP nonce twice".into())
    }

    /// A token for `ticket`, or the verdict when there is none: a refusal is
    /// judged `refused` (a fail, or information where the holder may refuse).
    async fn session_for(
        &mut self,
        engine: &Engine,
        ticket: &str,
        refused: (Outcome, &str),
    ) -> Result<Session, Verdict> {
        let form = Self::exchange_form(ticket);
        match self.token(engine, form, None, Proof::Proper).await {
            Ok(r) if (200..300).contains(&r.status) => Self::session_from(&r)
                .ok_or_else(|| verdict(Outcome::Fail, "the answer has no access_token")),
            Ok(r) => Err(verdict(
                refused.0,
                format!("{} (HTTP {}: {})", refused.1, r.status, error_of(&r)),
            )),
            Err(e) => Err(verdict(Outcome::Fail, format!("no answer: {e}"))),
        }
    }

    fn session_from(reply: &Reply) -> Option<Session> {
        let body = reply.json()?;
        Some(Session {
            access_token: body["access_token"].as_str()?.to_string(),
            expires_in: body["expires_in"].as_i64(),
            dpop: body["token_type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("DPoP")),
            patient: body["patient"].as_str().map(str::to_string),
            scope: body["scope"].as_str().map(str::to_string),
        })
    }

    /// A ticket re-signed with `edit`, or why the case cannot run.
    fn resigned(&self, edit: impl FnOnce(&mut Map<String, Value>)) -> Result<String, Verdict> {
        self.issuer_key()?
            .resign(&self.target.ticket, edit)
            .map_err(|e| verdict(Outcome::Fail, format!("could not re-sign the ticket: {e}")))
    }

    /// The test issuer key, or why a case that re-signs cannot run.
    fn issuer_key(&self) -> Result<&super::IssuerKey, Verdict> {
        if self.config.is_none() {
            return Err(needs_discovery());
        }
        self.target.issuer_key.as_ref().ok_or_else(|| {
            verdict(
                Outcome::NotApplicable,
                "needs a test issuer key this holder trusts (`--issuer-key`)",
            )
        })
    }

    /// The discovered token endpoint (empty before discovery; cases check `ready` first).
    fn token_endpoint(&self) -> String {
        self.config
            .as_ref()
            .map(|c| c.token_endpoint.clone())
            .unwrap_or_default()
    }

    fn ready(&self) -> Option<Verdict> {
        if self.config.is_none() {
            return Some(needs_discovery());
        }
        if self.client_id.is_none() {
            return Some(verdict(
                Outcome::NotApplicable,
                "needs a client id (registration, or one the wallet has for this holder)",
            ));
        }
        None
    }

    fn dpop_ready(&self) -> Option<Verdict> {
        if let Some(v) = self.ready() {
            return Some(v);
        }
        if !self.config.as_ref().is_some_and(SmartConfig::dpop) {
            return Some(verdict(
                Outcome::NotApplicable,
                "the holder does not advertise DPoP (dpop_signing_alg_values_supported)",
            ));
        }
        None
    }

    fn session_ready(&self) -> Result<Session, Verdict> {
        if let Some(v) = self.ready() {
            return Err(v);
        }
        self.session.clone().ok_or_else(|| {
            verdict(
                Outcome::NotApplicable,
                "needs an access token (see `exchange_valid`)",
            )
        })
    }
}

fn discovery<'a>(ctx: &'a mut Ctx, engine: &'a Engine) -> BoxFuture<'a, Verdict> {
    Box::pin(async move {
        let config = match engine.discover(&ctx.target.fhir_base).await {
            Ok(c) => c,
            Err(e) => return verdict(Outcome::Fail, e.to_string()),
        };
        let mut missing = Vec::new();
        if !config.token_exchange() {
            missing.push("token exchange in grant_types_supported");
        }
        if config.smart_permission_ticket_types_supported.is_empty() {
            missing.push("smart_permission_ticket_types_supported");
        }
        if url::Url::parse(&config.token_endpoint).is_err() {
            missing.push("a token_endpoint URL");
        }
        let mut should = Vec::new();
        if !config
            .token_endpoint_auth_methods_supported
            .iter()
            .any(|m| m == "private_key_jwt")
        {
            should.push("private_key_jwt in token_endpoint_auth_methods_supported");
        }
        if !config
            .token_endpoint_auth_signing_alg_values_supported
            .iter()
            .any(|a| a == "ES256")
        {
            should.push("ES256 in token_endpoint_auth_signing_alg_values_supported");
        }
        let types = config.smart_permission_ticket_types_supported.len();
        let usable = missing.is_empty();
        if usable {
            ctx.config = Some(config);
        }
        if !usable {
            verdict(Outcome::Fail, format!("missing: {}", missing.join(", ")))
        } else if !should.is_empty() {
            verdict(
                Outcome::Warning,
                format!("not listed: {}", should.join(", ")),
            )
        } else {
            verdict(
                Outcome::Pass,
                format!("token exchange, {types} ticket types, private_key_jwt with ES256"),
            )
        }
    })
}

fn registration<'a>(ctx: &'a mut Ctx, engine: &'a Engine) -> BoxFuture<'a, Verdict> {
    Box::pin(async move {
        let Some(config) = ctx.config.clone() else {
            return needs_discovery();
        };
        if config.registration_endpoint.is_none() {
            ctx.client_id = ctx.target.client_id.clone();
            return verdict(
                Outcome::NotApplicable,
                match &ctx.client_id {
                    Some(_) => "not offered; the wallet's own client id there is used",
                    None => "not offered, and the wallet has no client id there",
                },
            );
        }
        let record = crate::holders::HolderRecord::new(ctx.target.fhir_base.clone());
        match crate::engine::register(engine, &record, &config, "http://127.0.0.1/callback").await {
            Ok(id) => {
                ctx.client_id = Some(id);
                verdict(
                    Outcome::Pass,
                    "registered this wallet's key; a client id came back",
                )
            }
            Err(e) => {
                ctx.client_id = ctx.target.client_id.clone();
                verdict(Outcome::Fail, format!("registration failed: {e}"))
            }
        }
    })
}

fn exchange_valid<'a>(ctx: &'a mut Ctx, engine: &'a Engine) -> BoxFuture<'a, Verdict> {
    Box::pin(async move {
        if let Some(v) = ctx.ready() {
            return v;
        }
        let form = Ctx::exchange_form(&ctx.target.ticket);
        let reply = match ctx.token(engine, form, None, Proof::Proper).await {
            Ok(r) => r,
            Err(e) => return verdict(Outcome::Fail, format!("no answer: {e}")),
        };
        if !(200..300).contains(&reply.status) {
            let body = reply.json().unwrap_or(Value::Null);
            return verdict(
                Outcome::Fail,
                format!(
                    "refused (HTTP {}): {} {}",
                    reply.status,
                    body["error"].as_str().unwrap_or(""),
                    body["error_description"].as_str().unwrap_or("")
                ),
            );
        }
        let Some(session) = Ctx::session_from(&reply) else {
            return verdict(Outcome::Fail, "the answer has no access_token");
        };
        let body = reply.json().unwrap_or(Value::Null);
        let issued = body["issued_token_type"].as_str().unwrap_or("");
        let kind = if session.dpop { "DPoP" } else { "Bearer" };
        ctx.session = Some(session);
        if issued != "urn:ietf:params:oauth:token-type:access_token" {
            return verdict(
                Outcome::Warning,
                format!(
                    "a {kind} token, but issued_token_type is `{issued}` (RFC 8693 §2.2.1 requires it)"
                ),
            );
        }
        verdict(Outcome::Pass, format!("a {kind} access token was issued"))
    })
}

fn scopes_within_ticket<'a>(ctx: &'a mut Ctx, engine: &'a Engine) -> BoxFuture<'a, Verdict> {
    Box::pin(async move {
        if let Some(v) = ctx.ready() {
            return v;
        }
        // With a test issuer key, a ticket for Observations only makes a
        // wider grant visible even where the wallet's own ticket is `*`.
        let ticket = if ctx.target.issuer_key.is_some() {
            match ctx.resigned(narrow_to_observations) {
                Ok(t) => t,
                Err(v) => return v,
            }
        } else {
            ctx.target.ticket.clone()
        };
        let session = match ctx
            .session_for(engine, &ticket, (Outcome::Fail, "the ticket was refused"))
            .await
        {
            Ok(s) => s,
            Err(v) => return v,
        };
        let Some(granted) = session.scope else {
            return verdict(
                Outcome::Info,
                "the answer states no scope (RFC 6749 §5.1: then it is the one requested, which is the ticket's)",
            );
        };
        let allowed = Ctx::ticket_scopes(&ticket);
        let beyond: Vec<&str> = granted
            .split_whitespace()
            .filter(|g| !matches!(*g, "launch" | "openid" | "fhirUser" | "offline_access"))
            .filter(|g| match SmartScope::parse(g) {
                Ok(s) => !allowed.iter().any(|t| covers(t, &s)),
                Err(_) => true,
            })
            .collect();
        if beyond.is_empty() {
            verdict(
                Outcome::Pass,
                format!("granted `{granted}`, within the ticket's scopes"),
            )
        } else {
            verdict(
                Outcome::Fail,
                format!("granted beyond the ticket: {}", beyond.join(" ")),
            )
        }
    })
}

/// A ticket's access narrowed to `patient/Observation.rs`.
fn narrow_to_observations(claims: &mut Map<String, Value>) {
    if let Some(Value::Object(access)) = claims.get_mut("access") {
        access.insert("smart_scopes".into(), json!(["patient/Observation.rs"]));
        access.remove("permissions");
    }
}

fn dpop_nonce<'a>(ctx: &'a mut Ctx, engine: &'a Engine) -> BoxFuture<'a, Verdict> {
    Box::pin(async move {
        if let Some(v) = ctx.dpop_ready() {
            return v;
        }
        let uses_nonces = ctx.nonce.is_some();
        let form = Ctx::exchange_form(&ctx.target.ticket);
        let stale = "not-a-nonce-this-holder-gave".to_string();
        let first = engine.trace.entries().len();
        let reply = match ctx.token(engine, form, None, Proof::Nonce(stale)).await {
            Ok(r) => r,
            Err(e) => return verdict(Outcome::Fail, format!("no answer: {e}")),
        };
        let challenged = engine.trace.entries().len() - first > 1;
        match (reply.status, challenged, uses_nonces) {
            (200..=299, true, _) => verdict(
                Outcome::Pass,
                "a made-up nonce was answered with use_dpop_nonce and a fresh nonce, which was then accepted",
            ),
            (200..=299, false, false) => verdict(
                Outcome::Info,
                "the holder does not use DPoP nonces (RFC 9449 §8 makes them optional)",
            ),
            (200..=299, false, true) => verdict(
                Outcome::Fail,
                "the holder asked for a nonce before, yet accepted one it never gave",
            ),
            (s, _, _) => verdict(
                Outcome::Fail,
                format!(
                    "after the nonce challenge the request was still refused (HTTP {s}: {})",
                    error_of(&reply)
                ),
            ),
        }
    })
}

fn tampered_signature<'a>(ctx: &'a mut Ctx, engine: &'a Engine) -> BoxFuture<'a, Verdict> {
    Box::pin(async move {
        if let Some(v) = ctx.ready() {
            return v;
        }
        // One bit of the signature flipped: the claims are still the ticket's.
        let ticket = &ctx.target.ticket;
        let cut = ticket.rfind('.').unwrap_or(0) + 10;
        let mut bytes = ticket.clone().into_bytes();
        if let Some(b) = bytes.get_mut(cut) {
            *b = if *b == b'A' { b'B' } else { b'A' };
        }
        let tampered = String::from_utf8(bytes).unwrap_or_default();
        let form = Ctx::exchange_form(&tampered);
        refused(
            ctx.token(engine, form, None, Proof::Proper).await,
            &["invalid_grant"],
            true,
        )
    })
}

fn assertion_audience<'a>(ctx: &'a mut Ctx, engine: &'a Engine) -> BoxFuture<'a, Verdict> {
    Box::pin(async move {
        if let Some(v) = ctx.ready() {
            return v;
        }
        let client_id = ctx.client_id.clone().unwrap_or_default();
        let assertion = client_assertion(&ctx.key, &client_id, "https://elsewhere.invalid/token");
        let form = Ctx::exchange_form(&ctx.target.ticket);
        refused(
            ctx.token(engine, form, Some(assertion), Proof::Proper)
                .await,
            &["invalid_client"],
            true,
        )
    })
}

fn assertion_replay<'a>(ctx: &'a mut Ctx, engine: &'a Engine) -> BoxFuture<'a, Verdict> {
    Box::pin(async move {
        if let Some(v) = ctx.ready() {
            return v;
        }
        let client_id = ctx.client_id.clone().unwrap_or_default();
        let endpoint = ctx.token_endpoint();
        let assertion = client_assertion(&ctx.key, &client_id, &endpoint);
        let form = Ctx::exchange_form(&ctx.target.ticket);
        let first = ctx
            .token(engine, form.clone(), Some(assertion.clone()), Proof::Proper)
            .await;
        if let Some(v) = first_use(first, "the assertion", Outcome::Fail) {
            return v;
        }
        refused(
            ctx.token(engine, form, Some(assertion), Proof::Proper)
                .await,
            &["invalid_client"],
            false,
        )
    })
}

fn dpop_wrong_htu<'a>(ctx: &'a mut Ctx, engine: &'a Engine) -> BoxFuture<'a, Verdict> {
    Box::pin(async move {
        if let Some(v) = ctx.dpop_ready() {
            return v;
        }
        let form = Ctx::exchange_form(&ctx.target.ticket);
        let other = "https://elsewhere.invalid/token".to_string();
        refused(
            ctx.token(engine, form, None, Proof::Url(other)).await,
            &["invalid_dpop_proof"],
            true,
        )
    })
}

fn dpop_wrong_htm<'a>(ctx: &'a mut Ctx, engine: &'a Engine) -> BoxFuture<'a, Verdict> {
    Box::pin(async move {
        if let Some(v) = ctx.dpop_ready() {
            return v;
        }
        let form = Ctx::exchange_form(&ctx.target.ticket);
        refused(
            ctx.token(engine, form, None, Proof::Method("GET")).await,
            &["invalid_dpop_proof"],
            true,
        )
    })
}

fn dpop_reused_proof<'a>(ctx: &'a mut Ctx, engine: &'a Engine) -> BoxFuture<'a, Verdict> {
    Box::pin(async move {
        if let Some(v) = ctx.dpop_ready() {
            return v;
        }
        let endpoint = ctx.token_endpoint();
        let proof = dpop_proof(&ctx.key, "POST", &endpoint, ctx.nonce.as_deref(), None);
        let form = Ctx::exchange_form(&ctx.target.ticket);
        let first = ctx
            .token(engine, form.clone(), None, Proof::Given(proof.clone()))
            .await;
        if let Some(v) = first_use(first, "the proof", Outcome::NotApplicable) {
            return v;
        }
        refused(
            ctx.token(engine, form, None, Proof::Given(proof)).await,
            &["invalid_dpop_proof", "use_dpop_nonce"],
            true,
        )
    })
}

/// Whom a token's searches are about, or why a search cannot be made.
fn patient_of(session: &Session) -> Result<String, Verdict> {
    session.patient.clone().ok_or_else(|| {
        verdict(
            Outcome::NotApplicable,
            "the token answer names no patient to search for",
        )
    })
}

fn search_url(base: &str, patient: &str, resource_type: &str) -> String {
    format!("{base}/{resource_type}?patient={patient}&_count=1")
}

fn dpop_missing_at_fhir<'a>(ctx: &'a mut Ctx, engine: &'a Engine) -> BoxFuture<'a, Verdict> {
    Box::pin(async move {
        if let Some(v) = ctx.dpop_ready() {
            return v;
        }
        let session = match ctx.session_ready() {
            Ok(s) if s.dpop => s,
            Ok(_) => return verdict(Outcome::NotApplicable, "the token issued is a Bearer token"),
            Err(v) => return v,
        };
        let patient = session.patient.clone().unwrap_or_default();
        let url = format!("{}/Patient/{patient}", ctx.target.fhir_base);
        refused_at_fhir(ctx.fhir(engine, &session, &url, Proof::Missing).await)
    })
}

fn dpop_wrong_ath<'a>(ctx: &'a mut Ctx, engine: &'a Engine) -> BoxFuture<'a, Verdict> {
    Box::pin(async move {
        if let Some(v) = ctx.dpop_ready() {
            return v;
        }
        let session = match ctx.session_ready() {
            Ok(s) if s.dpop => s,
            Ok(_) => return verdict(Outcome::NotApplicable, "the token issued is a Bearer token"),
            Err(v) => return v,
        };
        let patient = session.patient.clone().unwrap_or_default();
        let url = format!("{}/Patient/{patient}", ctx.target.fhir_base);
        let proof = dpop_proof(
            &ctx.key,
            "GET",
            &url,
            ctx.nonce.as_deref(),
            Some("another-token"),
        );
        refused_at_fhir(ctx.fhir(engine, &session, &url, Proof::Given(proof)).await)
    })
}

fn paging_on_holder<'a>(ctx: &'a mut Ctx, engine: &'a Engine) -> BoxFuture<'a, Verdict> {
    Box::pin(async move {
        let session = match ctx.session_ready() {
            Ok(s) => s,
            Err(v) => return v,
        };
        let patient = match patient_of(&session) {
            Ok(p) => p,
            Err(v) => return v,
        };
        let url = search_url(&ctx.target.fhir_base, &patient, "Observation");
        let reply = match ctx.fhir(engine, &session, &url, Proof::Proper).await {
            Ok(r) if (200..300).contains(&r.status) => r,
            Ok(r) => {
                return verdict(
                    Outcome::Fail,
                    format!("the search answered HTTP {}", r.status),
                );
            }
            Err(e) => return verdict(Outcome::Fail, format!("no answer: {e}")),
        };
        let body = reply.json().unwrap_or(Value::Null);
        let links: Vec<String> = body["link"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|x| x["url"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let Some(next) = body["link"]
            .as_array()
            .and_then(|l| l.iter().find(|x| x["relation"] == "next"))
            .and_then(|x| x["url"].as_str())
        else {
            return verdict(
                Outcome::NotApplicable,
                "one page was enough: no next link to judge",
            );
        };
        let base = format!("{}/", ctx.target.fhir_base.trim_end_matches('/'));
        let elsewhere: Vec<&String> = links.iter().filter(|u| !u.starts_with(&base)).collect();
        if elsewhere.is_empty() {
            verdict(
                Outcome::Pass,
                format!(
                    "{} links, all under the FHIR base (next: {})",
                    links.len(),
                    crate::trace::redact_url(next)
                ),
            )
        } else {
            verdict(
                Outcome::Fail,
                format!(
                    "links leave the holder: {}",
                    elsewhere
                        .iter()
                        .map(|u| crate::trace::redact_url(u))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        }
    })
}

async fn resigned_refused(
    ctx: &mut Ctx,
    engine: &Engine,
    edit: impl FnOnce(&mut Map<String, Value>),
) -> Verdict {
    if let Some(v) = ctx.ready() {
        return v;
    }
    let ticket = match ctx.resigned(edit) {
        Ok(t) => t,
        Err(v) => return v,
    };
    let form = Ctx::exchange_form(&ticket);
    refused(
        ctx.token(engine, form, None, Proof::Proper).await,
        &["invalid_grant"],
        true,
    )
}

fn expired_ticket<'a>(ctx: &'a mut Ctx, engine: &'a Engine) -> BoxFuture<'a, Verdict> {
    Box::pin(async move {
        let when = now();
        // An hour past expiry: beyond any clock skew a holder allows.
        resigned_refused(ctx, engine, |c| {
            c.insert("iat".into(), json!(when - 7200));
            c.insert("exp".into(), json!(when - 3600));
        })
        .await
    })
}

fn wrong_audience<'a>(ctx: &'a mut Ctx, engine: &'a Engine) -> BoxFuture<'a, Verdict> {
    Box::pin(async move {
        resigned_refused(ctx, engine, |c| {
            c.insert("aud".into(), json!(["https://elsewhere.invalid/fhir"]));
            c.insert("aud_type".into(), json!("data_holder_url"));
        })
        .await
    })
}

fn unknown_ticket_type<'a>(ctx: &'a mut Ctx, engine: &'a Engine) -> BoxFuture<'a, Verdict> {
    Box::pin(async move {
        resigned_refused(ctx, engine, |c| {
            c.insert(
                "ticket_type".into(),
                json!("https://example.invalid/permission-ticket-type/unknown-v1"),
            );
        })
        .await
    })
}

fn unknown_must_understand<'a>(ctx: &'a mut Ctx, engine: &'a Engine) -> BoxFuture<'a, Verdict> {
    Box::pin(async move {
        resigned_refused(ctx, engine, |c| {
            c.insert("x_check_unknown_claim".into(), json!(true));
            let mut names: Vec<Value> = c
                .get("must_understand")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            names.push(json!("x_check_unknown_claim"));
            c.insert("must_understand".into(), Value::Array(names));
        })
        .await
    })
}

fn presenter_mismatch<'a>(ctx: &'a mut Ctx, engine: &'a Engine) -> BoxFuture<'a, Verdict> {
    Box::pin(async move {
        // The thumbprint of a key nobody holds (RFC 7638 of a P-256 key made here).
        let seed = sha2::Sha256::digest(uuid::Uuid::new_v4().as_bytes());
        let other = p256::ecdsa::SigningKey::from_slice(&seed)
            .map(|k| permission_ticket::Jwk::from_p256(k.verifying_key()))
            .ok()
            .and_then(|j| j.thumbprint().ok())
            .unwrap_or_else(|| "not-this-wallets-key".into());
        resigned_refused(ctx, engine, |c| {
            c.insert(
                "presenter_binding".into(),
                json!({ "method": "jkt", "jkt": other }),
            );
        })
        .await
    })
}

/// The ticket re-signed to point at an entry its issuer's own status list
/// marks revoked. The list is public and the holder already trusts it, so
/// this works against any holder without serving a list of our own (which a
/// remote holder could not reach on loopback anyway).
fn revoked_ticket<'a>(ctx: &'a mut Ctx, engine: &'a Engine) -> BoxFuture<'a, Verdict> {
    Box::pin(async move {
        if let Some(v) = ctx.ready() {
            return v;
        }
        if let Err(v) = ctx.issuer_key() {
            return v;
        }
        let pointer = permission_ticket::decode(&ctx.target.ticket)
            .ok()
            .and_then(|d| d.ticket.revocation);
        let Some(pointer) = pointer else {
            return verdict(
                Outcome::NotApplicable,
                "the ticket has no revocation pointer, so there is no status list to name a revoked entry in",
            );
        };
        let list = match status_list(engine, &ctx.target.fhir_base, &pointer.url).await {
            Ok(list) => list,
            Err(e) => {
                return verdict(
                    Outcome::NotApplicable,
                    format!(
                        "could not read the issuer's status list at {}: {e}",
                        pointer.url
                    ),
                );
            }
        };
        let Some(index) = list.revoked().find(|i| *i != pointer.index) else {
            return verdict(
                Outcome::NotApplicable,
                format!(
                    "the issuer's status list at {} marks no ticket revoked; revoke a test ticket there and run again",
                    pointer.url
                ),
            );
        };
        let (outcome, detail) = resigned_refused(ctx, engine, |c| {
            c.insert(
                "revocation".into(),
                json!({ "url": pointer.url, "index": index }),
            );
        })
        .await;
        (
            outcome,
            format!("pointed at entry {index}, which the issuer's list marks revoked: {detail}"),
        )
    })
}

/// The issuer's status list, fetched as a holder would (traced as the issuer's step).
async fn status_list(
    engine: &Engine,
    holder: &str,
    url: &str,
) -> Result<permission_ticket::StatusList, String> {
    let reply = engine
        .send(
            Outgoing {
                holder,
                step: Step::Issuer,
                method: Method::GET,
                url: url.to_string(),
                headers: Vec::new(),
                form: None,
                json: None,
            },
            crate::issuer::MAX_STATUS_LIST_BYTES,
        )
        .await
        .map_err(|e| e.to_string())?;
    if !(200..300).contains(&reply.status) {
        return Err(format!("HTTP {}", reply.status));
    }
    permission_ticket::StatusList::from_json(&reply.body).map_err(|e| e.to_string())
}

fn search_beyond_scope<'a>(ctx: &'a mut Ctx, engine: &'a Engine) -> BoxFuture<'a, Verdict> {
    Box::pin(async move {
        if let Some(v) = ctx.ready() {
            return v;
        }
        // A ticket for lab Observations only; then a search for Conditions.
        let narrowed = match ctx.resigned(narrow_to_observations) {
            Ok(t) => t,
            Err(v) => return v,
        };
        let refused = (Outcome::Fail, "the narrowed ticket was refused");
        let session = match ctx.session_for(engine, &narrowed, refused).await {
            Ok(s) => s,
            Err(v) => return v,
        };
        let patient = match patient_of(&session) {
            Ok(p) => p,
            Err(v) => return v,
        };
        let url = search_url(&ctx.target.fhir_base, &patient, "Condition");
        refused_at_fhir(ctx.fhir(engine, &session, &url, Proof::Proper).await)
    })
}

/// The year the `data_period` case narrows a ticket to.
const PERIOD: (&str, &str) = ("2023-01-01", "2023-12-31");

fn data_period<'a>(ctx: &'a mut Ctx, engine: &'a Engine) -> BoxFuture<'a, Verdict> {
    Box::pin(async move {
        if let Some(v) = ctx.ready() {
            return v;
        }
        let ticket = match ctx.resigned(|c| {
            if let Some(Value::Object(access)) = c.get_mut("access") {
                access.insert(
                    "data_period".into(),
                    json!({ "start": PERIOD.0, "end": PERIOD.1 }),
                );
            }
        }) {
            Ok(t) => t,
            Err(v) => return v,
        };
        // A holder that cannot enforce a period may refuse the ticket (IG §Error Responses).
        let refused = (
            Outcome::Info,
            "the ticket with a data_period was refused, as a holder that cannot enforce one may",
        );
        let session = match ctx.session_for(engine, &ticket, refused).await {
            Ok(s) => s,
            Err(v) => return v,
        };
        let patient = match patient_of(&session) {
            Ok(p) => p,
            Err(v) => return v,
        };
        let url = format!(
            "{}/Observation?patient={patient}&_count=500",
            ctx.target.fhir_base
        );
        let body = match ctx.fhir(engine, &session, &url, Proof::Proper).await {
            Ok(r) if (200..300).contains(&r.status) => r.json().unwrap_or(Value::Null),
            Ok(r) => {
                return verdict(
                    Outcome::Fail,
                    format!("the search answered HTTP {}", r.status),
                );
            }
            Err(e) => return verdict(Outcome::Fail, format!("no answer: {e}")),
        };
        let dates: Vec<String> = body["entry"]
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|e| {
                        let r = &e["resource"];
                        r["effectiveDateTime"]
                            .as_str()
                            .or_else(|| r["effectivePeriod"]["start"].as_str())
                            .or_else(|| r["issued"].as_str())
                            .map(|d| d.chars().take(10).collect())
                    })
                    .collect()
            })
            .unwrap_or_default();
        let outside = dates
            .iter()
            .filter(|d| d.as_str() < PERIOD.0 || d.as_str() > PERIOD.1)
            .count();
        match (dates.len(), outside) {
            (0, _) => verdict(
                Outcome::Info,
                format!(
                    "nothing dated was returned for {}–{}: not enough to judge",
                    PERIOD.0, PERIOD.1
                ),
            ),
            (n, 0) => verdict(
                Outcome::Pass,
                format!(
                    "all {n} Observations returned are dated within {}–{}",
                    PERIOD.0, PERIOD.1
                ),
            ),
            (n, k) => verdict(
                Outcome::Fail,
                format!(
                    "{k} of {n} Observations returned are dated outside {}–{}",
                    PERIOD.0, PERIOD.1
                ),
            ),
        }
    })
}

/// The longest the check waits for a token to expire.
const MAX_TOKEN_WAIT_SECS: i64 = 30;

fn expired_access_token<'a>(ctx: &'a mut Ctx, engine: &'a Engine) -> BoxFuture<'a, Verdict> {
    Box::pin(async move {
        let session = match ctx.session_ready() {
            Ok(s) => s,
            Err(v) => return v,
        };
        let lifetime = match session.expires_in {
            None => {
                return verdict(
                    Outcome::Info,
                    "the token answer gives no expires_in (RFC 6749 §5.1 RECOMMENDS it): nothing to wait for",
                );
            }
            Some(n) if n > MAX_TOKEN_WAIT_SECS => {
                return verdict(
                    Outcome::NotApplicable,
                    format!("tokens live {n} s; the check waits at most {MAX_TOKEN_WAIT_SECS} s"),
                );
            }
            Some(n) => n.max(0),
        };
        // Counted from now, not from when it was issued: the token is surely past its time.
        tokio::time::sleep(std::time::Duration::from_secs(lifetime as u64 + 2)).await;
        let patient = session.patient.clone().unwrap_or_default();
        let url = format!("{}/Patient/{patient}", ctx.target.fhir_base);
        refused_at_fhir(ctx.fhir(engine, &session, &url, Proof::Proper).await)
    })
}
