//! What the UI and the command line show of a ticket: flattened, worded for
//! people, with every check. These types are exported to TypeScript.

use permission_ticket::model::{AudienceType, DataHolderFilter};
use permission_ticket::{CheckStatus, DecodedTicket, PresenterBinding, Report, human_time};
use serde::Serialize;
use serde_json::Value;
use ts_rs::TS;

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct TicketView {
    pub jti: String,
    pub ticket_type: String,
    pub type_label: String,
    pub known_type: bool,
    /// `seed` or `current`: which spec generation the ticket was written in.
    pub generation: String,
    pub issuer: String,
    pub audience: Vec<String>,
    /// `data_holder_url` or `trust_framework`.
    pub audience_type: String,
    #[ts(type = "number")]
    pub expires_at: i64,
    pub expires_text: String,
    #[ts(type = "number | null")]
    pub issued_at: Option<i64>,
    pub patient: PersonView,
    pub requester: Option<RequesterView>,
    pub access: AccessView,
    pub facts: Vec<FactView>,
    pub binding: BindingView,
    pub revocation: Option<RevocationView>,
    pub checks: Vec<CheckView>,
    pub usable: bool,
    /// Why it is not usable, when it is not.
    pub problem: Option<String>,
    /// The decoded claims, for testers (identity evidence tokens left out).
    pub claims: Value,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct PersonView {
    pub name: Option<String>,
    pub birth_date: Option<String>,
    pub gender: Option<String>,
    pub identifiers: Vec<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct RequesterView {
    pub resource_type: String,
    pub name: Option<String>,
    pub relationship: Vec<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ScopeView {
    pub resource_type: String,
    /// e.g. "read, search"
    pub permissions: String,
    pub narrowed_by: Option<String>,
    pub scope: String,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct AccessView {
    pub scopes: Vec<ScopeView>,
    pub period: Option<String>,
    pub holder_filter: Vec<String>,
    pub sensitive_data: Option<String>,
    pub claim_linkage: bool,
    pub other_constraints: Vec<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct FactView {
    pub name: String,
    pub display: String,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct BindingView {
    /// `jkt`, `trust_framework_client` or `none`.
    pub method: String,
    pub detail: String,
    pub matches_wallet: bool,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct RevocationView {
    pub url: String,
    #[ts(type = "number")]
    pub index: u64,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct CheckView {
    pub id: String,
    pub label: String,
    /// `pass`, `warn`, `fail` or `skip`.
    pub status: String,
    pub detail: String,
}

/// A ticket in the list, from the index: no keyring access needed.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct TicketSummary {
    pub jti: String,
    pub ticket_type: String,
    pub type_label: String,
    pub issuer: String,
    #[ts(type = "number")]
    pub expires_at: i64,
    pub expires_text: String,
    pub expired: bool,
    #[ts(type = "number")]
    pub added_at: i64,
    pub source: String,
    /// Its signature has been checked; `false` while it waits for its issuer's keys.
    pub verified: bool,
}

fn status_name(s: CheckStatus) -> &'static str {
    match s {
        CheckStatus::Pass => "pass",
        CheckStatus::Warn => "warn",
        CheckStatus::Fail => "fail",
        CheckStatus::Skip => "skip",
    }
}

fn describe_perms(p: &str) -> String {
    p.chars()
        .filter_map(|c| match c {
            'c' => Some("create"),
            'r' => Some("read"),
            'u' => Some("update"),
            'd' => Some("delete"),
            's' => Some("search"),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn ticket_view(
    decoded: &DecodedTicket,
    report: &Report,
    wallet_jkt: Option<&str>,
) -> TicketView {
    let t = &decoded.ticket;
    let patient = &t.subject.patient;
    let binding = match &t.presenter_binding {
        None => BindingView {
            method: "none".into(),
            detail: "not bound: any client the data holder accepts may present it".into(),
            matches_wallet: false,
        },
        Some(PresenterBinding::Jkt { jkt }) => BindingView {
            method: "jkt".into(),
            detail: format!("key thumbprint {jkt}"),
            matches_wallet: wallet_jkt == Some(jkt.as_str()),
        },
        Some(PresenterBinding::TrustFrameworkClient {
            trust_framework,
            framework_type,
            entity_uri,
        }) => BindingView {
            method: "trust_framework_client".into(),
            detail: format!("{entity_uri} ({framework_type} client of {trust_framework})"),
            matches_wallet: false,
        },
    };
    let mut claims = Value::Object(decoded.jws.claims.clone());
    for slot in ["subject_identity_evidence", "requester_identity_evidence"] {
        if let Some(ev) = claims.get_mut(slot).and_then(|v| v.get_mut("jwt")) {
            *ev = Value::String("[identity token omitted]".into());
        }
    }
    TicketView {
        jti: t.jti.clone(),
        ticket_type: t.ticket_type.uri(),
        type_label: t.ticket_type.label().to_string(),
        known_type: t.ticket_type.is_known(),
        generation: match t.generation {
            permission_ticket::Generation::Seed => "seed".into(),
            permission_ticket::Generation::Current => "current".into(),
        },
        issuer: t.iss.clone(),
        audience: t.aud.clone(),
        audience_type: match t.aud_type {
            AudienceType::DataHolderUrl => "data_holder_url".into(),
            AudienceType::TrustFramework => "trust_framework".into(),
        },
        expires_at: t.exp,
        expires_text: human_time(t.exp),
        issued_at: t.iat,
        patient: PersonView {
            name: patient.display_name(),
            birth_date: patient.birth_date.clone(),
            gender: patient.gender.clone(),
            identifiers: patient
                .identifier
                .iter()
                .filter_map(|i| i.value.clone())
                .collect(),
        },
        requester: t.requester.as_ref().map(|r| RequesterView {
            resource_type: r.resource_type.clone(),
            name: r.display_name.clone(),
            relationship: r
                .relationship
                .iter()
                .filter_map(|c| c.display.clone().or_else(|| c.code.clone()))
                .collect(),
        }),
        access: AccessView {
            scopes: t
                .access
                .scopes()
                .iter()
                .map(|s| ScopeView {
                    resource_type: s.resource_type.clone(),
                    permissions: describe_perms(&s.permissions),
                    narrowed_by: s.query.clone(),
                    scope: s.to_string(),
                })
                .collect(),
            period: t.access.data_period.as_ref().map(|p| {
                format!(
                    "{} to {}",
                    p.start.as_deref().unwrap_or("any time"),
                    p.end.as_deref().unwrap_or("now")
                )
            }),
            holder_filter: t
                .access
                .data_holder_filter
                .iter()
                .map(|f| match f {
                    DataHolderFilter::Jurisdiction { country, state } => format!(
                        "holders in {}",
                        [state.as_deref(), country.as_deref()]
                            .into_iter()
                            .flatten()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    DataHolderFilter::Organization { organizations } => format!(
                        "only {}",
                        organizations
                            .iter()
                            .map(|o| o
                                .display
                                .clone()
                                .or_else(|| o.identifier.first().and_then(|i| i.value.clone()))
                                .unwrap_or_else(|| "an unnamed organization".into()))
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ),
                })
                .collect(),
            sensitive_data: t.access.sensitive_data.clone(),
            claim_linkage: t.access.claim_linkage.is_some(),
            other_constraints: t.access.other.keys().cloned().collect(),
        },
        facts: t
            .facts
            .iter()
            .map(|(name, value)| FactView {
                name: name.clone(),
                display: t
                    .fact_concept(name)
                    .and_then(|c| c.display())
                    .or_else(|| permission_ticket::fhir::resource_display_name(value))
                    .or_else(|| {
                        value
                            .get("title")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    })
                    .unwrap_or_else(|| value.to_string()),
            })
            .collect(),
        binding,
        revocation: t.revocation.as_ref().map(|r| RevocationView {
            url: r.url.clone(),
            index: r.index,
        }),
        checks: report
            .checks
            .iter()
            .map(|c| CheckView {
                id: c.id.to_string(),
                label: c.label.to_string(),
                status: status_name(c.status).to_string(),
                detail: c.detail.clone(),
            })
            .collect(),
        usable: report.usable(),
        problem: report.first_failure().map(ToString::to_string),
        claims,
    }
}

pub fn summary(record: &vault::TicketRecord, now: i64) -> TicketSummary {
    let ty = permission_ticket::TicketType::from_uri(&record.ticket_type);
    TicketSummary {
        jti: record.jti.clone(),
        ticket_type: record.ticket_type.clone(),
        type_label: ty.label().to_string(),
        issuer: record.issuer.clone(),
        expires_at: record.expires_at,
        expires_text: human_time(record.expires_at),
        expired: record.expires_at <= now,
        added_at: record.added_at,
        source: record.source.clone(),
        verified: record.verified,
    }
}
