//! Checking a decoded ticket: every check runs and reports, so a person (or a
//! tester) sees all that is wrong at once, not just the first thing.

use serde::Serialize;

use crate::error::{StatusListError, TicketError};
use crate::jwk::{Algorithm, Jwks};
use crate::jws::CompactJws;
use crate::model::{PermissionTicket, PresenterBinding, UNDERSTOOD_CLAIMS};
use crate::scope::SmartScope;
use crate::status_list::StatusList;
use crate::ticket_type::{RequesterRule, TicketType};
use crate::time_fmt::human;

/// How far clocks may disagree when judging `exp`, `nbf` and `iat`.
pub const DEFAULT_CLOCK_SKEW: i64 = 60;

/// A ticket whose JWS and claims decode. Nothing about it is trusted yet.
#[derive(Debug, Clone)]
pub struct DecodedTicket {
    pub jws: CompactJws,
    pub ticket: PermissionTicket,
    /// The compact JWS exactly as received (trimmed); what gets presented.
    pub compact: String,
}

/// Decodes a compact JWS ticket into the typed model.
pub fn decode(text: &str) -> Result<DecodedTicket, TicketError> {
    let jws = CompactJws::parse(text)?;
    let ticket = PermissionTicket::from_claims(&jws.claims)?;
    Ok(DecodedTicket {
        jws,
        ticket,
        compact: text.trim().to_string(),
    })
}

/// The issuer's keys, or why they could not be had.
#[derive(Debug, Clone)]
pub enum IssuerKeys {
    Keys(Jwks),
    Unavailable(String),
}

/// The ticket's revocation status list, as far as the caller could get it.
#[derive(Debug, Clone)]
pub enum RevocationInput {
    /// The caller chose not to look (offline inspection).
    NotChecked,
    List(StatusList),
    Unavailable(String),
}

#[derive(Debug, Clone)]
pub struct InspectOptions<'a> {
    pub now: i64,
    pub clock_skew: i64,
    pub issuer_keys: IssuerKeys,
    /// This wallet's key thumbprint, to judge a `jkt` binding.
    pub wallet_jkt: Option<&'a str>,
    pub revocation: RevocationInput,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Pass,
    /// Worth knowing; does not stop the ticket from being used.
    Warn,
    /// The ticket cannot be used.
    Fail,
    /// Not checked, with the reason in the detail.
    Skip,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable identifier (`signature`, `expiry`, ...), for scripts and tests.
    pub id: &'static str,
    pub label: &'static str,
    pub status: CheckStatus,
    pub detail: String,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub checks: Vec<Check>,
    failures: Vec<TicketError>,
}

impl Report {
    /// Usable means no check failed.
    pub fn usable(&self) -> bool {
        self.failures.is_empty()
    }

    /// The first reason the ticket cannot be used.
    pub fn first_failure(&self) -> Option<&TicketError> {
        self.failures.first()
    }

    pub fn failures(&self) -> &[TicketError] {
        &self.failures
    }

    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    fn push(&mut self, id: &'static str, label: &'static str, outcome: Outcome) {
        let (status, detail) = match outcome {
            Outcome::Pass(d) => (CheckStatus::Pass, d),
            Outcome::Warn(d) => (CheckStatus::Warn, d),
            Outcome::Skip(d) => (CheckStatus::Skip, d),
            Outcome::Fail(e) => {
                let d = e.to_string();
                self.failures.push(e);
                (CheckStatus::Fail, d)
            }
        };
        self.checks.push(Check {
            id,
            label,
            status,
            detail,
        });
    }
}

enum Outcome {
    Pass(String),
    Warn(String),
    Skip(String),
    Fail(TicketError),
}

