//! Registration (RFC 7591) and the token exchange (RFC 8693) of a ticket,
//! with a client assertion and, where the holder wants it, DPoP; plus the
//! authorization-code leg that completes an interaction.

use reqwest::Method;
use serde_json::{Value, json};

use super::interaction::{CodeError, CodeGrant, Interactor, authorization_code};
use super::{Engine, Outgoing, Reply, SendError, backoff, retry_wait};
use crate::holders::{HolderRecord, SmartConfig, TOKEN_EXCHANGE};
use crate::proofs::{client_assertion, dpop_proof};
use crate::trace::Step;
use crate::wallet::now;

pub(crate) const TICKET_TOKEN_TYPE: &str = "https://smarthealthit.org/token-type/permission-ticket";
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const MAX_TOKEN_BYTES: usize = 256 * 1024;

/// A token for one holder and one ticket.
#[derive(Clone)]
pub struct Session {
    pub holder: String,
    pub token_endpoint: String,
    pub access_token: String,
    pub dpop: bool,
    pub expires_at: i64,
    pub patient: Option<String>,
    pub scope: Option<String>,
    pub nonce: Option<String>,
    /// Sent as `x-client-jkt` with Bearer tokens for key-bound tickets (the reference server wants it).
    pub bound_jkt: Option<String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("holder", &self.holder)
            .field("access_token", &"[redacted]")
            .field("dpop", &self.dpop)
            .field("expires_at", &self.expires_at)
            .field("patient", &self.patient)
            .finish()
    }
}

/// Why an exchange failed, with what the person should do next.
#[derive(Debug, Clone)]
pub enum ExchangeError {
    /// The holder answered with an OAuth error.
    OAuth {
        error: String,
        description: String,
        /// What to do, when the wallet is sure what the error means.
        advice: Option<String>,
    },
    /// The patient must pick their record once (Proposal 001).
    InteractionRequired { launch: String },
    /// The holder could not be reached or answered nonsense.
    Transport(String),
    /// The holder cannot take this ticket at all.
    Unsupported(String),
}

impl std::fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::OAuth {
                error,
                description,
                advice: Some(advice),
            } => write!(f, "{advice} ({error}: {description})"),
            // No sure reading: the holder's own words come first.
            Self::OAuth {
                error, description, ..
            } if !description.trim().is_empty() => {
                write!(
                    f,
                    "the holder says: \u{201c}{}\u{201d} ({error})",
                    description.trim()
                )
            }
            Self::OAuth { error, .. } => write!(f, "the holder refused the request ({error})"),
            Self::InteractionRequired { .. } => {
                write!(
                    f,
                    "this holder needs you to confirm which patient record is yours, once"
                )
            }
            Self::Transport(e) => write!(f, "{e}"),
            Self::Unsupported(e) => write!(f, "{e}"),
        }
    }
}

