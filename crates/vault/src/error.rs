use thiserror::Error;

#[derive(Debug, Error)]
pub enum VaultError {
    #[error(
        "the keyring is locked or refused access ({0}): unlock it and try again, or set TW_KEYRING=keyutils to use the kernel keyring, which forgets everything at restart"
    )]
    Locked(String),
    #[error("no keyring is available on this system: {0}")]
    NoKeyring(String),
    #[error("the keyring failed: {0}")]
    Keyring(String),
    #[error("the wallet's signing key in the keyring is damaged ({0}); it was left untouched")]
    DamagedKey(String),
    #[error("ticket {0} is not in this wallet")]
    NoSuchTicket(String),
    #[error("ticket {jti} is listed but its secret is missing from the keyring")]
    MissingSecret { jti: String },
    #[error("the ticket is too large for this keyring ({0})")]
    TooLarge(String),
    #[error("the wallet's data folder {path} cannot be used: {reason}")]
    DataDir { path: String, reason: String },
    #[error("the ticket index {path} is damaged ({reason}); it was left untouched")]
    DamagedIndex { path: String, reason: String },
    #[error("profile name `{0}` is not allowed: use letters, digits, `-` and `_`")]
    BadProfile(String),
    #[error(
        "the record database exists but its key is missing from the keyring; the database was left untouched"
    )]
    MissingDatabaseKey,
}

impl VaultError {
    /// A stable machine-readable code for the UI and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Locked(_) => "keyring_locked",
            Self::NoKeyring(_) => "no_keyring",
            Self::Keyring(_) => "keyring_failed",
            Self::DamagedKey(_) => "damaged_key",
            Self::NoSuchTicket(_) => "no_such_ticket",
            Self::MissingSecret { .. } => "missing_secret",
            Self::TooLarge(_) => "ticket_too_large",
            Self::DataDir { .. } => "data_dir",
            Self::DamagedIndex { .. } => "damaged_index",
            Self::BadProfile(_) => "bad_profile",
            Self::MissingDatabaseKey => "missing_database_key",
        }
    }
}

impl From<keyring_core::Error> for VaultError {
    fn from(e: keyring_core::Error) -> Self {
        use keyring_core::Error as E;
        match e {
            E::NoStorageAccess(inner) => Self::Locked(inner.to_string()),
            E::TooLong(name, limit) => Self::TooLarge(format!("`{name}` exceeds {limit}")),
            E::NoDefaultStore => Self::NoKeyring("no credential store is configured".into()),
            other => Self::Keyring(other.to_string()),
        }
    }
}
