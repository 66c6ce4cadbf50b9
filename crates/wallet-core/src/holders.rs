//! The data holders a wallet knows: added by their FHIR base URL (or from an
//! issuer's hints), discovered through `.well-known/smart-configuration`, and
//! given a client identity (dynamic registration, or a client id the user enters).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::WalletError;
use crate::http::Http;

pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub(crate) const MAX_CONFIG_BYTES: usize = 256 * 1024;

/// A holder as the wallet keeps it (non-secret).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct HolderRecord {
    pub fhir_base: String,
    pub name: Option<String>,
    /// The client id this wallet has at the holder, when it has one.
    pub client_id: Option<String>,
    /// `registered` (dynamic registration) or `entered` (by the user).
    pub client_id_source: Option<String>,
    /// The redirect URI registered for the interaction fallback.
    pub redirect_uri: Option<String>,
    #[ts(type = "number")]
    pub added_at: i64,
    /// Who introduced it; files written before this was kept have none (see [`HolderRecord::added_by`]).
    #[serde(default)]
    pub added_by: Option<AddedBy>,
    /// The holder's FHIR Organization as the issuer that introduced it named
    /// it: its identifiers and address decide `data_holder_filter`.
    #[serde(default)]
    pub organization: Option<serde_json::Value>,
    /// Every issuer whose hint named this holder, with the tickets it meant for it.
    #[serde(default)]
    pub hints: Vec<IssuerHint>,
}

/// Who put a holder on the wallet's list. Tickets for a trust framework (no
/// `data_holder_url` audience) go only to holders the person added or the
/// ticket's own issuer named: anyone can name a holder, and such a ticket
/// would otherwise carry the patient's details to whatever was named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum AddedBy {
    /// Added by its address, by the person.
    Person,
    /// Introduced by this issuer's hint during onboarding.
    Issuer { issuer: String },
    /// Kept by an older version that did not say: trusted like an issuer's
    /// hint from nobody in particular, until the person adds it again.
    Unknown,
}

/// What one issuer said about a holder (Proposal 003 `smart_permission_ticket_endpoints`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct IssuerHint {
    pub issuer: String,
    /// The `jti`s of that issuer's tickets meant for this holder (`ticket_indices`);
    /// empty: any of its tickets whose `aud` covers the holder.
    pub tickets: Vec<String>,
}

impl HolderRecord {
    pub fn new(fhir_base: String) -> Self {
        Self {
            fhir_base,
            name: None,
            client_id: None,
            client_id_source: None,
            redirect_uri: None,
            added_at: crate::wallet::now(),
            added_by: Some(AddedBy::Person),
            organization: None,
            hints: Vec::new(),
        }
    }

    /// Who introduced this holder. A record from an older version without an
    /// organization was added by address; one with an organization came from a
    /// hint whose issuer was not kept.
    pub fn added_by(&self) -> AddedBy {
        match &self.added_by {
            Some(a) => a.clone(),
            None if self.organization.is_none() => AddedBy::Person,
            None => AddedBy::Unknown,
        }
    }

    fn hint_from(&self, issuer: &str) -> Option<&IssuerHint> {
        self.hints.iter().find(|h| same_issuer(&h.issuer, issuer))
    }

    /// Why this holder may not be shown `ticket`, for reasons of who introduced
    /// the holder and what the ticket's issuer said about it, if it may not.
    pub fn refuses(&self, ticket: &permission_ticket::PermissionTicket) -> Option<String> {
        use permission_ticket::model::AudienceType;
        let hint = self.hint_from(&ticket.iss);
        if hint.is_some_and(|h| !h.tickets.is_empty() && !h.tickets.contains(&ticket.jti)) {
            return Some("its issuer gave other tickets for this holder".into());
        }
        if ticket.aud_type != AudienceType::DataHolderUrl
            && self.added_by() != AddedBy::Person
            && hint.is_none()
        {
            return Some(format!(
                "the ticket is for any holder in {}, and this holder was neither added by you nor named by the ticket's issuer: add it yourself to use the ticket here",
                ticket.aud.join(", ")
            ));
        }
        None
    }
}