/// What the person should do about an OAuth error, when the wallet can be
/// sure what it means: the error code alone, or for `invalid_grant` one of
/// the descriptions the reference server and the spec's error table use.
/// `None` when it cannot be sure: the holder's own words are shown instead of
/// a guess (a description that merely mentions a "constraint" may mean
/// anything).
pub fn advice(error: &str, description: &str) -> Option<String> {
    let d = description.to_ascii_lowercase();
    let has = |phrases: &[&str]| phrases.iter().any(|p| d.contains(p));
    let text = match error {
        "invalid_grant" if has(&["ticket expired", "ticket has expired"]) => {
            "The ticket has expired: get a new one from its issuer."
        }
        "invalid_grant" if has(&["has been revoked", "ticket revoked"]) => {
            "The issuer revoked this ticket: it is no use anywhere now; ask the issuer for a new one if you still need access."
        }
        "invalid_grant" if has(&["revocation status could not be determined"]) => {
            "The holder could not check whether the ticket is revoked: try again later."
        }
        "invalid_grant" if has(&["presenter binding mismatch", "bound to another key"]) => {
            "This ticket is bound to another key: it is not this wallet's to present."
        }
        "invalid_grant"
            if has(&[
                "unable to resolve ticket subject",
                "no matching patient",
                "ambiguous patient",
            ]) =>
        {
            "No matching patient record was found at this holder."
        }
        "invalid_grant" if has(&["issuer not trusted", "unsupported ticket type"]) => {
            "This holder does not accept this kind of ticket from this issuer."
        }
        "invalid_grant" if has(&["not valid for this server", "audience mismatch"]) => {
            "The ticket is not meant for this holder."
        }
        "invalid_grant"
            if has(&[
                "signature verification failed",
                "malformed permission ticket",
            ]) =>
        {
            "The holder says the ticket is damaged or forged: get a fresh copy from the issuer."
        }
        "invalid_grant" if has(&["invalid identity evidence"]) => {
            "The holder rejected the identity evidence in the ticket: ask the issuer to issue it again."
        }
        "invalid_grant"
            if has(&[
                "cannot enforce kernel field",
                "unsupported access constraint",
            ]) =>
        {
            "The ticket limits access in a way this holder cannot enforce."
        }
        "invalid_grant" => return None,
        "invalid_client" => {
            "The holder did not accept this wallet's identity: it may need registering again."
        }
        "invalid_scope" => "The ticket grants nothing this holder can share.",
        "unsupported_grant_type" => "This holder does not accept Permission Tickets.",
        "invalid_request" => {
            "The holder did not understand the request (a wallet problem worth reporting)."
        }
        _ => return None,
    };
    Some(text.to_string())
}

/// Registers this wallet's key with the holder (RFC 7591); returns the client id.
pub async fn register(
    engine: &Engine,
    holder: &HolderRecord,
    config: &SmartConfig,
    redirect_uri: &str,
) -> Result<String, ExchangeError> {
    let endpoint = config.registration_endpoint.clone().ok_or_else(|| {
        ExchangeError::Unsupported(
            "this holder offers no registration: enter a client id for it".into(),
        )
    })?;
    let body = json!({
        "client_name": "Ticket Wallet",
        "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": [TOKEN_EXCHANGE, "authorization_code"],
        "jwks": { "keys": [engine.key.public_jwk()] },
        "redirect_uris": [redirect_uri],
    });
    let reply = engine
        .send(
            Outgoing {
                holder: &holder.fhir_base,
                step: Step::Registration,
                method: Method::POST,
                url: endpoint,
                headers: vec![],
                form: None,
                json: Some(body),
            },
            MAX_TOKEN_BYTES,
        )
        .await
        .map_err(|e| ExchangeError::Transport(e.to_string()))?;
    let answer = reply.json().unwrap_or(Value::Null);
    answer["client_id"]
        .as_str()
        .filter(|_| (200..300).contains(&reply.status))
        .map(str::to_string)
        .ok_or_else(|| {
            let why = answer["error_description"]
                .as_str()
                .or(answer["error"].as_str())
                .unwrap_or("no client_id in the answer");
            ExchangeError::Transport(format!("registration failed ({}): {why}", reply.status))
        })
}

