//! Choosing the operating system's credential store.

use std::sync::Arc;

use keyring_core::CredentialStore;

use crate::VaultError;

/// Which credential store to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The platform's store; on Linux the Secret Service, falling back to the
    /// kernel keyring (keyutils) when no Secret Service answers.
    Auto,
    /// Linux only: the Secret Service (GNOME Keyring, KWallet, KeePassXC).
    SecretService,
    /// Linux only: the kernel keyring. Lost at reboot.
    Keyutils,
    /// In-memory, for unit tests of code above the vault.
    Memory,
}

/// The file in a profile's folder that names the store its secrets are in
/// (no secret in it), so a later start looks there and nowhere else.
pub(crate) const RECORD_FILE: &str = "keyring-store";
const SECRET_SERVICE: &str = "secret-service";
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
const KEYUTILS: &str = "keyutils";

/// What store the vault ended up with, for the UI to show.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoreInfo {
    /// What the profile's record file says: `secret-service`, `keyutils`, or the platform's.
    #[serde(skip)]
    pub kind: &'static str,
    pub name: String,
    /// Whether secrets survive a reboot.
    pub persistent: bool,
    /// Something the user should be told about the store, e.g. that it does not survive a reboot.
    pub notice: Option<String>,
}

/// Opens the store. `recorded` is where this profile's secrets already are,
/// if it has any: with `Auto` that store is used and no other, since a
/// fallback would make a new key and lose sight of every ticket.
pub(crate) fn open(
    backend: Backend,
    recorded: Option<&str>,
) -> Result<(Arc<CredentialStore>, StoreInfo), VaultError> {
    match backend {
        Backend::Memory => Ok((
            keyring_core::mock::Store::new()?,
            StoreInfo {
                kind: "memory",
                name: "in-memory (testing only)".into(),
                persistent: false,
                notice: Some("secrets are kept in memory and lost when the program ends".into()),
            },
        )),
        Backend::Auto => platform_default(recorded),
        Backend::SecretService => secret_service(),
        Backend::Keyutils => keyutils(None),
    }
}

/// The Secret Service first; the kernel keyring only for a profile with no
/// secrets yet and when no Secret Service exists at all. One that exists but
/// refuses (locked, the unlock prompt cancelled) is an error to show: the
/// person unlocks it, or chooses the kernel keyring (`TW_KEYRING=keyutils`).
#[cfg(target_os = "linux")]
fn platform_default(
    recorded: Option<&str>,
) -> Result<(Arc<CredentialStore>, StoreInfo), VaultError> {
    if recorded == Some(KEYUTILS) {
        return keyutils(None);
    }
    match secret_service() {
        Ok(found) => Ok(found),
        Err(e) => match fallback(recorded, e) {
            Ok(why) => {
                tracing::warn!("no Secret Service: {why}; a new profile uses the kernel keyring");
                keyutils(Some(why))
            }
            Err(e) => Err(e),
        },
    }
}

/// Whether a failed Secret Service may give way to the kernel keyring
/// (`Ok` with the reason to show), or must be reported.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn fallback(recorded: Option<&str>, failure: VaultError) -> Result<String, VaultError> {
    match failure {
        e @ VaultError::Locked(_) => Err(e),
        e if recorded == Some(SECRET_SERVICE) => Err(VaultError::NoKeyring(format!(
            "this profile keeps its key and tickets in the Secret Service, which did not answer ({e}); start or unlock it and try again"
        ))),
        e => Ok(e.to_string()),
    }
}

#[cfg(target_os = "linux")]
fn secret_service() -> Result<(Arc<CredentialStore>, StoreInfo), VaultError> {
    let store: Arc<CredentialStore> = dbus_secret_service_keyring_store::Store::new()
        .map_err(|e| VaultError::NoKeyring(e.to_string()))?;
    // A session bus without an unlocked Secret Service only fails on first use: probe now.
    let probe = store.build("ticket-wallet", "probe", None)?;
    match probe.get_secret() {
        Ok(_) | Err(keyring_core::Error::NoEntry) => Ok((
            store,
            StoreInfo {
                kind: SECRET_SERVICE,
                name: "Secret Service".into(),
                persistent: true,
                notice: None,
            },
        )),
        Err(e) => Err(VaultError::from(e)),
    }
}