/// Issuer URLs compared as the wallet keeps them (no trailing slash).
pub fn same_issuer(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// What a holder's `.well-known/smart-configuration` says, in the parts the wallet uses.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SmartConfig {
    pub token_endpoint: String,
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    #[serde(default)]
    pub registration_endpoint: Option<String>,
    #[serde(default)]
    pub grant_types_supported: Vec<String>,
    #[serde(default)]
    pub smart_permission_ticket_types_supported: Vec<String>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    #[serde(default)]
    pub token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    pub dpop_signing_alg_values_supported: Vec<String>,
}

impl SmartConfig {
    pub fn token_exchange(&self) -> bool {
        self.grant_types_supported
            .iter()
            .any(|g| g == TOKEN_EXCHANGE)
    }
    pub fn dpop(&self) -> bool {
        self.dpop_signing_alg_values_supported
            .iter()
            .any(|a| a == "ES256")
    }
}

/// What the UI and `tw holder list` show about a holder.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct HolderView {
    pub fhir_base: String,
    pub name: Option<String>,
    pub client_id: Option<String>,
    pub reachable: bool,
    pub token_exchange: bool,
    pub ticket_types: Vec<String>,
    pub auth_methods: Vec<String>,
    pub dpop: bool,
    pub authorize: bool,
    pub registration: bool,
    /// Why tickets cannot be used here, if they cannot.
    pub problems: Vec<String>,
    pub added_by: AddedBy,
    /// Each kept ticket, and whether it can be presented here.
    pub tickets: Vec<HolderTicket>,
    /// How the last sync went here, per ticket (empty before the first).
    pub last_sync: Vec<crate::store::LastOutcome>,
}

/// Whether one kept ticket can be presented at a holder.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct HolderTicket {
    pub jti: String,
    pub label: String,
    /// Why it cannot be presented here; empty: it can.
    pub problems: Vec<String>,
}

