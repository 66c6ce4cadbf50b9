//! The token endpoint: RFC 8693 token exchange of a Permission Ticket, and
//! the authorization-code grant that completes an interaction (Proposal 001).
//! Checks run in the spec's order so each failure gets the right error.

use std::collections::HashMap;

use axum::Form;
use axum::Json;
use axum::extract::State as AxState;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use permission_ticket::model::{AudienceType, PROFILE_CLAIMS, PresenterBinding, UNDERSTOOD_CLAIMS};
use permission_ticket::{IssuerKeys, SmartScope, TicketType};
use serde_json::{Value, json};
use sha2::Digest;

use super::oauth::{OAuthError, TICKET_TOKEN_TYPE, TOKEN_EXCHANGE, authenticate_client};
use super::{Grant, Launch, Profile, Shared, State, lock, now, random_id};
use crate::jose::check_dpop;

/// Access tokens live this long.
pub const TOKEN_LIFETIME: i64 = 300;
/// The sandbox's trust framework: tickets with `aud_type: trust_framework` name it.
pub const NETWORK: &str = "https://sandbox.ticket-wallet.example/network";

pub async fn token(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut s = lock(&state);
    match handle(&mut s, &headers, &form) {
        Ok(body) => {
            let mut resp = Json(body).into_response();
            resp.headers_mut().insert(
                "cache-control",
                axum::http::HeaderValue::from_static("no-store"),
            );
            resp
        }
        Err(e) => e.into_response(),
    }
}