/// Runs every check on a decoded ticket.
pub fn inspect(decoded: &DecodedTicket, opts: &InspectOptions<'_>) -> Report {
    let t = &decoded.ticket;
    let mut r = Report {
        checks: Vec::new(),
        failures: Vec::new(),
    };
    let alg = check_algorithm(&decoded.jws);
    let alg_ok = alg.as_ref().ok().copied();
    r.push(
        "algorithm",
        "Signature algorithm",
        match alg {
            Ok(a) => Outcome::Pass(format!(
                "{} (keys come only from the issuer's published key set)",
                a.name()
            )),
            Err(e) => Outcome::Fail(e),
        },
    );
    r.push(
        "header",
        "Token header",
        match decoded.jws.ticket_header_problem() {
            None => Outcome::Pass("no extensions, and no other kind of token named".into()),
            Some(why) => Outcome::Fail(TicketError::HeaderRefused(why)),
        },
    );
    let (key_outcome, sig_outcome) = check_signature(decoded, alg_ok, &opts.issuer_keys);
    r.push("issuer_key", "Issuer key", key_outcome);
    r.push("signature", "Signature", sig_outcome);
    r.push("expiry", "Expiry", check_expiry(t, opts));
    r.push("issued_at", "Issued at", check_issued_at(t, opts));
    r.push("ticket_type", "Ticket type", check_type(t));
    r.push("type_rules", "Rules for this type", check_type_rules(t));
    r.push("access", "Access granted", check_access(t));
    r.push(
        "must_understand",
        "Must-understand claims",
        check_must_understand(t),
    );
    r.push(
        "presenter_binding",
        "Presenter binding",
        check_binding(t, opts.wallet_jkt),
    );
    r.push(
        "revocation",
        "Revocation",
        check_revocation(t, &opts.revocation),
    );
    if let Some(outcome) = check_evidence(t) {
        r.push("identity_evidence", "Identity evidence", outcome);
    }
    r
}

/// Whether the ticket's signature verifies with one of the issuer's keys:
/// what must hold before any address the ticket names is fetched (its
/// revocation list), so a forged ticket cannot make the wallet call out.
pub fn signature_verifies(decoded: &DecodedTicket, keys: &IssuerKeys) -> bool {
    let alg = check_algorithm(&decoded.jws).ok();
    matches!(check_signature(decoded, alg, keys).1, Outcome::Pass(_))
}

fn check_algorithm(jws: &CompactJws) -> Result<Algorithm, TicketError> {
    let alg = jws.header_str("alg").unwrap_or("(missing)");
    Algorithm::from_name(alg).ok_or_else(|| TicketError::AlgorithmRefused {
        alg: alg.to_string(),
    })
}

fn check_signature(
    decoded: &DecodedTicket,
    alg: Option<Algorithm>,
    keys: &IssuerKeys,
) -> (Outcome, Outcome) {
    let iss = decoded.ticket.iss.clone();
    let skip = |why: &str| (Outcome::Skip(why.into()), Outcome::Skip(why.into()));
    let Some(alg) = alg else {
        return (
            Outcome::Skip("not looked up: the algorithm is refused".into()),
            Outcome::Fail(TicketError::SignatureMismatch { iss }),
        );
    };
    let jwks = match keys {
        IssuerKeys::Keys(jwks) => jwks,
        IssuerKeys::Unavailable(reason) => {
            let (_, sig) = skip("not verified: the issuer's keys are unavailable");
            return (
                Outcome::Fail(TicketError::KeysUnavailable {
                    iss,
                    reason: reason.clone(),
                }),
                sig,
            );
        }
    };
    // Keys in the JWS header (`jwk`, `jku`, `x5c`, `x5u`) are never used.
    let kid = decoded.jws.header_str("kid");
    let candidates: Vec<_> = jwks
        .keys
        .iter()
        .filter(|k| match kid {
            Some(kid) => k.kid.as_deref() == Some(kid),
            None => k.suits(alg),
        })
        .collect();
    if candidates.is_empty() {
        return (
            Outcome::Fail(TicketError::UnknownKey {
                kid: kid.unwrap_or("(no kid)").into(),
                iss: iss.clone(),
            }),
            Outcome::Fail(TicketError::SignatureMismatch { iss }),
        );
    }
    let input = decoded.jws.signing_input.as_bytes();
    let sig = &decoded.jws.signature;
    let mut key_problem = None;
    for key in &candidates {
        match key.verify(alg, input, sig) {
            Ok(true) => {
                let name = key.kid.clone().unwrap_or_else(|| "(unnamed key)".into());
                return (
                    Outcome::Pass(format!("key `{name}` published by {iss}")),
                    Outcome::Pass(format!("verified with {}", alg.name())),
                );
            }
            Ok(false) => {}
            Err(e) => key_problem = Some(e),
        }
    }
    let key_outcome = match (key_problem, candidates.len()) {
        (Some(e), 1) => Outcome::Fail(TicketError::UnknownKey {
            kid: format!("{} ({e})", kid.unwrap_or("(no kid)")),
            iss: iss.clone(),
        }),
        _ => Outcome::Pass(format!(
            "{} candidate key(s) published by {iss}",
            candidates.len()
        )),
    };
    (
        key_outcome,
        Outcome::Fail(TicketError::SignatureMismatch { iss }),
    )
}

