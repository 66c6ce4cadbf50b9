//! Proposal 003: tickets handed out at the end of a SMART App Launch. The
//! wallet sends the patient to `authorize` (PKCE, the `permission_ticket`
//! scope), the patient signs in and agrees, and the token response carries
//! `smart_permission_ticket` and `smart_permission_ticket_endpoints`.
//! Tickets are bound to the key of the DPoP proof sent with the token request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Form, Json};
use permission_ticket::TicketType;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Digest;

use super::{Inner, MintRequest, mint};
use crate::jose::check_dpop;
use crate::web::{escape, hidden_inputs, redirect_back};

#[derive(Default)]
pub(crate) struct LaunchState {
    codes: HashMap<String, PendingCode>,
    refresh: HashMap<String, Refresh>,
}

struct PendingCode {
    redirect_uri: String,
    challenge: String,
    scope: String,
    expires_at: i64,
}

struct Refresh {
    jkt: String,
    scope: String,
}

type Shared = Arc<Mutex<Inner>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Inner> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

pub async fn configuration(State(state): State<Shared>) -> Json<Value> {
    let url = lock(&state).url.clone();
    Json(json!({
        "issuer": url,
        "authorization_endpoint": format!("{url}/authorize"),
        "token_endpoint": format!("{url}/token"),
        "jwks_uri": format!("{url}/.well-known/jwks.json"),
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "response_types_supported": ["code"],
        "scopes_supported": ["permission_ticket", "openid", "fhirUser", "offline_access", "patient/*.rs"],
        "dpop_signing_alg_values_supported": ["ES256"],
        "smart_permission_ticket_issuer": true,
        "smart_permission_ticket_types_issued": [TicketType::PatientSelfAccess.uri()],
        "capabilities": ["permission-ticket-issuance", "launch-standalone"],
    }))
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthorizeParams {
    response_type: String,
    client_id: String,
    redirect_uri: String,
    scope: String,
    #[serde(default)]
    state: String,
    code_challenge: String,
    code_challenge_method: String,
    #[serde(default)]
    decision: Option<String>,
}

/// Loopback redirects (RFC 8252) or the app's own scheme; nothing else.
/// Parsed, not matched by prefix: `http://127.0.0.1:80@evil.example/` starts
/// like a loopback address and goes to `evil.example`.
fn redirect_allowed(uri: &str) -> bool {
    crate::web::is_loopback_redirect(uri)
        || url::Url::parse(uri).is_ok_and(|u| u.scheme() == "ticketwallet")
}

fn check(p: &AuthorizeParams) -> Result<(), &'static str> {
    if p.response_type != "code" {
        return Err("response_type must be code");
    }
    if p.code_challenge.is_empty() || p.code_challenge_method != "S256" {
        return Err("PKCE with S256 is required");
    }
    if !redirect_allowed(&p.redirect_uri) {
        return Err("redirect_uri must be a loopback address or the app's scheme");
    }
    if !p.scope.split_whitespace().any(|s| s == "permission_ticket") {
        return Err("ask for the permission_ticket scope to receive tickets");
    }
    Ok(())
}

pub async fn page(Query(p): Query<AuthorizeParams>) -> Response {
    if let Err(e) = check(&p) {
        return (StatusCode::BAD_REQUEST, Html(format!("<p>{e}</p>"))).into_response();
    }
    let hidden = hidden_inputs(&[
        ("response_type", &p.response_type),
        ("client_id", &p.client_id),
        ("redirect_uri", &p.redirect_uri),
        ("scope", &p.scope),
        ("state", &p.state),
        ("code_challenge", &p.code_challenge),
        ("code_challenge_method", &p.code_challenge_method),
    ]);
    Html(format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>Sandbox issuer</title></head><body>
<h1>Sandbox issuer</h1><p>Signed in as <b>Ana Rivera</b> (born 1984-03-12). <b>{}</b> asks for a ticket to your records ({}).</p>
<form method="post">{hidden}<button name="decision" value="allow">Allow</button> <button name="decision" value="deny">Deny</button></form></body></html>"#,
        escape(&p.client_id),
        escape(&p.scope)
    ))
    .into_response()
}

