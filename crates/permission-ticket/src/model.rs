//! The typed ticket: both spec generations (seed `permissions`/`context` and the
//! newer `smart_scopes`/top-level profile claims) read into one model.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::TicketError;
use crate::fhir::{CodeableConcept, Coding, Identifier, Patient, Period};
use crate::scope::{SmartScope, cruds_for};
use crate::ticket_type::TicketType;

/// Which generation of the spec a ticket was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Generation {
    /// The seven-type definitions: `access.permissions`, `context`, `must_understand`.
    Seed,
    /// The later spec: `access.smart_scopes`, top-level profile claims.
    Current,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AudienceType {
    DataHolderUrl,
    TrustFramework,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum PresenterBinding {
    Jkt {
        jkt: String,
    },
    TrustFrameworkClient {
        trust_framework: String,
        framework_type: String,
        entity_uri: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub url: String,
    pub index: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Continuation {
    /// `None` means refresh is allowed indefinitely (the spec's `null`).
    pub refresh_until: Option<i64>,
}

/// An embedded OIDC ID token vouching for a person's identity. Carries PII:
/// serialised without the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityEvidence {
    pub source: String,
    pub token_type: String,
    #[serde(skip_serializing)]
    pub jwt: String,
}

impl IdentityEvidence {
    /// The evidence token's issuer and assurance level, decoded without trust.
    pub fn summary(&self) -> Option<(String, Option<String>)> {
        let claims = crate::jws::CompactJws::parse(&self.jwt).ok()?.claims;
        let iss = claims.get("iss")?.as_str()?.to_string();
        let acr = claims
            .get("acr")
            .and_then(Value::as_str)
            .map(str::to_string);
        Some((iss, acr))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subject {
    pub patient: Patient,
    /// Newer spec: a hint toward the Patient URL at the data holder.
    pub patient_reference: Option<String>,
    /// Seed-era name for the same hint (a FHIR Reference).
    pub recipient_record: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Requester {
    pub resource_type: String,
    pub display_name: Option<String>,
    pub relationship: Vec<Coding>,
    pub identifier: Vec<Identifier>,
    pub resource: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Permission {
    Data {
        resource_type: String,
        interactions: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        category_any_of: Vec<Coding>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        code_any_of: Vec<Coding>,
    },
    Operation {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<Value>,
    },
}

/// An organization named by a `data_holder_filter`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrganizationRef {
    pub display: Option<String>,
    pub identifier: Vec<Identifier>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DataHolderFilter {
    Jurisdiction {
        country: Option<String>,
        state: Option<String>,
    },
    Organization {
        organizations: Vec<OrganizationRef>,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Access {
    pub smart_scopes: Vec<String>,
    pub permissions: Vec<Permission>,
    /// The short-lived June 2026 shape, kept as-is.
    pub fhir_resources: Vec<Value>,
    pub data_period: Option<Period>,
    pub data_holder_filter: Vec<DataHolderFilter>,
    pub sensitive_data: Option<String>,
    pub claim_linkage: Option<Value>,
    /// Members this wallet does not know; data holders reject what they cannot enforce.
    pub other: BTreeMap<String, Value>,
}

impl Access {
    /// The SMART v2 scopes this access grants, from either generation.
    /// Entries that do not parse are left out (the checks report them).
    pub fn scopes(&self) -> Vec<SmartScope> {
        if !self.smart_scopes.is_empty() {
            return self
                .smart_scopes
                .iter()
                .filter_map(|s| SmartScope::parse(s).ok())
                .collect();
        }
        let mut out = Vec::new();
        for p in &self.permissions {
            let Permission::Data {
                resource_type,
                interactions,
                category_any_of,
                code_any_of,
            } = p
            else {
                continue;
            };
            let perms = cruds_for(interactions);
            if perms.is_empty() {
                continue;
            }
            let token = |c: &Coding| match (&c.system, &c.code) {
                (Some(s), Some(code)) => Some(format!("{s}|{code}")),
                (None, Some(code)) => Some(code.clone()),
                _ => None,
            };
            let cats: Vec<Option<String>> = if category_any_of.is_empty() {
                vec![None]
            } else {
                category_any_of
                    .iter()
                    .map(|c| token(c).map(|t| format!("category={t}")))
                    .collect()
            };
            let codes: Vec<Option<String>> = if code_any_of.is_empty() {
                vec![None]
            } else {
                code_any_of
                    .iter()
                    .map(|c| token(c).map(|t| format!("code={t}")))
                    .collect()
            };
            for cat in &cats {
                for code in &codes {
                    let query: Vec<&str> = [cat, code]
                        .into_iter()
                        .flatten()
                        .map(String::as_str)
                        .collect();
                    out.push(SmartScope {
                        context: "patient".into(),
                        resource_type: resource_type.clone(),
                        permissions: perms.clone(),
                        query: (!query.is_empty()).then(|| query.join("&")),
                    });
                }
            }
        }
        out
    }

    pub fn grants_nothing(&self) -> bool {
        self.smart_scopes.is_empty()
            && self.permissions.is_empty()
            && self.fhir_resources.is_empty()
            && self.claim_linkage.is_none()
    }
}

/// A decoded Permission Ticket. Decoding checks shape only; trust comes from
/// [`crate::inspect`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PermissionTicket {
    pub iss: String,
    pub aud: Vec<String>,
    pub aud_type: AudienceType,
    pub exp: i64,
    pub iat: Option<i64>,
    pub nbf: Option<i64>,
    pub jti: String,
    #[serde(serialize_with = "ser_type")]
    pub ticket_type: TicketType,
    pub presenter_binding: Option<PresenterBinding>,
    pub revocation: Option<Revocation>,
    pub must_understand: Vec<String>,
    pub subject: Subject,
    pub requester: Option<Requester>,
    pub access: Access,
    /// Type-specific facts: seed `context` members or top-level profile claims
    /// (`reportable_condition`, `measure`, `study`, ...).
    pub facts: BTreeMap<String, Value>,
    pub continuation: Option<Continuation>,
    pub subject_identity_evidence: Option<IdentityEvidence>,
    pub requester_identity_evidence: Option<IdentityEvidence>,
    pub generation: Generation,
    /// Top-level claims this wallet does not model. Unknown top-level claims restrict nothing.
    pub other_claims: BTreeMap<String, Value>,
}

fn ser_type<S: serde::Serializer>(t: &TicketType, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.uri())
}

/// Top-level claims that carry type-specific facts in the newer spec.
pub const PROFILE_CLAIMS: [&str; 10] = [
    "reportable_condition",
    "measure",
    "concern",
    "referral",
    "study",
    "reason",
    "consult_request",
    "service",
    "claim",
    "sensitivity_release_authorized",
];

/// Every top-level claim this model reads; `must_understand` may name only these.
pub const UNDERSTOOD_CLAIMS: [&str; 19] = [
    "iss",
    "aud",
    "aud_type",
    "exp",
    "iat",
    "nbf",
    "jti",
    "ticket_type",
    "presenter_binding",
    "revocation",
    "must_understand",
    "subject",
    "requester",
    "access",
    "context",
    "continuation",
    "subject_identity_evidence",
    "requester_identity_evidence",
    "delegable",
];

impl PermissionTicket {
    pub fn from_claims(claims: &Map<String, Value>) -> Result<Self, TicketError> {
        let mut rest = claims.clone();
        let mut take = |name: &str| rest.remove(name);

        let iss = required_string(take("iss"), "iss")?;
        clean_origin(&iss).map_err(|why| invalid("iss", why))?;
        let jti = required_string(take("jti"), "jti")?;
        let ticket_type =
            TicketType::from_uri(&required_string(take("ticket_type"), "ticket_type")?);
        let exp = required(take("exp"), "exp").and_then(|v| numeric_date(v, "exp"))?;
        let iat = take("iat").map(|v| numeric_date(v, "iat")).transpose()?;
        let nbf = take("nbf").map(|v| numeric_date(v, "nbf")).transpose()?;

        let aud = match required(take("aud"), "aud")? {
            Value::String(s) => vec![s],
            Value::Array(items) if !items.is_empty() => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(invalid("aud", "every audience must be a string")),
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(invalid(
                    "aud",
                    "must be a string or a non-empty list of strings",
                ));
            }
        };
        let aud_type = match take("aud_type") {
            None => AudienceType::DataHolderUrl,
            Some(Value::String(s)) if s == "data_holder_url" => AudienceType::DataHolderUrl,
            Some(Value::String(s)) if s == "trust_framework" => AudienceType::TrustFramework,
            Some(v) => return Err(invalid("aud_type", &format!("unknown value {v}"))),
        };

        let presenter_binding = typed(take("presenter_binding"), "presenter_binding")?;
        let revocation = typed(take("revocation"), "revocation")?;
        let must_understand: Vec<String> =
            typed(take("must_understand"), "must_understand")?.unwrap_or_default();
        let continuation = match take("continuation") {
            None => None,
            Some(Value::Object(m)) => Some(Continuation {
                refresh_until: match m.get("refresh_until") {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(numeric_date(v.clone(), "continuation.refresh_until")?),
                },
            }),
            Some(_) => return Err(invalid("continuation", "must be an object")),
        };
        let subject_identity_evidence = typed(
            take("subject_identity_evidence"),
            "subject_identity_evidence",
        )?;
        let requester_identity_evidence = typed(
            take("requester_identity_evidence"),
            "requester_identity_evidence",
        )?;

        let subject = parse_subject(required(take("subject"), "subject")?)?;
        let requester = take("requester").map(parse_requester).transpose()?;

        let context = take("context");
        let access_value = required(take("access"), "access")?;
        let generation = if context.is_some()
            || !must_understand.is_empty()
            || access_value.get("permissions").is_some()
        {
            Generation::Seed
        } else {
            Generation::Current
        };
        let access = parse_access(access_value)?;

        let mut facts = BTreeMap::new();
        match context {
            None => {}
            Some(Value::Object(m)) => facts.extend(m),
            Some(_) => return Err(invalid("context", "must be an object")),
        }
        for name in PROFILE_CLAIMS {
            if let Some(v) = rest.remove(name) {
                facts.insert(name.to_string(), v);
            }
        }

        Ok(Self {
            iss,
            aud,
            aud_type,
            exp,
            iat,
            nbf,
            jti,
            ticket_type,
            presenter_binding,
            revocation,
            must_understand,
            subject,
            requester,
            access,
            facts,
            continuation,
            subject_identity_evidence,
            requester_identity_evidence,
            generation,
            other_claims: rest.into_iter().collect(),
        })
    }

    /// A fact such as `reportable_condition`, read as a CodeableConcept when it is one.
    pub fn fact_concept(&self, name: &str) -> Option<CodeableConcept> {
        self.facts
            .get(name)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }
}

/// An issuer is an http(s) URL with nothing before its host and no query or
/// fragment: `https://trusted.example@evil.example` must not read as
/// `trusted.example`, and the key set URL is built by appending to it.
fn clean_origin(iss: &str) -> Result<(), &'static str> {
    let rest = iss
        .strip_prefix("https://")
        .or_else(|| iss.strip_prefix("http://"))
        .ok_or("must be an https URL")?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() {
        return Err("must name a host");
    }
    if host.contains('@') {
        return Err("must not carry a user name or password before the host (`@`)");
    }
    if rest.contains(['?', '#']) {
        return Err("must not carry a query or a fragment");
    }
    if rest.contains(|c: char| c.is_whitespace() || c.is_control() || c == '\\') {
        return Err("must not contain spaces, control characters or backslashes");
    }
    Ok(())
}

fn invalid(claim: &str, reason: &str) -> TicketError {
    TicketError::InvalidClaim {
        claim: claim.to_string(),
        reason: reason.to_string(),
    }
}

fn required(v: Option<Value>, name: &'static str) -> Result<Value, TicketError> {
    match v {
        None | Some(Value::Null) => Err(TicketError::MissingClaim(name)),
        Some(v) => Ok(v),
    }
}

fn required_string(v: Option<Value>, name: &'static str) -> Result<String, TicketError> {
    match required(v, name)? {
        Value::String(s) if !s.is_empty() => Ok(s),
        _ => Err(invalid(name, "must be a non-empty string")),
    }
}

fn numeric_date(v: Value, name: &str) -> Result<i64, TicketError> {
    match &v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .ok_or_else(|| invalid(name, "must be a NumericDate (seconds since 1970)")),
        _ => Err(invalid(name, "must be a NumericDate (seconds since 1970)")),
    }
}

fn typed<T: DeserializeOwned>(v: Option<Value>, name: &str) -> Result<Option<T>, TicketError> {
    v.map(|v| serde_json::from_value(v).map_err(|e| invalid(name, &e.to_string())))
        .transpose()
}

fn parse_subject(v: Value) -> Result<Subject, TicketError> {
    let Value::Object(mut m) = v else {
        return Err(invalid("subject", "must be an object"));
    };
    let patient = match m.remove("patient") {
        Some(p @ Value::Object(_)) => {
            serde_json::from_value(p).map_err(|e| invalid("subject.patient", &e.to_string()))?
        }
        _ => {
            return Err(invalid(
                "subject",
                "must carry the patient's demographics in `patient`",
            ));
        }
    };
    let patient_reference = typed(m.remove("patient_reference"), "subject.patient_reference")?;
    Ok(Subject {
        patient,
        patient_reference,
        recipient_record: m.remove("recipient_record"),
    })
}

fn parse_requester(v: Value) -> Result<Requester, TicketError> {
    let resource_type = v
        .get("resourceType")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("requester", "must be a FHIR resource with a `resourceType`"))?
        .to_string();
    let relationship: Vec<CodeableConcept> = v
        .get("relationship")
        .map(|r| serde_json::from_value(r.clone()).unwrap_or_default())
        .unwrap_or_default();
    let identifier: Vec<Identifier> = v
        .get("identifier")
        .map(|r| serde_json::from_value(r.clone()).unwrap_or_default())
        .unwrap_or_default();
    Ok(Requester {
        resource_type,
        display_name: crate::fhir::resource_display_name(&v),
        relationship: relationship.into_iter().flat_map(|c| c.coding).collect(),
        identifier,
        resource: v,
    })
}

fn parse_access(v: Value) -> Result<Access, TicketError> {
    let Value::Object(mut m) = v else {
        return Err(invalid("access", "must be an object"));
    };
    let smart_scopes = typed(m.remove("smart_scopes"), "access.smart_scopes")?.unwrap_or_default();
    let permissions = typed(m.remove("permissions"), "access.permissions")?.unwrap_or_default();
    let fhir_resources =
        typed(m.remove("fhir_resources"), "access.fhir_resources")?.unwrap_or_default();
    let data_period = typed(m.remove("data_period"), "access.data_period")?;
    let sensitive_data = typed(m.remove("sensitive_data"), "access.sensitive_data")?;
    let claim_linkage = m.remove("claim_linkage");
    let data_holder_filter = match m.remove("data_holder_filter") {
        None => Vec::new(),
        Some(Value::Array(items)) if !items.is_empty() => items
            .into_iter()
            .map(parse_holder_filter)
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(invalid(
                "access.data_holder_filter",
                "must be a non-empty list",
            ));
        }
    };
    Ok(Access {
        smart_scopes,
        permissions,
        fhir_resources,
        data_period,
        data_holder_filter,
        sensitive_data,
        claim_linkage,
        other: m.into_iter().collect(),
    })
}

fn parse_holder_filter(v: Value) -> Result<DataHolderFilter, TicketError> {
    let claim = "access.data_holder_filter";
    match v.get("kind").and_then(Value::as_str) {
        Some("jurisdiction") => {
            let addr = v.get("address").cloned().unwrap_or(Value::Null);
            let field = |k: &str| addr.get(k).and_then(Value::as_str).map(str::to_string);
            Ok(DataHolderFilter::Jurisdiction {
                country: field("country"),
                state: field("state"),
            })
        }
        Some("organization") => {
            // Seed: one Organization resource. Newer: a list of References.
            let orgs = match v.get("organization") {
                Some(Value::Array(refs)) => refs.iter().map(org_from_reference).collect(),
                Some(org @ Value::Object(_)) => vec![OrganizationRef {
                    display: crate::fhir::resource_display_name(org),
                    identifier: org
                        .get("identifier")
                        .and_then(|i| serde_json::from_value(i.clone()).ok())
                        .unwrap_or_default(),
                }],
                _ => {
                    return Err(invalid(
                        claim,
                        "an organization filter must name organizations",
                    ));
                }
            };
            Ok(DataHolderFilter::Organization {
                organizations: orgs,
            })
        }
        _ => Err(invalid(
            claim,
            "each entry must have kind `jurisdiction` or `organization`",
        )),
    }
}

fn org_from_reference(r: &Value) -> OrganizationRef {
    OrganizationRef {
        display: r.get("display").and_then(Value::as_str).map(str::to_string),
        identifier: r
            .get("identifier")
            .and_then(|i| serde_json::from_value(i.clone()).ok())
            .into_iter()
            .collect(),
    }
}
