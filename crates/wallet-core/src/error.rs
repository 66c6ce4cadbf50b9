//! One error type for everything above the format and the vault, each with a
//! stable `code` the UI and scripts can act on and a message a person reads.

use permission_ticket::TicketError;
use serde::Serialize;
use thiserror::Error;
use vault::VaultError;

#[derive(Debug, Error)]
pub enum WalletError {
    #[error("{0}")]
    Ticket(#[from] TicketError),
    #[error("this ticket cannot be added: {0}")]
    Unusable(TicketError),
    #[error("{0}")]
    Vault(#[from] VaultError),
    #[error("{url}: {reason}")]
    Fetch { url: String, reason: String },
    #[error(
        "no ticket found in the text: paste the ticket itself (three base64url parts joined by dots) or a ticket link"
    )]
    NoTicketFound,
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
}

impl WalletError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Ticket(_) => "malformed_ticket",
            Self::Unusable(e) => match e {
                TicketError::Expired { .. } => "ticket_expired",
                TicketError::Revoked => "ticket_revoked",
                TicketError::SignatureMismatch { .. } | TicketError::UnknownKey { .. } => {
                    "bad_signature"
                }
                TicketError::AlgorithmRefused { .. } => "algorithm_refused",
                TicketError::BoundToOtherKey { .. }
                | TicketError::BoundToFrameworkClient { .. } => "bound_elsewhere",
                TicketError::MustUnderstand { .. } => "must_understand",
                TicketError::KeysUnavailable { .. } => "issuer_keys_unavailable",
                _ => "ticket_unusable",
            },
            Self::Vault(e) => e.code(),
            Self::Fetch { .. } => "network",
            Self::NoTicketFound => "no_ticket_found",
            Self::Invalid(_) => "invalid_input",
            Self::Store(e) => e.code(),
        }
    }

    pub fn to_payload(&self) -> ErrorPayload {
        ErrorPayload {
            code: self.code().to_string(),
            message: self.to_string(),
        }
    }
}

/// What the UI receives for any failed command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct ErrorPayload {
    pub code: String,
    pub message: String,
}
