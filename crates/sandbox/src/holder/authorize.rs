//! The interaction fallback (Proposal 001): a SMART EHR-style authorize
//! request carrying the `launch` from `interaction_required`, a small page
//! where the patient picks their record, and a redirect back with a code.

use axum::Form;
use axum::extract::{Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::{Code, Shared, State, describe_patient, lock, now, random_id};
use crate::web::{escape, hidden_inputs, redirect_back};

#[derive(Debug, Clone, Deserialize)]
pub struct AuthorizeParams {
    response_type: String,
    client_id: String,
    redirect_uri: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    code_challenge: String,
    #[serde(default)]
    code_challenge_method: String,
    launch: String,
    #[serde(default)]
    aud: String,
    /// Set by the page's form: the record the patient picked.
    #[serde(default)]
    patient: Option<String>,
}

fn problem(msg: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!doctype html><title>Cannot continue</title><p>{}</p>",
            escape(msg)
        )),
    )
        .into_response()
}

/// Checks everything about the request that does not depend on the patient's choice.
fn validate(s: &State, p: &AuthorizeParams) -> Result<(), String> {
    if p.response_type != "code" {
        return Err("response_type must be code".into());
    }
    if p.code_challenge.is_empty() || p.code_challenge_method != "S256" {
        return Err("PKCE with S256 is required".into());
    }
    if !p.aud.is_empty() && p.aud.trim_end_matches('/') != s.fhir_base() {
        return Err("aud must be this data holder's FHIR base URL".into());
    }
    let client = s.clients.get(&p.client_id).ok_or("unknown client")?;
    if !client
        .redirect_uris
        .iter()
        .any(|r| redirect_matches(r, &p.redirect_uri))
    {
        return Err("redirect_uri is not registered for this client".into());
    }
    let launch = s.launches.get(&p.launch).ok_or("unknown or used launch")?;
    if launch.client_id != p.client_id || launch.expires_at < now() {
        return Err("this launch belongs to another client or has expired".into());
    }
    Ok(())
}

/// Exact match, except that a loopback redirect may use any port (RFC 8252 §7.3).
fn redirect_matches(registered: &str, actual: &str) -> bool {
    // RFC 8252: a loopback redirect may come back on any port; all else must match.
    let without_port = |u: &str| -> Option<String> {
        if !crate::web::is_loopback_redirect(u) {
            return None;
        }
        let mut parsed = url::Url::parse(u).ok()?;
        parsed.set_port(None).ok()?;
        Some(parsed.into())
    };
    registered == actual
        || matches!((without_port(registered), without_port(actual)), (Some(a), Some(b)) if a == b)
}

pub async fn page(AxState(state): AxState<Shared>, Query(p): Query<AuthorizeParams>) -> Response {
    let s = lock(&state);
    if let Err(e) = validate(&s, &p) {
        return problem(&e);
    }
    let Some(launch) = s.launches.get(&p.launch) else {
        return problem("unknown launch");
    };
    let hidden = hidden_inputs(&[
        ("response_type", &p.response_type),
        ("client_id", &p.client_id),
        ("redirect_uri", &p.redirect_uri),
        ("scope", &p.scope),
        ("state", &p.state),
        ("code_challenge", &p.code_challenge),
        ("code_challenge_method", &p.code_challenge_method),
        ("launch", &p.launch),
        ("aud", &p.aud),
    ]);
    let choices = launch
        .candidates
        .iter()
        .filter_map(|id| s.data.patients.iter().find(|p| p["id"] == id.as_str()))
        .map(|pt| {
            let id = escape(pt["id"].as_str().unwrap_or_default());
            format!(r#"<label><input type="radio" name="patient" value="{id}" required> {}</label><br>"#, escape(&describe_patient(pt)))
        })
        .collect::<String>();
    Html(format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>{name}: confirm your record</title></head>
<body><h1>{name}</h1><p>More than one record matches the person named in the ticket. Pick yours; nothing else about what is shared changes.</p>
<form method="post">{hidden}{choices}<button type="submit">This is me</button></form></body></html>"#,
        name = escape(&s.name)
    ))
    .into_response()
}

pub async fn decide(AxState(state): AxState<Shared>, Form(p): Form<AuthorizeParams>) -> Response {
    let mut s = lock(&state);
    if let Err(e) = validate(&s, &p) {
        return problem(&e);
    }
    let Some(launch) = s.launches.remove(&p.launch) else {
        return problem("unknown launch");
    };
    let Some(patient) = p.patient.clone().filter(|c| launch.candidates.contains(c)) else {
        return problem("pick one of the records shown");
    };
    let code = random_id();
    let mut grant = launch.grant;
    grant.patient = patient;
    grant.scopes = launch.scopes;
    s.codes.insert(
        code.clone(),
        Code {
            client_id: p.client_id.clone(),
            redirect_uri: p.redirect_uri.clone(),
            challenge: p.code_challenge.clone(),
            jti: launch.jti,
            grant,
            expires_at: now() + 120,
        },
    );
    redirect_back(&p.redirect_uri, &[("code", &code)], &p.state)
}
