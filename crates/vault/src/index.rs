//! The ticket index: a plain file listing what is in the keyring, so the list
//! shows without unlocking every entry. It holds no secrets and no patient
//! details: the ticket (with the patient's demographics) lives in the keyring.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::VaultError;

/// One ticket, as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketRecord {
    pub jti: String,
    pub ticket_type: String,
    pub issuer: String,
    pub expires_at: i64,
    pub added_at: i64,
    /// Where it came from: `paste`, `file`, `link`, `cli`, ...
    pub source: String,
    /// Its signature was checked against its issuer's keys. `false` while
    /// the keys could not be fetched yet: such a ticket is checked again
    /// before it is presented anywhere.
    #[serde(default = "verified_before_this_was_kept")]
    pub verified: bool,
}

/// Index files from before `verified` hold only tickets that were verified
/// or kept unverified alike; the wallet checks every ticket again when it
/// lists them, so they are taken as verified here.
fn verified_before_this_was_kept() -> bool {
    true
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct IndexFile {
    version: u32,
    tickets: Vec<TicketRecord>,
}

pub(crate) struct Index {
    path: PathBuf,
}

impl Index {
    pub fn new(dir: &Path) -> Self {
        Self {
            path: dir.join("tickets.json"),
        }
    }

    pub fn load(&self) -> Result<Vec<TicketRecord>, VaultError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.dir_error(e)),
        };
        let file: IndexFile =
            serde_json::from_str(&text).map_err(|e| VaultError::DamagedIndex {
                path: self.path.display().to_string(),
                reason: e.to_string(),
            })?;
        Ok(file.tickets)
    }

    /// Writes atomically: a crash leaves the old index or the new, never half.
    pub fn store(&self, tickets: &[TicketRecord]) -> Result<(), VaultError> {
        let file = IndexFile {
            version: 1,
            tickets: tickets.to_vec(),
        };
        let text = serde_json::to_vec_pretty(&file).map_err(|e| self.dir_error(e))?;
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(|e| self.dir_error(e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| self.dir_error(e))
    }

    fn dir_error(&self, e: impl std::fmt::Display) -> VaultError {
        VaultError::DataDir {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        }
    }
}