/// POSTs to the token endpoint with client authentication and (if wanted) DPoP,
/// answering one nonce challenge.
async fn token_request(
    engine: &Engine,
    holder: &str,
    config: &SmartConfig,
    client_id: &str,
    mut form: Vec<(&'static str, String)>,
    nonce: &mut Option<String>,
) -> Result<Reply, ExchangeError> {
    let step = if form
        .iter()
        .any(|(k, v)| *k == "grant_type" && v == "authorization_code")
    {
        Step::Interaction
    } else {
        Step::Exchange
    };
    form.push(("client_id", client_id.to_string()));
    form.push(("client_assertion_type", JWT_BEARER.to_string()));
    let mut nonce_tries = 0;
    let mut attempt = 0;
    loop {
        let mut f = form.clone();
        f.push((
            "client_assertion",
            client_assertion(&engine.key, client_id, &config.token_endpoint),
        ));
        let mut headers = Vec::new();
        if config.dpop() {
            headers.push((
                "DPoP",
                dpop_proof(
                    &engine.key,
                    "POST",
                    &config.token_endpoint,
                    nonce.as_deref(),
                    None,
                ),
            ));
        }
        let sent = engine
            .send(
                Outgoing {
                    holder,
                    step,
                    method: Method::POST,
                    url: config.token_endpoint.clone(),
                    headers,
                    form: Some(f),
                    json: None,
                },
                MAX_TOKEN_BYTES,
            )
            .await;
        let may_retry = attempt + 1 < engine.limits.max_attempts;
        let reply = match sent {
            Ok(r) => r,
            // Each try signs a fresh assertion and proof, so a retry is never a replay.
            Err(SendError::Network(_)) if may_retry => {
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
                continue;
            }
            Err(e) => return Err(ExchangeError::Transport(e.to_string())),
        };
        if let Some(n) = reply.header("dpop-nonce") {
            engine.tokens.set_nonce(&config.token_endpoint, n.clone());
            *nonce = Some(n);
        }
        let error = reply
            .json()
            .and_then(|v| v["error"].as_str().map(str::to_string));
        if error.as_deref() == Some("use_dpop_nonce") && nonce.is_some() {
            nonce_tries += 1;
            if nonce_tries > 2 {
                return Err(ExchangeError::Transport(
                    "the holder kept asking for a new DPoP nonce".into(),
                ));
            }
            continue;
        }
        if (reply.status == 429 || reply.status >= 500) && may_retry {
            tokio::time::sleep(retry_wait(&reply, attempt, engine.limits.max_retry_after)).await;
            attempt += 1;
            continue;
        }
        return Ok(reply);
    }
}

pub(crate) fn session_from(
    reply: &Reply,
    holder: &str,
    config: &SmartConfig,
    nonce: Option<String>,
    bound_jkt: Option<String>,
) -> Result<Session, ExchangeError> {
    let body = reply.json().unwrap_or(Value::Null);
    if !(200..300).contains(&reply.status) {
        let error = body["error"].as_str().unwrap_or("server_error").to_string();
        let description = body["error_description"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if error == "interaction_required"
            && let Some(launch) = body["launch"].as_str()
        {
            return Err(ExchangeError::InteractionRequired {
                launch: launch.to_string(),
            });
        }
        if reply.status >= 500 || body.is_null() {
            return Err(ExchangeError::Transport(format!(
                "the token endpoint answered {}",
                reply.status
            )));
        }
        let advice = advice(&error, &description);
        return Err(ExchangeError::OAuth {
            error,
            description,
            advice,
        });
    }
    let access_token = body["access_token"]
        .as_str()
        .ok_or_else(|| ExchangeError::Transport("the token response has no access_token".into()))?
        .to_string();
    let token_type = body["token_type"].as_str().unwrap_or("Bearer");
    let dpop = token_type.eq_ignore_ascii_case("DPoP");
    if dpop && !config.dpop() {
        return Err(ExchangeError::Transport(
            "the holder issued a DPoP token without advertising DPoP".into(),
        ));
    }
    // The request carried a DPoP proof: a Bearer token in return would work
    // for anyone who sees it, which is what DPoP was asked for to prevent.
    if !dpop && config.dpop() {
        return Err(ExchangeError::Transport(format!(
            "the holder answered a DPoP request with a `{token_type}` token, which anyone who sees it could use; it was not used"
        )));
    }
    Ok(Session {
        holder: holder.to_string(),
        token_endpoint: config.token_endpoint.clone(),
        access_token,
        dpop,
        expires_at: now() + body["expires_in"].as_i64().unwrap_or(300).clamp(0, 86_400),
        patient: body["patient"].as_str().map(str::to_string),
        scope: body["scope"].as_str().map(str::to_string),
        nonce,
        bound_jkt,
    })
}

/// Presents `ticket` at the holder. On `interaction_required`, runs the
/// patient through the holder's authorize page when an interactor is given.
pub async fn exchange(
    engine: &Engine,
    holder: &HolderRecord,
    config: &SmartConfig,
    ticket: &str,
    bound_jkt: Option<String>,
    scope: Option<String>,
    interactor: Option<&dyn Interactor>,
) -> Result<Session, ExchangeError> {
    let client_id = holder
        .client_id
        .clone()
        .ok_or_else(|| ExchangeError::Unsupported("no client id at this holder".into()))?;
    let mut form = vec![
        ("grant_type", TOKEN_EXCHANGE.to_string()),
        ("subject_token", ticket.to_string()),
        ("subject_token_type", TICKET_TOKEN_TYPE.to_string()),
    ];
    if let Some(s) = &scope {
        form.push(("scope", s.clone()));
    }
    let mut nonce = engine.tokens.nonce(&config.token_endpoint);
    let reply = token_request(
        engine,
        &holder.fhir_base,
        config,
        &client_id,
        form,
        &mut nonce,
    )
    .await?;
    match session_from(
        &reply,
        &holder.fhir_base,
        config,
        nonce.clone(),
        bound_jkt.clone(),
    ) {
        Err(ExchangeError::InteractionRequired { launch }) => match interactor {
            Some(i) => {
                interact(
                    engine, holder, config, &client_id, &launch, scope, i, nonce, bound_jkt,
                )
                .await
            }
            None => Err(ExchangeError::InteractionRequired { launch }),
        },
        other => other,
    }
}

#[allow(clippy::too_many_arguments)]
async fn interact(
    engine: &Engine,
    holder: &HolderRecord,
    config: &SmartConfig,
    client_id: &str,
    launch: &str,
    scope: Option<String>,
    interactor: &dyn Interactor,
    mut nonce: Option<String>,
    bound_jkt: Option<String>,
) -> Result<Session, ExchangeError> {
    let authorize = config.authorization_endpoint.clone().ok_or_else(|| {
        ExchangeError::Unsupported(
            "the holder asked for an interaction but has no authorize endpoint".into(),
        )
    })?;
    let scope = format!("launch {}", scope.unwrap_or_default());
    let extra = [("launch", launch), ("aud", holder.fhir_base.as_str())];
    let grant = authorization_code(interactor, &authorize, client_id, scope.trim(), &extra)
        .await
        .map_err(|e| match e {
            CodeError::Transport(m) => ExchangeError::Transport(m),
            CodeError::Denied { error, description } => ExchangeError::OAuth {
                advice: Some("The confirmation at the holder did not complete.".into()),
                description,
                error,
            },
        })?;
    let CodeGrant {
        code,
        verifier,
        redirect_uri,
    } = grant;
    let form = vec![
        ("grant_type", "authorization_code".to_string()),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ];
    let reply = token_request(
        engine,
        &holder.fhir_base,
        config,
        client_id,
        form,
        &mut nonce,
    )
    .await?;
    session_from(&reply, &holder.fhir_base, config, nonce, bound_jkt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(error: &str, description: &str) -> String {
        ExchangeError::OAuth {
            error: error.into(),
            description: description.into(),
            advice: advice(error, description),
        }
        .to_string()
    }

    #[test]
    fn the_holders_own_words_come_first_when_the_wallet_cannot_be_sure() {
        // A description that mentions a constraint is not the known "cannot enforce" refusal.
        let odd = said(
            "invalid_grant",
            "The ticket's access constraint shows no visits at this site",
        );
        assert!(
            odd.starts_with("the holder says: \u{201c}The ticket's access constraint shows no visits at this site\u{201d}"),
            "{odd}"
        );
        assert!(!odd.contains("cannot enforce"), "{odd}");
        assert_eq!(
            said("invalid_grant", ""),
            "the holder refused the request (invalid_grant)"
        );
        assert_eq!(
            said("temporarily_unavailable", "try later"),
            "the holder says: \u{201c}try later\u{201d} (temporarily_unavailable)"
        );
        // The known refusals keep their advice, with the holder's words after it.
        let known = said("invalid_grant", "Cannot enforce kernel field: access.sites");
        assert!(
            known.starts_with("The ticket limits access in a way this holder cannot enforce."),
            "{known}"
        );
        assert!(said("invalid_grant", "Ticket expired").starts_with("The ticket has expired"));
    }
}