pub fn normalise_base(url: &str) -> Result<String, WalletError> {
    let parsed = url::Url::parse(url.trim())
        .map_err(|e| WalletError::Invalid(format!("`{url}` is not a URL: {e}")))?;
    crate::http::check_url(&parsed).map_err(WalletError::Invalid)?;
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

pub async fn discover(http: &Http, fhir_base: &str) -> Result<SmartConfig, WalletError> {
    let url = format!("{fhir_base}/.well-known/smart-configuration");
    let body = http.get_bytes(&url, MAX_CONFIG_BYTES).await?;
    parse_config(&url, &body)
}

/// The holder's name for itself, from its CapabilityStatement
/// (`[base]/metadata`): the implementation's description, else the title,
/// publisher or name. Best effort: a holder that does not say has no name
/// until the person gives one.
pub async fn own_name(http: &Http, fhir_base: &str) -> Option<String> {
    let body = http
        .get_bytes(&format!("{fhir_base}/metadata"), MAX_METADATA_BYTES)
        .await
        .ok()?;
    name_in_capability_statement(&body)
}

const MAX_METADATA_BYTES: usize = 4 * 1024 * 1024;

pub fn name_in_capability_statement(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    if v["resourceType"] != "CapabilityStatement" {
        return None;
    }
    [
        &v["implementation"]["description"],
        &v["title"],
        &v["publisher"],
        &v["name"],
    ]
    .into_iter()
    .filter_map(|n| n.as_str())
    .map(|n| {
        n.chars()
            .filter(|c| !c.is_control())
            .take(120)
            .collect::<String>()
            .trim()
            .to_string()
    })
    .find(|n| !n.is_empty())
}

/// Reads a holder's SMART configuration, as fetched from `url`.
pub fn parse_config(url: &str, body: &[u8]) -> Result<SmartConfig, WalletError> {
    let url = url.to_string();
    let config: SmartConfig = serde_json::from_slice(body).map_err(|e| WalletError::Fetch {
        url: url.clone(),
        reason: format!("not a SMART configuration: {e}"),
    })?;
    crate::http::check_url(&url::Url::parse(&config.token_endpoint).map_err(|e| {
        WalletError::Fetch {
            url: url.clone(),
            reason: format!("token_endpoint is not a URL: {e}"),
        }
    })?)
    .map_err(|reason| WalletError::Fetch { url, reason })?;
    Ok(config)
}

pub fn view(record: &HolderRecord, config: Result<&SmartConfig, &WalletError>) -> HolderView {
    let mut v = HolderView {
        fhir_base: record.fhir_base.clone(),
        name: record.name.clone(),
        client_id: record.client_id.clone(),
        reachable: config.is_ok(),
        token_exchange: false,
        ticket_types: Vec::new(),
        auth_methods: Vec::new(),
        dpop: false,
        authorize: false,
        registration: false,
        problems: Vec::new(),
        added_by: record.added_by(),
        tickets: Vec::new(),
        last_sync: Vec::new(),
    };
    match config {
        Ok(c) => {
            v.token_exchange = c.token_exchange();
            v.ticket_types = c.smart_permission_ticket_types_supported.clone();
            v.auth_methods = c.token_endpoint_auth_methods_supported.clone();
            v.dpop = c.dpop();
            v.authorize = c.authorization_endpoint.is_some();
            v.registration = c.registration_endpoint.is_some();
            if !v.token_exchange {
                v.problems
                    .push("does not accept Permission Tickets (no token exchange)".into());
            }
            if record.client_id.is_none() && !v.registration {
                v.problems
                    .push("offers no registration: enter a client id for it".into());
            }
        }
        Err(e) => v.problems.push(format!("not reachable: {e}")),
    }
    v
}

/// Why a ticket cannot be used at a holder (empty: it can be tried).
pub fn ticket_problems(
    ticket: &permission_ticket::PermissionTicket,
    holder: &HolderRecord,
    config: &SmartConfig,
) -> Vec<String> {
    let fhir_base = holder.fhir_base.as_str();
    use permission_ticket::model::AudienceType;
    let mut out = Vec::new();
    if !config.smart_permission_ticket_types_supported.is_empty()
        && !config
            .smart_permission_ticket_types_supported
            .contains(&ticket.ticket_type.uri())
    {
        out.push(format!(
            "does not accept {} tickets",
            ticket.ticket_type.label()
        ));
    }
    if ticket.aud_type == AudienceType::DataHolderUrl {
        let origin = url::Url::parse(fhir_base)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        let covers = ticket.aud.iter().any(|a| {
            let a = a.trim_end_matches('/');
            a == fhir_base || a == origin || fhir_base.starts_with(&format!("{a}/"))
        });
        if !covers {
            out.push(format!(
                "the ticket is for {}, not this holder",
                ticket.aud.join(", ")
            ));
        }
    }
    if let Some(why) = filter_excludes(&ticket.access.data_holder_filter, holder) {
        out.push(why);
    }
    if let Some(why) = holder.refuses(ticket) {
        out.push(why);
    }
    out
}

/// `existing` updated with what `update` says, as far as whoever sent
/// `update` may change it: the person may change anything, and adding a holder
/// by hand makes it theirs; an issuer's hint replaces only that issuer's own
/// hint, and the name and organization only of a holder that issuer introduced.
pub fn merge_into(existing: &mut HolderRecord, update: HolderRecord) {
    match update.added_by() {
        AddedBy::Person => {
            existing.added_by = Some(AddedBy::Person);
            if update.name.is_some() {
                existing.name = update.name;
            }
        }
        AddedBy::Issuer { issuer } => {
            let introduced_it = matches!(existing.added_by(), AddedBy::Issuer { issuer: i } if same_issuer(&i, &issuer));
            if introduced_it {
                if update.name.is_some() {
                    existing.name = update.name;
                }
                if update.organization.is_some() {
                    existing.organization = update.organization;
                }
            }
            existing.hints.retain(|h| !same_issuer(&h.issuer, &issuer));
            existing.hints.extend(
                update
                    .hints
                    .into_iter()
                    .filter(|h| same_issuer(&h.issuer, &issuer)),
            );
        }
        AddedBy::Unknown => {}
    }
}

/// Why `data_holder_filter` rules this holder out, when the wallet knows
/// enough about the holder to tell. Entries combine by OR; with nothing known
/// about the holder the wallet tries, and the holder decides.
pub fn filter_excludes(
    filters: &[permission_ticket::model::DataHolderFilter],
    holder: &HolderRecord,
) -> Option<String> {
    use permission_ticket::model::DataHolderFilter;
    let org = holder.organization.as_ref()?;
    if filters.is_empty() {
        return None;
    }
    let ids: Vec<(String, String)> = org["identifier"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            (
                i["system"].as_str().unwrap_or_default().to_string(),
                i["value"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let name = org["name"].as_str().unwrap_or_default();
    let addresses: Vec<&serde_json::Value> =
        org["address"].as_array().into_iter().flatten().collect();
    let mut described = Vec::new();
    for f in filters {
        match f {
            DataHolderFilter::Organization { organizations } => {
                for o in organizations {
                    let by_id = o.identifier.iter().any(|i| {
                        ids.iter().any(|(s, v)| {
                            Some(s.as_str()) == i.system.as_deref()
                                && Some(v.as_str()) == i.value.as_deref()
                        })
                    });
                    let by_name = o.identifier.is_empty()
                        && o.display
                            .as_deref()
                            .is_some_and(|d| !name.is_empty() && d.eq_ignore_ascii_case(name));
                    if by_id || by_name {
                        return None;
                    }
                    described.push(
                        o.display
                            .clone()
                            .unwrap_or_else(|| "a named organization".into()),
                    );
                }
            }
            DataHolderFilter::Jurisdiction { country, state } => {
                if addresses.is_empty() {
                    // No address known: this entry cannot rule the holder out.
                    return None;
                }
                let fits = |field: &str, want: &Option<String>| {
                    want.as_ref().is_none_or(|w| {
                        addresses
                            .iter()
                            .any(|a| a[field].as_str().is_some_and(|v| v.eq_ignore_ascii_case(w)))
                    })
                };
                if fits("country", country) && fits("state", state) {
                    return None;
                }
                described.push(format!(
                    "holders in {}",
                    [state.clone(), country.clone()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    Some(format!(
        "the ticket's data holder filter leaves this holder out (it allows {})",
        described.join(" or ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    use permission_ticket::model::DataHolderFilter;
    use serde_json::json;

    #[test]
    fn a_holder_is_named_from_its_capability_statement() {
        let name = |v: serde_json::Value| name_in_capability_statement(v.to_string().as_bytes());
        let cs = |extra: serde_json::Value| {
            let mut v = serde_json::json!({"resourceType": "CapabilityStatement"});
            if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
                o.extend(e.clone());
            }
            v
        };
        assert_eq!(
            name(cs(
                serde_json::json!({"implementation": {"description": "Lakeside Clinic"}, "title": "Server"})
            )),
            Some("Lakeside Clinic".into())
        );
        assert_eq!(
            name(cs(
                serde_json::json!({"title": " ", "publisher": "Riverside Labs"})
            )),
            Some("Riverside Labs".into())
        );
        assert_eq!(
            name(cs(serde_json::json!({"name": "Evil\u{1b}[2J Clinic"}))),
            Some("Evil[2J Clinic".into())
        );
        assert_eq!(name(cs(serde_json::json!({}))), None);
        assert_eq!(
            name(serde_json::json!({"resourceType": "Patient", "name": "x"})),
            None
        );
        assert_eq!(name_in_capability_statement(b"not json"), None);
    }

    fn holder(org: serde_json::Value) -> HolderRecord {
        let mut h = HolderRecord::new("https://h.example/fhir".into());
        h.organization = Some(org);
        h
    }

    fn org_filter(system: &str, value: &str) -> DataHolderFilter {
        let o = permission_ticket::model::OrganizationRef {
            display: Some("Springfield General".into()),
            identifier: vec![permission_ticket::fhir::Identifier {
                system: Some(system.into()),
                value: Some(value.into()),
            }],
        };
        DataHolderFilter::Organization {
            organizations: vec![o],
        }
    }

    #[test]
    fn data_holder_filter_decides_only_on_what_is_known() {
        let npi = "http://hl7.org/fhir/sid/us-npi";
        let springfield = holder(
            json!({ "name": "Springfield General", "identifier": [{ "system": npi, "value": "111" }],
                                         "address": [{ "state": "IL", "country": "US" }] }),
        );
        // The same NPI: in. Another NPI: out, with the allowed one named.
        assert_eq!(
            filter_excludes(&[org_filter(npi, "111")], &springfield),
            None
        );
        let out = filter_excludes(&[org_filter(npi, "222")], &springfield).unwrap_or_default();
        assert!(out.contains("Springfield General"), "{out}");
        // Entries combine by OR: a matching jurisdiction lets it in.
        let illinois = DataHolderFilter::Jurisdiction {
            country: Some("US".into()),
            state: Some("IL".into()),
        };
        assert_eq!(
            filter_excludes(&[org_filter(npi, "222"), illinois], &springfield),
            None
        );
        let texas = DataHolderFilter::Jurisdiction {
            country: Some("US".into()),
            state: Some("TX".into()),
        };
        assert!(
            filter_excludes(std::slice::from_ref(&texas), &springfield)
                .is_some_and(|m| m.contains("TX"))
        );
        // Nothing known about the holder: the wallet tries and the holder decides.
        assert_eq!(
            filter_excludes(
                &[texas],
                &HolderRecord::new("https://x.example/fhir".into())
            ),
            None
        );
    }

    #[test]
    fn an_issuers_hint_changes_only_what_that_issuer_introduced() {
        let hint = |issuer: &str, name: &str| {
            let mut h = HolderRecord::new("https://h.example/fhir".into());
            h.added_by = Some(AddedBy::Issuer {
                issuer: issuer.into(),
            });
            h.name = Some(name.into());
            h.hints = vec![IssuerHint {
                issuer: issuer.into(),
                tickets: vec![format!("{name}-ticket")],
            }];
            h
        };
        // The person's holder keeps its name; the hint is noted for that issuer's tickets only.
        let mut mine = HolderRecord::new("https://h.example/fhir".into());
        mine.name = Some("My clinic".into());
        merge_into(&mut mine, hint("https://e.example", "Evil"));
        assert_eq!(mine.name.as_deref(), Some("My clinic"));
        assert_eq!(mine.added_by(), AddedBy::Person);
        // An issuer may rename what it introduced, not what another issuer did.
        let mut theirs = hint("https://t.example", "Trusted");
        merge_into(&mut theirs, hint("https://e.example", "Evil"));
        assert_eq!(theirs.name.as_deref(), Some("Trusted"));
        assert_eq!(theirs.hints.len(), 2);
        merge_into(&mut theirs, hint("https://t.example/", "Renamed"));
        assert_eq!(theirs.name.as_deref(), Some("Renamed"));
        assert_eq!(
            theirs.hints.len(),
            2,
            "an issuer's new hint replaces its old one"
        );
        // Adding it by hand makes it the person's.
        merge_into(
            &mut theirs,
            HolderRecord::new("https://h.example/fhir".into()),
        );
        assert_eq!(theirs.added_by(), AddedBy::Person);
    }

    #[test]
    fn records_from_older_versions_keep_hinted_holders_closed() {
        let by_hand: HolderRecord = serde_json::from_value(json!({
            "fhir_base": "https://a.example/fhir", "name": null, "client_id": "c",
            "client_id_source": "registered", "redirect_uri": null, "added_at": 1 }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(by_hand.added_by(), AddedBy::Person);
        let hinted: HolderRecord = serde_json::from_value(json!({
            "fhir_base": "https://b.example/fhir", "name": "B", "client_id": "c",
            "client_id_source": "registered", "redirect_uri": null, "added_at": 1,
            "organization": { "name": "B" }, "hinted_tickets": ["x"] }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(hinted.added_by(), AddedBy::Unknown);
    }
}
