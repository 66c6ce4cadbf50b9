//! A conformance check of one data holder: a battery of cases run against it
//! live, each tied to the requirement it checks, each ending pass, fail,
//! warning (a SHOULD, or an optional feature absent), not applicable, or
//! information (a choice the spec leaves to the holder), with the exchanges
//! that show it, redacted as in any saved trace.
//!
//! Cases that need a ticket the holder trusts with one claim changed re-sign
//! it with a test issuer key (`resign`); without one they are not applicable.

mod cases;
pub mod report;
pub mod resign;
pub mod workbench;

use std::sync::Arc;

use serde::Serialize;
use ts_rs::TS;
use vault::WalletKey;

use crate::WalletError;
use crate::engine::{Engine, Limits};
use crate::http::Http;
use crate::trace::{Trace, TraceEntry};
pub use resign::IssuerKey;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Outcome {
    Pass,
    Fail,
    /// A SHOULD not met, or an optional feature absent.
    Warning,
    NotApplicable,
    /// Which of the choices the spec allows the holder made.
    Info,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct CaseResult {
    /// Stable, for scripts: `discovery`, `tampered_signature`, ...
    pub id: String,
    pub title: String,
    /// The requirement checked, with where it is written.
    pub requirement: String,
    pub outcome: Outcome,
    /// What was seen, in a sentence.
    pub detail: String,
    /// The exchanges that show it.
    pub evidence: Vec<TraceEntry>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct CheckReport {
    pub fhir_base: String,
    pub ticket_jti: Option<String>,
    #[ts(type = "number")]
    pub checked_at: i64,
    pub cases: Vec<CaseResult>,
}

impl CheckReport {
    pub fn count(&self, outcome: Outcome) -> usize {
        self.cases.iter().filter(|c| c.outcome == outcome).count()
    }

    /// The ids of the cases that failed.
    pub fn failed(&self) -> Vec<&str> {
        self.cases
            .iter()
            .filter(|c| c.outcome == Outcome::Fail)
            .map(|c| c.id.as_str())
            .collect()
    }
}

/// What to check, and with what.
pub struct Target {
    pub fhir_base: String,
    /// A ticket the holder should accept, bound to this wallet's key.
    pub ticket: String,
    /// The client id this wallet has there; none: the check registers one.
    pub client_id: Option<String>,
    pub issuer_key: Option<IssuerKey>,
}

/// Runs the whole battery against `target`, one case after another (cases
/// share a client and a DPoP nonce, and some holders count requests).
pub async fn run(http: Http, key: Arc<WalletKey>, target: Target) -> CheckReport {
    let ticket_jti = permission_ticket::decode(&target.ticket)
        .ok()
        .map(|d| d.ticket.jti);
    let mut ctx = cases::Ctx {
        http,
        key,
        target,
        config: None,
        client_id: None,
        nonce: None,
        session: None,
    };
    let mut results = Vec::new();
    for case in cases::ALL {
        let trace = Trace::new(false);
        let engine = Engine::new(
            ctx.http.clone(),
            ctx.key.clone(),
            trace.clone(),
            Limits::default(),
        );
        let (outcome, detail) = (case.run)(&mut ctx, &engine).await;
        let mut evidence = trace.entries();
        evidence.sort_by_key(|e| e.started_ms);
        results.push(CaseResult {
            id: case.id.into(),
            title: case.title.into(),
            requirement: case.requirement.into(),
            outcome,
            detail,
            evidence,
        });
    }
    CheckReport {
        fhir_base: ctx.target.fhir_base,
        ticket_jti,
        checked_at: crate::wallet::now(),
        cases: results,
    }
}

/// What a case found, before its evidence is attached.
pub(crate) type Verdict = (Outcome, String);

pub(crate) fn needs_discovery() -> Verdict {
    (
        Outcome::NotApplicable,
        "needs a readable SMART configuration (see `discovery`)".into(),
    )
}

impl crate::Wallet {
    /// The battery against one holder, with `jti` (or the first kept ticket
    /// that may be presented there) and this wallet's key. The holder need
    /// not be on the wallet's list; when it is, its client id is the fallback
    /// where the holder offers no registration.
    pub async fn check_holder(
        &self,
        fhir_base: &str,
        jti: Option<&str>,
        issuer_key: Option<IssuerKey>,
    ) -> Result<CheckReport, WalletError> {
        let base = crate::holders::normalise_base(fhir_base)?;
        let record = self
            .holder_records()?
            .into_iter()
            .find(|h| h.fhir_base == base);
        let ticket = match jti {
            Some(j) => self.ticket_text(j)?,
            None => self.ticket_for(&base, record.as_ref()).await?,
        };
        let target = Target {
            fhir_base: base,
            ticket,
            client_id: record.and_then(|r| r.client_id),
            issuer_key,
        };
        Ok(run(
            self.http().clone(),
            Arc::new(self.vault().signing_key()?),
            target,
        )
        .await)
    }

    async fn ticket_for(
        &self,
        base: &str,
        record: Option<&crate::holders::HolderRecord>,
    ) -> Result<String, WalletError> {
        let config = crate::holders::discover(self.http(), base).await?;
        let holder = record
            .cloned()
            .unwrap_or_else(|| crate::holders::HolderRecord::new(base.to_string()));
        for kept in self.list()? {
            if kept.source == workbench::TEST_SOURCE {
                continue;
            }
            let text = self.ticket_text(&kept.jti)?;
            if let Ok(d) = permission_ticket::decode(&text)
                && d.ticket.exp > crate::wallet::now()
                && crate::holders::ticket_problems(&d.ticket, &holder, &config).is_empty()
            {
                return Ok(text);
            }
        }
        Err(WalletError::Invalid(format!(
            "no kept ticket can be presented at {base}: add one, or name one with --ticket"
        )))
    }
}