#[cfg(target_os = "linux")]
fn keyutils(why: Option<String>) -> Result<(Arc<CredentialStore>, StoreInfo), VaultError> {
    let store: Arc<CredentialStore> = linux_keyutils_keyring_store::Store::new()
        .map_err(|e| VaultError::NoKeyring(e.to_string()))?;
    let mut notice =
        "tickets and the wallet's key are in the kernel keyring, which does not survive a reboot"
            .to_string();
    if let Some(why) = why {
        notice = format!("no Secret Service answered ({why}); {notice}");
    }
    Ok((
        store,
        StoreInfo {
            kind: KEYUTILS,
            name: "kernel keyring (keyutils)".into(),
            persistent: false,
            notice: Some(notice),
        },
    ))
}

#[cfg(not(target_os = "linux"))]
fn secret_service() -> Result<(Arc<CredentialStore>, StoreInfo), VaultError> {
    Err(VaultError::NoKeyring(
        "the Secret Service exists only on Linux".into(),
    ))
}

#[cfg(not(target_os = "linux"))]
fn keyutils(_why: Option<String>) -> Result<(Arc<CredentialStore>, StoreInfo), VaultError> {
    Err(VaultError::NoKeyring(
        "keyutils exists only on Linux".into(),
    ))
}

#[cfg(not(target_os = "linux"))]
fn platform_default(
    _recorded: Option<&str>,
) -> Result<(Arc<CredentialStore>, StoreInfo), VaultError> {
    let (store, name): (Arc<CredentialStore>, &str) = platform_store()?;
    Ok((
        store,
        StoreInfo {
            kind: "platform",
            name: name.into(),
            persistent: true,
            notice: None,
        },
    ))
}

#[cfg(any(target_os = "macos", target_os = "ios"))]
fn platform_store() -> Result<(Arc<CredentialStore>, &'static str), VaultError> {
    Ok((
        apple_native_keyring_store::protected::Store::new()?,
        "Apple Keychain",
    ))
}

#[cfg(target_os = "windows")]
fn platform_store() -> Result<(Arc<CredentialStore>, &'static str), VaultError> {
    Ok((
        windows_native_keyring_store::Store::new()?,
        "Windows Credential Manager",
    ))
}

#[cfg(target_os = "android")]
fn platform_store() -> Result<(Arc<CredentialStore>, &'static str), VaultError> {
    Ok((
        android_native_keyring_store::Store::new()?,
        "Android Keystore",
    ))
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "macos",
    target_os = "ios",
    target_os = "windows",
    target_os = "android"
)))]
fn platform_store() -> Result<(Arc<CredentialStore>, &'static str), VaultError> {
    Err(VaultError::NoKeyring(
        "this platform has no supported keyring".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_absent_secret_service_gives_way_and_only_for_a_new_profile() {
        let absent = || VaultError::NoKeyring("no session bus".into());
        let refused = || VaultError::Locked("unlock prompt was dismissed".into());
        assert!(fallback(None, absent()).is_ok());
        assert!(fallback(Some(KEYUTILS), absent()).is_ok());
        // Cancelling the unlock is not "there is no keyring".
        assert_eq!(
            fallback(None, refused()).unwrap_err().code(),
            "keyring_locked"
        );
        // A profile whose key is in the Secret Service never gets a new one elsewhere.
        let kept = fallback(Some(SECRET_SERVICE), absent()).unwrap_err();
        assert_eq!(kept.code(), "no_keyring");
        assert!(
            kept.to_string().contains("keeps its key and tickets"),
            "{kept}"
        );
    }
}