fn check_expiry(t: &PermissionTicket, o: &InspectOptions<'_>) -> Outcome {
    if t.exp.saturating_add(o.clock_skew) <= o.now {
        return Outcome::Fail(TicketError::Expired { at: human(t.exp) });
    }
    let days = (t.exp - o.now) / 86_400;
    let mut detail = format!("valid until {}", human(t.exp));
    if days >= 1 {
        detail.push_str(&format!(" ({days} days left)"));
    }
    if let Some(c) = &t.continuation {
        match c.refresh_until {
            Some(until) => {
                detail.push_str(&format!("; access may be refreshed until {}", human(until)))
            }
            None => detail.push_str("; access may be refreshed indefinitely"),
        }
    }
    Outcome::Pass(detail)
}

fn check_issued_at(t: &PermissionTicket, o: &InspectOptions<'_>) -> Outcome {
    if let Some(nbf) = t.nbf
        && nbf > o.now.saturating_add(o.clock_skew)
    {
        return Outcome::Fail(TicketError::NotYetValid { at: human(nbf) });
    }
    match t.iat {
        Some(iat) if iat > o.now.saturating_add(o.clock_skew) => {
            Outcome::Fail(TicketError::IssuedInFuture { at: human(iat) })
        }
        Some(iat) => Outcome::Pass(format!("issued {}", human(iat))),
        None => Outcome::Warn(
            "the ticket does not say when it was issued (`iat`), which the current spec requires"
                .into(),
        ),
    }
}

fn check_type(t: &PermissionTicket) -> Outcome {
    match &t.ticket_type {
        TicketType::Unknown(uri) => Outcome::Warn(format!(
            "`{uri}` is a type this wallet does not know; it is shown as decoded, and data holders that do not know it will refuse it"
        )),
        known => Outcome::Pass(known.label().to_string()),
    }
}

