//! Where a wallet keeps its things, from flags and the environment:
//! `--profile`/`TW_PROFILE`, `TW_DATA_DIR`, `TW_KEYRING`.

use std::path::PathBuf;

use vault::Backend;

use crate::WalletError;

pub const DEFAULT_PROFILE: &str = "default";

#[derive(Debug, Clone)]
pub struct WalletOptions {
    pub profile: String,
    pub data_dir: PathBuf,
    pub backend: Backend,
}

impl WalletOptions {
    /// Resolves options; an explicit `profile` wins over `TW_PROFILE`.
    pub fn from_env(profile: Option<String>) -> Result<Self, WalletError> {
        let profile = profile
            .or_else(|| std::env::var("TW_PROFILE").ok().filter(|p| !p.is_empty()))
            .unwrap_or_else(|| DEFAULT_PROFILE.to_string());
        let data_dir = match std::env::var_os("TW_DATA_DIR") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => dirs::data_dir()
                .map(|d| d.join("ticket-wallet"))
                .ok_or_else(|| {
                    WalletError::Invalid(
                        "no data folder is known for this user; set TW_DATA_DIR".into(),
                    )
                })?,
        };
        let backend = match std::env::var("TW_KEYRING").as_deref() {
            Err(_) | Ok("") | Ok("auto") => Backend::Auto,
            Ok("secret-service") => Backend::SecretService,
            Ok("keyutils") => Backend::Keyutils,
            Ok(other) => {
                return Err(WalletError::Invalid(format!(
                    "TW_KEYRING={other} is not one of auto, secret-service, keyutils"
                )));
            }
        };
        Ok(Self {
            profile,
            data_dir,
            backend,
        })
    }
}