fn handle(
    s: &mut State,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Value, OAuthError> {
    if !s.faults.token_error.is_empty() {
        return Err(OAuthError::new(
            s.faults.token_error.clone(),
            s.faults.token_error_description.clone(),
        ));
    }
    let dpop_jkt = check_token_dpop(s, headers)?;
    match form.get("grant_type").map(String::as_str) {
        Some(TOKEN_EXCHANGE) => exchange(s, form, dpop_jkt),
        Some("authorization_code") => code_grant(s, form, dpop_jkt),
        _ => Err(OAuthError::new(
            "unsupported_grant_type",
            "Token exchange not supported for this grant type",
        )),
    }
}

/// In the DPoP profile every token request carries a proof with the current nonce.
fn check_token_dpop(s: &mut State, headers: &HeaderMap) -> Result<Option<String>, OAuthError> {
    if s.profile != Profile::Dpop {
        return Ok(None);
    }
    let header = headers.get("dpop").and_then(|v| v.to_str().ok());
    if s.faults.skip_dpop_checks {
        // The defect: whatever key the header names is taken on its word.
        return Ok(header.and_then(crate::jose::proof_key_thumbprint));
    }
    let proof = check_dpop(header, "POST", &s.token_url(), None)
        .map_err(|e| OAuthError::new("invalid_dpop_proof", e))?;
    if proof.nonce.as_deref() != Some(s.nonce.as_str()) {
        let mut e = OAuthError::new(
            "use_dpop_nonce",
            "Authorization server requires nonce in DPoP proof",
        );
        e.dpop_nonce = Some(s.nonce.clone());
        return Err(e);
    }
    if !s.seen_jtis.insert(format!("dpop:{}", proof.jti)) {
        return Err(OAuthError::new(
            "invalid_dpop_proof",
            "DPoP proof jti was already used",
        ));
    }
    Ok(Some(proof.jkt))
}

fn exchange(
    s: &mut State,
    form: &HashMap<String, String>,
    dpop_jkt: Option<String>,
) -> Result<Value, OAuthError> {
    let client_id = authenticate_client(s, form)?;
    let client = s
        .clients
        .get(&client_id)
        .cloned()
        .ok_or_else(|| OAuthError::new("invalid_client", "unknown client"))?;
    if let Some(jkt) = &dpop_jkt
        && *jkt != client.jkt
    {
        return Err(OAuthError::new(
            "invalid_dpop_proof",
            "the DPoP proof must be signed by the client's registered key",
        ));
    }
    if form.get("subject_token_type").map(String::as_str) != Some(TICKET_TOKEN_TYPE) {
        return Err(OAuthError::new(
            "invalid_request",
            "Unsupported subject token type",
        ));
    }
    let text = form
        .get("subject_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::new("invalid_request", "No permission ticket provided"))?;
    let decoded = permission_ticket::decode(text)
        .map_err(|_| OAuthError::grant("Malformed permission ticket"))?;
    let t = &decoded.ticket;

    // 1. Signature against the issuer's published keys.
    let issuer = s
        .issuers
        .iter()
        .find(|i| i.url() == t.iss)
        .cloned()
        .ok_or_else(|| OAuthError::grant(format!("Ticket issuer not trusted: {}", t.iss)))?;
    let report = permission_ticket::inspect(
        &decoded,
        &permission_ticket::InspectOptions {
            now: now(),
            clock_skew: 60,
            issuer_keys: IssuerKeys::Keys(issuer.jwks()),
            wallet_jkt: None,
            revocation: permission_ticket::RevocationInput::NotChecked,
        },
    );
    if report.check("signature").map(|c| c.status) != Some(permission_ticket::CheckStatus::Pass) {
        return Err(OAuthError::grant("Ticket signature verification failed"));
    }
    // 2. Issuer trusted for this ticket type.
    if !s.accepted_types.contains(&t.ticket_type) {
        return Err(OAuthError::grant("Unsupported ticket type"));
    }
    // 3. exp and aud.
    if t.exp + 60 <= now() && !s.faults.accept_expired_tickets {
        return Err(OAuthError::grant("Ticket expired"));
    }
    let aud_ok = match t.aud_type {
        AudienceType::TrustFramework => t.aud.iter().any(|a| a == NETWORK),
        AudienceType::DataHolderUrl => {
            let forms = [s.fhir_base(), s.base(), s.token_url(), s.origin.clone()];
            t.aud
                .iter()
                .any(|a| forms.iter().any(|f| a.trim_end_matches('/') == f))
        }
    };
    if !aud_ok && !s.faults.ignore_ticket_aud {
        return Err(OAuthError::grant("Ticket not valid for this server"));
    }
    // 4. Revocation (fail closed).
    if let Some(rev) = t
        .revocation
        .as_ref()
        .filter(|_| !s.faults.ignore_revocation)
    {
        match issuer.is_revoked(rev.index) {
            Some(false) => {}
            Some(true) => return Err(OAuthError::grant("Ticket has been revoked")),
            None => {
                return Err(OAuthError::grant(
                    "Ticket revocation status could not be determined",
                ));
            }
        }
    }
    // 5. Presenter binding: the client assertion's key must be the bound key.
    let bound_jkt = match &t.presenter_binding {
        Some(PresenterBinding::Jkt { jkt }) if *jkt == client.jkt => Some(jkt.clone()),
        Some(_) => return Err(OAuthError::grant("Ticket presenter binding mismatch")),
        None => None,
    };
    // 6. Identity evidence must at least be a readable token.
    for ev in [&t.subject_identity_evidence, &t.requester_identity_evidence]
        .into_iter()
        .flatten()
    {
        if ev.summary().is_none() {
            return Err(OAuthError::grant("Invalid identity evidence"));
        }
    }
    // 7. Must-understand and access members this holder cannot enforce.
    if let Some(claim) = t
        .must_understand
        .iter()
        .find(|c| !UNDERSTOOD_CLAIMS.contains(&c.as_str()) && !PROFILE_CLAIMS.contains(&c.as_str()))
    {
        return Err(OAuthError::grant(format!(
            "Cannot enforce kernel field: {claim}"
        )));
    }
    if let Some(member) = t.access.other.keys().next() {
        return Err(OAuthError::grant(format!(
            "Unsupported access constraint: {member}"
        )));
    }
    // 8. Scopes: what was asked for, within what the ticket allows.
    let scopes = grant_scopes(&t.access.scopes(), form.get("scope").map(String::as_str))?;
    let data_period = t
        .access
        .data_period
        .as_ref()
        .map(|p| (p.start.clone(), p.end.clone()));
    let grant = |patient: String| Grant {
        patient,
        scopes: scopes.clone(),
        data_period: data_period.clone(),
        expires_at: now() + s.token_lifetime(),
        dpop_jkt: dpop_jkt.clone(),
        bound_jkt: bound_jkt.clone(),
        fhir_calls: 0,
    };
    // 9. Subject resolution (a patient picked earlier for this ticket is reused).
    if let Some(patient) = s.resolved.get(&t.jti).cloned() {
        return Ok(issue(s, grant(patient)));
    }
    let matches = match_patients(s, &t.subject.patient);
    match matches.len() {
        0 => Err(OAuthError::grant("Unable to resolve ticket subject")),
        1 => Ok(issue(s, grant(matches[0].clone()))),
        _ => {
            let interactive = s.profile != Profile::Reference
                && matches!(
                    t.ticket_type,
                    TicketType::PatientSelfAccess | TicketType::PatientDelegatedAccess
                );
            if !interactive {
                return Err(OAuthError::grant("Ambiguous ticket subject match"));
            }
            let launch = random_id();
            s.launches.insert(
                launch.clone(),
                Launch {
                    client_id,
                    jti: t.jti.clone(),
                    candidates: matches,
                    scopes: scopes.clone(),
                    grant: grant(String::new()),
                    expires_at: now() + 600,
                },
            );
            let mut e = OAuthError::new(
                "interaction_required",
                "The patient must confirm which record is theirs",
            );
            e.launch = Some(launch);
            Err(e)
        }
    }
}

fn code_grant(
    s: &mut State,
    form: &HashMap<String, String>,
    dpop_jkt: Option<String>,
) -> Result<Value, OAuthError> {
    let client_id = authenticate_client(s, form)?;
    let code = form
        .get("code")
        .ok_or_else(|| OAuthError::new("invalid_request", "code is required"))?;
    let grant = s
        .codes
        .remove(code)
        .ok_or_else(|| OAuthError::grant("Unknown or used authorization code"))?;
    if grant.client_id != client_id || grant.expires_at < now() {
        return Err(OAuthError::grant(
            "The authorization code is not valid for this client",
        ));
    }
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return Err(OAuthError::grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    let verifier = form
        .get("code_verifier")
        .map(String::as_str)
        .unwrap_or_default();
    let computed = permission_ticket::base64url::encode(sha2::Sha256::digest(verifier.as_bytes()));
    if computed != grant.challenge {
        return Err(OAuthError::grant("PKCE verification failed"));
    }
    let client_jkt = s.clients.get(&client_id).map(|c| c.jkt.clone());
    if dpop_jkt.is_some() && dpop_jkt != client_jkt {
        return Err(OAuthError::new(
            "invalid_dpop_proof",
            "the DPoP proof must be signed by the client's registered key",
        ));
    }
    s.resolved
        .insert(grant.jti.clone(), grant.grant.patient.clone());
    let mut g = grant.grant;
    g.dpop_jkt = dpop_jkt;
    g.expires_at = now() + s.token_lifetime();
    Ok(issue(s, g))
}

impl State {
    /// How long access tokens live: `TOKEN_LIFETIME`, unless a knob shortens it.
    fn token_lifetime(&self) -> i64 {
        match self.faults.token_lifetime_secs {
            0 => TOKEN_LIFETIME,
            n => n as i64,
        }
    }
}

fn issue(s: &mut State, grant: Grant) -> Value {
    let token = random_id();
    let dpop = grant.dpop_jkt.is_some() && !s.faults.bearer_token_type;
    let scope = if s.faults.claim_wider_scope {
        "patient/*.rs".to_string()
    } else {
        grant
            .scopes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let body = json!({
        "access_token": token,
        "token_type": if dpop { "DPoP" } else { "Bearer" },
        "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "expires_in": s.token_lifetime(),
        "scope": scope,
        "patient": grant.patient,
    });
    s.grants.insert(token, grant);
    body
}

/// The spec's intersection: each requested scope that a ticket scope covers,
/// narrowed as the ticket narrows it. No `scope` means everything the ticket allows.
pub fn grant_scopes(
    ticket: &[SmartScope],
    requested: Option<&str>,
) -> Result<Vec<SmartScope>, OAuthError> {
    let Some(requested) = requested.filter(|r| !r.trim().is_empty()) else {
        return Ok(ticket.to_vec());
    };
    let mut out = Vec::new();
    for word in requested.split_whitespace() {
        let Ok(want) = SmartScope::parse(word) else {
            continue;
        };
        for have in ticket {
            let type_ok = have.resource_type == "*"
                || have.resource_type == want.resource_type
                || want.resource_type == "*";
            if !type_ok || want.context != have.context {
                continue;
            }
            let perms: String = want
                .permissions
                .chars()
                .filter(|c| have.permissions.contains(*c))
                .collect();
            if perms.is_empty() {
                continue;
            }
            let scope = SmartScope {
                context: want.context.clone(),
                resource_type: if want.resource_type == "*" {
                    have.resource_type.clone()
                } else {
                    want.resource_type.clone()
                },
                permissions: perms,
                query: have.query.clone().or(want.query.clone()),
            };
            if !out.contains(&scope) {
                out.push(scope);
            }
        }
    }
    if out.is_empty() {
        return Err(OAuthError::new("invalid_scope", "No authorized scopes"));
    }
    Ok(out)
}

/// Patients whose name and birth date match the ticket's subject.
fn match_patients(s: &State, subject: &permission_ticket::fhir::Patient) -> Vec<String> {
    let want_family = subject
        .name
        .first()
        .and_then(|n| n.family.clone())
        .unwrap_or_default()
        .to_lowercase();
    let want_given = subject
        .name
        .first()
        .and_then(|n| n.given.first().cloned())
        .unwrap_or_default()
        .to_lowercase();
    let want_birth = subject.birth_date.clone().unwrap_or_default();
    s.data
        .patients
        .iter()
        .filter(|p| {
            p["name"][0]["family"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase()
                == want_family
                && p["name"][0]["given"][0]
                    .as_str()
                    .unwrap_or_default()
                    .to_lowercase()
                    == want_given
                && p["birthDate"].as_str() == Some(want_birth.as_str())
        })
        .filter_map(|p| p["id"].as_str().map(str::to_string))
        .collect()
}
