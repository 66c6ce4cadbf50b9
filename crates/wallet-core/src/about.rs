//! What this build is and where it keeps things: `tw --version`, `tw about`
//! and the app's About section.

use serde::Serialize;
use ts_rs::TS;

use crate::WalletOptions;

/// The version and the commit it was built from.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("TW_COMMIT"), ")");

/// The specifications this build speaks, newest understanding first.
pub const SPECIFICATIONS: &[&str] = &[
    "SMART Permission Tickets, the draft of August 2026 (smart_scopes, continuation, patient_reference), and tickets of the seven seed types",
    "Proposal 001: confirming the patient at the data holder (interaction_required)",
    "Proposal 003: getting tickets from an issuer through a SMART launch",
    "OAuth 2.0 Token Exchange (RFC 8693), DPoP (RFC 9449), Dynamic Client Registration (RFC 7591), PKCE (RFC 7636), JWT client authentication (RFC 7523)",
    "SMART App Launch 2 discovery (.well-known/smart-configuration), FHIR R4",
];

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct About {
    pub version: String,
    pub specifications: Vec<String>,
    pub profile: String,
    /// The profile's folder: ticket index, holders, the encrypted records.
    pub data_dir: String,
    /// Where the profile's log files are written.
    pub log_dir: Option<String>,
}

impl About {
    pub fn of(opts: &WalletOptions) -> Self {
        Self {
            version: VERSION.to_string(),
            specifications: SPECIFICATIONS.iter().map(|s| s.to_string()).collect(),
            profile: opts.profile.clone(),
            data_dir: opts.data_dir.join(&opts.profile).display().to_string(),
            log_dir: crate::logging::log_dir(opts).map(|d| d.display().to_string()),
        }
    }
}
