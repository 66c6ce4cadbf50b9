//! Discovery, registration, OAuth errors and client authentication.

use axum::Json;
use axum::extract::State as AxState;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use permission_ticket::Jwk;
use permission_ticket::jws::CompactJws;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Client, Profile, Shared, State, lock, now, random_id};
use crate::jose::verify_es256;

pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const TICKET_TOKEN_TYPE: &str = "https://smarthealthit.org/token-type/permission-ticket";
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An OAuth error response (RFC 6749 §5.2), with the extras this spec adds.
#[derive(Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: std::borrow::Cow<'static, str>,
    pub description: String,
    pub launch: Option<String>,
    pub dpop_nonce: Option<String>,
}

impl OAuthError {
    pub fn new(
        error: impl Into<std::borrow::Cow<'static, str>>,
        description: impl Into<String>,
    ) -> Self {
        let error = error.into();
        let status = if error == "invalid_client" {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        };
        Self {
            status,
            error,
            description: description.into(),
            launch: None,
            dpop_nonce: None,
        }
    }
    pub fn grant(description: impl Into<String>) -> Self {
        Self::new("invalid_grant", description)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.error, "error_description": self.description });
        if let Some(launch) = &self.launch {
            body["launch"] = json!(launch);
        }
        let mut resp = (self.status, Json(body)).into_response();
        let h = resp.headers_mut();
        h.insert("cache-control", HeaderValue::from_static("no-store"));
        if let Some(nonce) = self.dpop_nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
            h.insert("dpop-nonce", nonce);
        }
        resp
    }
}

pub async fn smart_configuration(AxState(state): AxState<Shared>) -> Json<Value> {
    let s = lock(&state);
    let base = s.base();
    let mut config = json!({
        "issuer": s.fhir_base(),
        "token_endpoint": s.token_url(),
        "registration_endpoint": format!("{base}/register"),
        "grant_types_supported": [TOKEN_EXCHANGE, "authorization_code"],
        "smart_permission_ticket_types_supported": s.accepted_types.iter().map(|t| t.uri()).collect::<Vec<_>>(),
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256"],
        "scopes_supported": ["patient/*.rs", "launch", "openid", "fhirUser"],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "capabilities": ["permission-ticket", "client-confidential-asymmetric", "launch-ehr"],
    });
    match s.profile {
        Profile::Dpop => {
            config["authorization_endpoint"] = json!(format!("{base}/authorize"));
            config["dpop_signing_alg_values_supported"] = json!(["ES256"]);
        }
        Profile::Bearer => config["authorization_endpoint"] = json!(format!("{base}/authorize")),
        Profile::Reference => config["authorization_endpoint"] = Value::Null,
    }
    Json(config)
}

#[derive(Deserialize)]
pub struct Registration {
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    jwks: Option<Value>,
    #[serde(default)]
    jwk: Option<Value>,
    #[serde(default)]
    redirect_uris: Vec<String>,
}

/// RFC 7591 dynamic registration of a `private_key_jwt` client with one EC P-256 key.
pub async fn register(AxState(state): AxState<Shared>, Json(reg): Json<Registration>) -> Response {
    let bad = |d: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "invalid_client_metadata", "error_description": d })),
        )
            .into_response()
    };
    if reg
        .token_endpoint_auth_method
        .as_deref()
        .unwrap_or("private_key_jwt")
        != "private_key_jwt"
    {
        return bad("only private_key_jwt is supported");
    }
    let key = reg
        .jwk
        .or_else(|| reg.jwks.and_then(|j| j["keys"].get(0).cloned()))
        .and_then(|k| serde_json::from_value::<Jwk>(k).ok());
    let Some(jwk) = key.filter(|k| k.kty == "EC" && k.crv.as_deref() == Some("P-256")) else {
        return bad("a public EC P-256 key is required (jwk or jwks)");
    };
    let Ok(jkt) = jwk.thumbprint() else {
        return bad("the key is malformed");
    };
    if jwk.p256_verifying_key().is_err() {
        return bad("the key is not a valid P-256 point");
    }
    let client_id = format!("client-{}", random_id());
    let mut s = lock(&state);
    let token_endpoint = s.token_url();
    s.clients.insert(
        client_id.clone(),
        Client {
            jwk: jwk.clone(),
            jkt: jkt.clone(),
            redirect_uris: reg.redirect_uris.clone(),
        },
    );
    (
        StatusCode::CREATED,
        Json(json!({
            "client_id": client_id,
            "client_name": reg.client_name,
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": { "keys": [jwk] },
            "jwk_thumbprint": jkt,
            "redirect_uris": reg.redirect_uris,
            "token_endpoint": token_endpoint,
        })),
    )
        .into_response()
}

/// RFC 7523 client authentication. Returns the client id.
pub fn authenticate_client(
    s: &mut State,
    form: &std::collections::HashMap<String, String>,
) -> Result<String, OAuthError> {
    if form.get("client_assertion_type").map(String::as_str) != Some(JWT_BEARER) {
        return Err(OAuthError::new(
            "invalid_client",
            "client_assertion_type must be jwt-bearer",
        ));
    }
    let assertion = form
        .get("client_assertion")
        .ok_or_else(|| OAuthError::new("invalid_client", "client_assertion is required"))?;
    let jws = CompactJws::parse(assertion)
        .map_err(|e| OAuthError::new("invalid_client", format!("client_assertion: {e}")))?;
    let claim = |k: &str| {
        jws.claims
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let iss = claim("iss")
        .ok_or_else(|| OAuthError::new("invalid_client", "client_assertion has no iss"))?;
    if claim("sub").as_deref() != Some(iss.as_str()) {
        return Err(OAuthError::new(
            "invalid_client",
            "client_assertion iss and sub must be the client id",
        ));
    }
    if let Some(id) = form.get("client_id")
        && id != &iss
    {
        return Err(OAuthError::new(
            "invalid_client",
            "client_id does not match the assertion",
        ));
    }
    let client = s.clients.get(&iss).cloned().ok_or_else(|| {
        OAuthError::new(
            "invalid_client",
            format!("unknown client {iss}: register first"),
        )
    })?;
    if !verify_es256(&jws, &client.jwk) {
        return Err(OAuthError::new(
            "invalid_client",
            "client_assertion signature does not match the registered key",
        ));
    }
    let aud_ok = match jws.claims.get("aud") {
        Some(Value::String(a)) => *a == s.token_url(),
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(&s.token_url())),
        _ => false,
    };
    if !aud_ok {
        return Err(OAuthError::new(
            "invalid_client",
            format!("client_assertion aud must be {}", s.token_url()),
        ));
    }
    let exp = jws.claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    if exp <= now() || exp > now() + 300 + 60 {
        return Err(OAuthError::new(
            "invalid_client",
            "client_assertion exp must be in the next 5 minutes",
        ));
    }
    let jti = claim("jti")
        .ok_or_else(|| OAuthError::new("invalid_client", "client_assertion has no jti"))?;
    if !s.seen_jtis.insert(format!("assertion:{jti}")) {
        return Err(OAuthError::new(
            "invalid_client",
            "client_assertion jti was already used",
        ));
    }
    Ok(iss)
}
