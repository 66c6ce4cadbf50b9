//! The data holders a wallet knows: added by their FHIR base URL (or from an
//! issuer's hints), discovered through `.well-known/smart-configuration`, and
//! given a client identity (dynamic registration, or a client id the user enters).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::WalletError;
use crate::http::Http;

pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const MAX_CONFIG_BYTES: usize = 256 * 1024;

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
    /// The holder's FHIR Organization when an issuer's hint named it: its
    /// identifiers and address decide `data_holder_filter`.
    #[serde(default)]
    pub organization: Option<serde_json::Value>,
    /// Tickets an issuer said are for this holder (`ticket_indices`); empty: any whose `aud` fits.
    #[serde(default)]
    pub hinted_tickets: Vec<String>,
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
            organization: None,
            hinted_tickets: Vec::new(),
        }
    }
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
    let config: SmartConfig = serde_json::from_slice(&body).map_err(|e| WalletError::Fetch {
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
    out
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
}