fn check_type_rules(t: &PermissionTicket) -> Outcome {
    let Some(rule) = t.ticket_type.requester_rule() else {
        return Outcome::Skip("no rules are known for this type".into());
    };
    let label = t.ticket_type.label();
    let mut problems = Vec::new();
    match (rule, &t.requester) {
        (RequesterRule::Absent, Some(r)) => problems.push(format!(
            "a {label} ticket must not name a requester, but it names a {}",
            r.resource_type
        )),
        (RequesterRule::Required(want), None) => problems.push(format!(
            "a {label} ticket must name the requester (a {want})"
        )),
        (RequesterRule::Required(want), Some(r)) if r.resource_type != want => {
            problems.push(format!(
                "a {label} ticket's requester must be {}, not {}",
                a(want),
                a(&r.resource_type)
            ))
        }
        _ => {}
    }
    for fact in t.ticket_type.required_facts() {
        if !t.facts.contains_key(*fact) {
            problems.push(format!("a {label} ticket must state `{fact}`"));
        }
    }
    match t.ticket_type {
        TicketType::PatientSelfAccess | TicketType::PatientDelegatedAccess => {
            if let Some(extra) = t
                .facts
                .keys()
                .find(|k| *k != "sensitivity_release_authorized")
            {
                problems.push(format!(
                    "a {label} ticket carries no context, but it states `{extra}`"
                ));
            }
        }
        TicketType::PayerClaimsAdjudication => {
            let seed_form = t.facts.contains_key("service") && t.facts.contains_key("claim");
            if !seed_form && t.access.claim_linkage.is_none() {
                problems.push(format!(
                    "a {label} ticket must link the claim (`access.claim_linkage`, or `service` and `claim`)"
                ));
            }
        }
        TicketType::PayerQualityGap => {
            if t.access.data_period.is_none() {
                problems.push(format!("a {label} ticket must limit `access.data_period`"));
            }
            let unnarrowed: Vec<_> = t
                .access
                .scopes()
                .into_iter()
                .filter(|s| {
                    !s.query.as_deref().is_some_and(|q| {
                        q.split('&')
                            .any(|p| p.starts_with("code=") || p.starts_with("category="))
                    })
                })
                .map(|s| s.to_string())
                .collect();
            if !unnarrowed.is_empty() {
                problems.push(format!(
                    "every scope of a {label} ticket must be narrowed by code or category: {}",
                    unnarrowed.join(", ")
                ));
            }
        }
        _ => {}
    }
    if t.ticket_type.is_individual_access()
        && t.presenter_binding.is_none()
        && t.generation == crate::model::Generation::Current
    {
        problems.push(format!(
            "a {label} ticket must be bound to its presenter (`presenter_binding`)"
        ));
    }
    if problems.is_empty() {
        let who = t
            .requester
            .as_ref()
            .map(|r| format!("requester is {}", a(&r.resource_type)))
            .unwrap_or_else(|| "no requester".into());
        Outcome::Pass(format!("{who}; every fact this type needs is stated"))
    } else {
        Outcome::Fail(TicketError::TypeRule(problems.join("; ")))
    }
}

/// "a RelatedPerson", "an Organization".
fn a(word: &str) -> String {
    let vowel = word.starts_with(['A', 'E', 'I', 'O', 'U', 'a', 'e', 'i', 'o', 'u']);
    format!("{} {word}", if vowel { "an" } else { "a" })
}

fn check_access(t: &PermissionTicket) -> Outcome {
    let a = &t.access;
    if a.grants_nothing() {
        return Outcome::Fail(TicketError::TypeRule("the ticket grants no access".into()));
    }
    for s in &a.smart_scopes {
        if let Err(reason) = SmartScope::parse(s) {
            return Outcome::Fail(TicketError::InvalidClaim {
                claim: "access.smart_scopes".into(),
                reason,
            });
        }
    }
    if let Some(v) = &a.sensitive_data
        && v != "exclude"
        && v != "include"
    {
        return Outcome::Fail(TicketError::InvalidClaim {
            claim: "access.sensitive_data".into(),
            reason: format!("must be `exclude` or `include`, not `{v}`"),
        });
    }
    let scopes: Vec<String> = a.scopes().iter().map(ToString::to_string).collect();
    let mut detail = if scopes.is_empty() {
        "records linked to the claim".to_string()
    } else {
        scopes.join(", ")
    };
    if let Some(p) = &a.data_period {
        detail.push_str(&format!(
            "; records dated {} to {}",
            p.start.as_deref().unwrap_or("any time"),
            p.end.as_deref().unwrap_or("now")
        ));
    }
    if a.other.is_empty() {
        Outcome::Pass(detail)
    } else {
        let names: Vec<_> = a.other.keys().map(String::as_str).collect();
        Outcome::Warn(format!(
            "{detail}; also constrains {} — data holders that cannot enforce that will refuse the ticket",
            names.join(", ")
        ))
    }
}

