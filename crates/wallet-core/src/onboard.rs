//! Onboarding from an issuer (Proposal 003): a SMART App Launch at the
//! issuer whose token response carries the tickets
//! (`smart_permission_ticket`) and the holders worth trying
//! (`smart_permission_ticket_endpoints`). Tickets are bound to the key of the
//! DPoP proof on the token request, which is this wallet's key.

use std::sync::Arc;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use crate::engine::interaction::{CodeError, CodeGrant, Interactor, authorization_code};
use crate::engine::{Engine, Outgoing};
use crate::holders::{AddedBy, HolderRecord, HolderView, IssuerHint};
use crate::proofs::dpop_proof;
use crate::trace::Trace;
use crate::wallet::ImportResult;
use crate::{Wallet, WalletError};

const MAX_BYTES: usize = 1024 * 1024;

#[derive(Debug, Deserialize)]
struct IssuerConfig {
    authorization_endpoint: String,
    token_endpoint: String,
    #[serde(default)]
    smart_permission_ticket_issuer: bool,
    #[serde(default)]
    dpop_signing_alg_values_supported: Vec<String>,
}

/// What onboarding brought in.
#[derive(Debug, Serialize, TS)]
#[ts(export)]
pub struct OnboardReport {
    pub tickets: Vec<ImportResult>,
    pub holders: Vec<HolderView>,
    /// Hints that could not be followed, and why.
    pub problems: Vec<String>,
}

fn fail(issuer: &str, reason: impl Into<String>) -> WalletError {
    WalletError::Fetch {
        url: issuer.to_string(),
        reason: reason.into(),
    }
}

impl Wallet {
    /// Runs the issuer's launch with `interactor` (the person signs in and agrees there),
    /// keeps the tickets it hands out, and adds the holders it names.
    pub async fn onboard(
        &self,
        issuer: &str,
        interactor: &dyn Interactor,
    ) -> Result<OnboardReport, WalletError> {
        let issuer = crate::holders::normalise_base(issuer)?;
        let config_url = format!("{issuer}/.well-known/smart-configuration");
        let config: IssuerConfig =
            serde_json::from_slice(&self.http().get_bytes(&config_url, MAX_BYTES).await?)
                .map_err(|e| fail(&config_url, format!("not a SMART configuration: {e}")))?;
        if !config.smart_permission_ticket_issuer {
            return Err(fail(
                &issuer,
                "this server does not say it issues Permission Tickets",
            ));
        }
        let key = Arc::new(self.vault().signing_key()?);
        let engine = Engine::new(
            self.http().clone(),
            key.clone(),
            Trace::new(false),
            Default::default(),
        );
        let client_id = "ticket-wallet";
        let CodeGrant {
            code,
            verifier,
            redirect_uri,
        } = authorization_code(
            interactor,
            &config.authorization_endpoint,
            client_id,
            "permission_ticket patient/*.rs",
            &[],
        )
        .await
        .map_err(|e| match e {
            CodeError::Transport(m) => fail(&issuer, m),
            CodeError::Denied { error, .. } => fail(
                &issuer,
                format!("the issuer did not hand out tickets ({error})"),
            ),
        })?;
        let mut headers = Vec::new();
        if config
            .dpop_signing_alg_values_supported
            .iter()
            .any(|a| a == "ES256")
        {
            headers.push((
                "DPoP",
                dpop_proof(&key, "POST", &config.token_endpoint, None, None),
            ));
        }
        let form = vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
            ("client_id", client_id.to_string()),
        ];
        let reply = engine
            .send(
                Outgoing {
                    holder: &issuer,
                    step: crate::trace::Step::Issuer,
                    method: Method::POST,
                    url: config.token_endpoint.clone(),
                    headers,
                    form: Some(form),
                    json: None,
                },
                MAX_BYTES,
            )
            .await
            .map_err(|e| fail(&issuer, e.to_string()))?;
        let body = reply.json().unwrap_or(Value::Null);
        if !(200..300).contains(&reply.status) {
            return Err(fail(
                &issuer,
                format!(
                    "the token request failed ({}): {}",
                    reply.status,
                    body["error_description"].as_str().unwrap_or_default()
                ),
            ));
        }
        let tickets: Vec<&str> = body["smart_permission_ticket"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if tickets.is_empty() {
            return Err(fail(&issuer, "the issuer's answer carries no tickets"));
        }
        let mut report = OnboardReport {
            tickets: Vec::new(),
            holders: Vec::new(),
            problems: Vec::new(),
        };
        for t in &tickets {
            report.tickets.push(self.import(t, "issuer").await?);
        }
        for hint in body["smart_permission_ticket_endpoints"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let Some(base) = hint["fhir_base_url"].as_str() else {
                report
                    .problems
                    .push("a holder hint without fhir_base_url".into());
                continue;
            };
            let tickets = match hinted_tickets(&hint["ticket_indices"], &report.tickets) {
                Ok(t) => t,
                Err(why) => {
                    report.problems.push(format!("{base}: not added, {why}"));
                    continue;
                }
            };
            let mut template = HolderRecord::new(base.to_string());
            template.added_by = Some(AddedBy::Issuer {
                issuer: issuer.clone(),
            });
            template.organization = hint.get("organization").filter(|o| o.is_object()).cloned();
            template.name = template
                .organization
                .as_ref()
                .and_then(|o| o["name"].as_str())
                .map(str::to_string);
            template.hints = vec![IssuerHint {
                issuer: issuer.clone(),
                tickets,
            }];
            match self.add_holder_record(template, None).await {
                Ok(v) => report.holders.push(v),
                Err(e) => report.problems.push(format!("{base}: {e}")),
            }
        }
        Ok(report)
    }
}

/// The tickets a hint's `ticket_indices` names (empty when it names none, so
/// any whose `aud` fits). An index that is not a whole number within the
/// tickets handed out, or an empty list, refuses the hint: read leniently it
/// would widen what the holder is shown.
fn hinted_tickets(indices: &Value, tickets: &[ImportResult]) -> Result<Vec<String>, String> {
    if indices.is_null() {
        return Ok(Vec::new());
    }
    let list = indices
        .as_array()
        .filter(|l| !l.is_empty())
        .ok_or("its ticket_indices is not a list of tickets")?;
    list.iter()
        .map(|i| {
            i.as_u64()
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| tickets.get(i))
                .map(|r| r.ticket.jti.clone())
                .ok_or_else(|| format!("its ticket_indices names no ticket handed out: {i}"))
        })
        .collect()
}