pub async fn decide(State(state): State<Shared>, Form(p): Form<AuthorizeParams>) -> Response {
    if let Err(e) = check(&p) {
        return (StatusCode::BAD_REQUEST, Html(format!("<p>{e}</p>"))).into_response();
    }
    if p.decision.as_deref() != Some("allow") {
        return redirect_back(&p.redirect_uri, &[("error", "access_denied")], &p.state);
    }
    let code = uuid::Uuid::new_v4().simple().to_string();
    lock(&state).launch.codes.insert(
        code.clone(),
        PendingCode {
            redirect_uri: p.redirect_uri.clone(),
            challenge: p.code_challenge.clone(),
            scope: p.scope.clone(),
            expires_at: crate::holder::now() + 120,
        },
    );
    redirect_back(&p.redirect_uri, &[("code", &code)], &p.state)
}

pub async fn token(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut inner = lock(&state);
    let token_url = format!("{}/token", inner.url);
    let proof = match check_dpop(
        headers.get("dpop").and_then(|v| v.to_str().ok()),
        "POST",
        &token_url,
        None,
    ) {
        Ok(p) => p,
        Err(e) => {
            return oauth_error(
                "invalid_dpop_proof",
                &format!("{e}: tickets are bound to the key of the DPoP proof"),
            );
        }
    };
    let (scope, jkt) = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some(pending) = form.get("code").and_then(|c| inner.launch.codes.remove(c)) else {
                return oauth_error("invalid_grant", "unknown or used code");
            };
            let verifier = form
                .get("code_verifier")
                .map(String::as_str)
                .unwrap_or_default();
            let computed =
                permission_ticket::base64url::encode(sha2::Sha256::digest(verifier.as_bytes()));
            if pending.expires_at < crate::holder::now()
                || computed != pending.challenge
                || form.get("redirect_uri") != Some(&pending.redirect_uri)
            {
                return oauth_error(
                    "invalid_grant",
                    "the code, redirect_uri or PKCE verifier does not match",
                );
            }
            (pending.scope, proof.jkt)
        }
        Some("refresh_token") => {
            let Some(refresh) = form
                .get("refresh_token")
                .and_then(|r| inner.launch.refresh.get(r))
            else {
                return oauth_error("invalid_grant", "unknown refresh token");
            };
            if refresh.jkt != proof.jkt {
                return oauth_error("invalid_grant", "the refresh token is bound to another key");
            }
            (refresh.scope.clone(), proof.jkt)
        }
        _ => {
            return oauth_error(
                "unsupported_grant_type",
                "use authorization_code or refresh_token",
            );
        }
    };
    let smart_scopes: Vec<String> = scope
        .split_whitespace()
        .filter(|s| s.starts_with("patient/"))
        .map(str::to_string)
        .collect();
    let mut req = MintRequest::new(TicketType::PatientSelfAccess, Some(jkt.clone()));
    if !smart_scopes.is_empty() {
        req.smart_scopes = Some(smart_scopes);
    }
    let ticket = match mint(&mut inner, &req) {
        Ok(t) => t,
        Err(e) => return oauth_error("server_error", &e.to_string()),
    };
    let endpoints: Vec<Value> = match &inner.raw_hints {
        Some(raw) => raw.clone(),
        None => inner
            .endpoints
            .iter()
            .map(|(base, name)| json!({ "fhir_base_url": base, "organization": { "resourceType": "Organization", "name": name }, "ticket_indices": [0] }))
            .collect(),
    };
    let mut body = json!({
        "access_token": uuid::Uuid::new_v4().simple().to_string(),
        "token_type": "DPoP",
        "expires_in": 300,
        "scope": scope,
        "smart_permission_ticket": [ticket],
        "smart_permission_ticket_endpoints": endpoints,
    });
    if scope.split_whitespace().any(|s| s == "offline_access") {
        let refresh = uuid::Uuid::new_v4().simple().to_string();
        inner.launch.refresh.insert(
            refresh.clone(),
            Refresh {
                jkt,
                scope: scope.clone(),
            },
        );
        body["refresh_token"] = json!(refresh);
    }
    let mut resp = Json(body).into_response();
    resp.headers_mut().insert(
        "cache-control",
        axum::http::HeaderValue::from_static("no-store"),
    );
    resp
}