fn check_must_understand(t: &PermissionTicket) -> Outcome {
    if let Some(claim) = t.must_understand.iter().find(|c| {
        !UNDERSTOOD_CLAIMS.contains(&c.as_str())
            && !crate::model::PROFILE_CLAIMS.contains(&c.as_str())
    }) {
        return Outcome::Fail(TicketError::MustUnderstand {
            claim: claim.clone(),
        });
    }
    if t.must_understand.is_empty() {
        Outcome::Pass("none required".into())
    } else {
        Outcome::Pass(format!("all understood: {}", t.must_understand.join(", ")))
    }
}

fn check_binding(t: &PermissionTicket, wallet_jkt: Option<&str>) -> Outcome {
    match &t.presenter_binding {
        None => Outcome::Warn("not bound to a presenter: any authenticated client the data holder accepts may present it".into()),
        Some(PresenterBinding::Jkt { jkt }) => match wallet_jkt {
            Some(mine) if mine == jkt => Outcome::Pass(format!("bound to this wallet's key ({jkt})")),
            Some(mine) => Outcome::Fail(TicketError::BoundToOtherKey {
                ticket_jkt: jkt.clone(),
                wallet_jkt: mine.to_string(),
            }),
            None => Outcome::Skip(format!("bound to key {jkt}; this wallet's key was not consulted")),
        },
        Some(PresenterBinding::TrustFrameworkClient {
            trust_framework,
            framework_type,
            entity_uri,
        }) => Outcome::Fail(TicketError::BoundToFrameworkClient {
            trust_framework: trust_framework.clone(),
            framework_type: framework_type.clone(),
            entity_uri: entity_uri.clone(),
        }),
    }
}

fn check_revocation(t: &PermissionTicket, input: &RevocationInput) -> Outcome {
    let Some(rev) = &t.revocation else {
        return Outcome::Pass(
            "the ticket names no status list, so its issuer cannot revoke it early".into(),
        );
    };
    match input {
        RevocationInput::NotChecked => {
            Outcome::Skip(format!("status list {} not consulted", rev.url))
        }
        RevocationInput::Unavailable(why) => Outcome::Warn(
            TicketError::RevocationUnknown(format!(
                "{why}; data holders will refuse it until the list answers"
            ))
            .to_string(),
        ),
        RevocationInput::List(list) => match list.is_revoked(rev.index) {
            Ok(true) => Outcome::Fail(TicketError::Revoked),
            Ok(false) => Outcome::Pass(format!("not revoked (entry {} of {})", rev.index, rev.url)),
            Err(e @ StatusListError::OutOfRange { .. }) => {
                Outcome::Warn(TicketError::RevocationUnknown(e.to_string()).to_string())
            }
            Err(e) => Outcome::Warn(TicketError::RevocationUnknown(e.to_string()).to_string()),
        },
    }
}

fn check_evidence(t: &PermissionTicket) -> Option<Outcome> {
    let ev = [&t.subject_identity_evidence, &t.requester_identity_evidence];
    let present: Vec<_> = ev.iter().filter_map(|e| e.as_ref()).collect();
    if present.is_empty() {
        return None;
    }
    let mut parts = Vec::new();
    for e in present {
        match e.summary() {
            Some((iss, acr)) => parts.push(format!(
                "{} from {iss}{}",
                e.token_type,
                acr.map(|a| format!(" (assurance {a})")).unwrap_or_default()
            )),
            None => {
                return Some(Outcome::Warn(
                    "embedded identity evidence does not decode; data holders will reject the ticket".into(),
                ));
            }
        }
    }
    Some(Outcome::Pass(format!(
        "{}; the data holder verifies it",
        parts.join("; ")
    )))
}
