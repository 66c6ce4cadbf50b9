//! The ticket workbench: a copy of a kept ticket with its claims edited by a
//! tester, signed with a test issuer key and kept as a test ticket. Test
//! tickets are listed as such, never chosen by an ordinary sync or by the
//! check's default, and presented only where a tester names them
//! (`tw sync --ticket`, `tw check --ticket`).

use serde_json::{Map, Value};

use super::IssuerKey;
use crate::view::TicketSummary;
use crate::{Wallet, WalletError};

/// The `source` a test ticket is kept with.
pub const TEST_SOURCE: &str = "workbench";

impl Wallet {
    /// Signs `claims` (a JSON object: the whole claim set) with `key`, in the
    /// header of the ticket `from`, and keeps it as a test ticket. An
    /// unchanged `jti` is replaced, so the copy never stands for the original.
    pub fn keep_test_ticket(
        &self,
        from: &str,
        claims: &str,
        key: &IssuerKey,
    ) -> Result<TicketSummary, WalletError> {
        let original = self.ticket_text(from)?;
        let mut edited: Map<String, Value> = serde_json::from_str(claims).map_err(|e| {
            WalletError::Invalid(format!("the claims must be one JSON object: {e}"))
        })?;
        if edited
            .get("jti")
            .and_then(Value::as_str)
            .is_none_or(|j| j == from)
        {
            edited.insert("jti".into(), uuid::Uuid::new_v4().to_string().into());
        }
        let text = key.resign(&original, |c| *c = edited)?;
        // Still a ticket this wallet can read, whatever was changed.
        let decoded = permission_ticket::decode(&text)?;
        let t = &decoded.ticket;
        let outcome = self.vault().save_ticket(
            vault::TicketRecord {
                jti: t.jti.clone(),
                ticket_type: t.ticket_type.uri(),
                issuer: t.iss.clone(),
                expires_at: t.exp,
                added_at: crate::wallet::now(),
                source: TEST_SOURCE.into(),
                verified: false,
            },
            &text,
        )?;
        // Tickets are kept by jti: a copy with a kept ticket's jti would be
        // that ticket in every list and sync, so it is refused.
        if outcome == vault::SaveOutcome::AlreadyPresent {
            return Err(WalletError::Invalid(format!(
                "a ticket with the jti {} is already kept: give the copy its own jti, or leave jti out for a new one",
                t.jti
            )));
        }
        self.list()?
            .into_iter()
            .find(|s| s.jti == t.jti)
            .ok_or_else(|| WalletError::Invalid("the test ticket was not kept".into()))
    }
}
