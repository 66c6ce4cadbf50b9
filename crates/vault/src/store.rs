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

/// What store the vault ended up with, for the UI to show.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoreInfo {
    pub name: String,
    /// Whether secrets survive a reboot.
    pub persistent: bool,
    /// Something the user should be told about the store, e.g. that it does not survive a reboot.
    pub notice: Option<String>,
}

pub(crate) fn open(backend: Backend) -> Result<(Arc<CredentialStore>, StoreInfo), VaultError> {
    match backend {
        Backend::Memory => Ok((
            keyring_core::mock::Store::new()?,
            StoreInfo {
                name: "in-memory (testing only)".into(),
                persistent: false,
                notice: Some("secrets are kept in memory and lost when the program ends".into()),
            },
        )),
        Backend::Auto => platform_default(),
        Backend::SecretService => secret_service(),
        Backend::Keyutils => keyutils(None),
    }
}

#[cfg(target_os = "linux")]
fn platform_default() -> Result<(Arc<CredentialStore>, StoreInfo), VaultError> {
    match secret_service() {
        Ok(found) => Ok(found),
        Err(e) => {
            tracing::warn!("no Secret Service: {e}; falling back to the kernel keyring");
            keyutils(Some(e.to_string()))
        }
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
fn platform_default() -> Result<(Arc<CredentialStore>, StoreInfo), VaultError> {
    let (store, name): (Arc<CredentialStore>, &str) = platform_store()?;
    Ok((
        store,
        StoreInfo {
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
