//! The wallet's secrets in the operating system's keyring: one P-256 signing
//! key per profile, created on first use, and the tickets themselves. A plain
//! index file (no secrets, no patient details) lets the list show without
//! unlocking every entry.

mod error;
mod index;
mod key;
mod store;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use keyring_core::{CredentialStore, Entry};

pub use error::VaultError;
pub use index::TicketRecord;
pub use key::WalletKey;
pub use store::{Backend, StoreInfo};

/// The keyring service every entry is filed under.
pub const SERVICE: &str = "ticket-wallet";

#[derive(Debug, Clone)]
pub struct VaultConfig {
    /// Separates people (a caregiver may keep several) and keeps tests off real entries.
    pub profile: String,
    /// Where the profile's non-secret files live.
    pub data_dir: PathBuf,
    pub backend: Backend,
}

/// Whether an import added a ticket or found it already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SaveOutcome {
    Added,
    AlreadyPresent,
}

pub struct Vault {
    profile: String,
    dir: PathBuf,
    store: Arc<CredentialStore>,
    info: StoreInfo,
    index: index::Index,
    /// Serialises index read-modify-write within this process.
    index_lock: Mutex<()>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("profile", &self.profile)
            .field("dir", &self.dir)
            .field("store", &self.info.name)
            .finish()
    }
}

pub fn valid_profile(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl Vault {
    pub fn open(config: VaultConfig) -> Result<Self, VaultError> {
        if !valid_profile(&config.profile) {
            return Err(VaultError::BadProfile(config.profile));
        }
        let dir = config.data_dir.join(&config.profile);
        create_private_dir(&dir)?;
        let recorded = std::fs::read_to_string(dir.join(store::RECORD_FILE)).ok();
        let (store, info) = store::open(config.backend, recorded.as_deref().map(str::trim))?;
        Ok(Self {
            index: index::Index::new(&dir),
            profile: config.profile,
            dir,
            store,
            info,
            index_lock: Mutex::new(()),
        })
    }

    pub fn profile(&self) -> &str {
        &self.profile
    }

    /// The profile's folder for non-secret files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn store_info(&self) -> &StoreInfo {
        &self.info
    }

    /// Notes which store this profile's secrets are in, once one is written
    /// there, so later starts look in that store and no other.
    fn remember_store(&self) -> Result<(), VaultError> {
        let record = self.dir.join(store::RECORD_FILE);
        let recorded = std::fs::read_to_string(&record).unwrap_or_default();
        if recorded.trim() == self.info.kind || self.info.kind == "memory" {
            return Ok(());
        }
        std::fs::write(&record, self.info.kind).map_err(|e| VaultError::DataDir {
            path: record.display().to_string(),
            reason: e.to_string(),
        })
    }

    fn entry(&self, name: &str) -> Result<Entry, VaultError> {
        Ok(self
            .store
            .build(SERVICE, &format!("{}/{name}", self.profile), None)?)
    }

    /// The profile's signing key, created and stored on first use.
    pub fn signing_key(&self) -> Result<WalletKey, VaultError> {
        let entry = self.entry("signing-key")?;
        match entry.get_secret() {
            Ok(bytes) => WalletKey::from_secret(&bytes),
            Err(keyring_core::Error::NoEntry) => {
                let key = WalletKey::generate();
                entry.set_secret(&key.secret_bytes())?;
                self.remember_store()?;
                tracing::info!(jkt = %key.jkt(), profile = %self.profile, "created the wallet's signing key");
                Ok(key)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The key of the profile's encrypted record database: 32 random bytes,
    /// kept next to the signing key. With `create`, made and stored when there
    /// is none; without, a missing key is an error (a database whose key is
    /// gone must never be given a new one).
    pub fn database_key(&self, create: bool) -> Result<DatabaseKey, VaultError> {
        let entry = self.entry("records-key")?;
        match entry.get_secret() {
            Ok(bytes) if bytes.len() == 32 => Ok(DatabaseKey(bytes)),
            Ok(bytes) => Err(VaultError::DamagedKey(format!(
                "the record database key has {} bytes, not 32",
                bytes.len()
            ))),
            Err(keyring_core::Error::NoEntry) if !create => Err(VaultError::MissingDatabaseKey),
            Err(keyring_core::Error::NoEntry) => Ok(DatabaseKey(self.new_random_secret(&entry)?)),
            Err(e) => Err(e.into()),
        }
    }

    /// Stores 32 fresh random bytes in `entry` and returns them.
    fn new_random_secret(&self, entry: &Entry) -> Result<Vec<u8>, VaultError> {
        let mut bytes = vec![0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
        entry.set_secret(&bytes)?;
        self.remember_store()?;
        Ok(bytes)
    }

    /// The secret the built-in demo issuer derives its signing key from:
    /// 32 random bytes kept in the keyring with the profile's other keys, so
    /// demo tickets verify after a restart and no one else can sign one this
    /// wallet's demo accepts. With `create`, made on first use; without,
    /// `None` for a profile that never used the demo.
    pub fn demo_issuer_secret(&self, create: bool) -> Result<Option<Vec<u8>>, VaultError> {
        let entry = self.entry("demo-issuer-key")?;
        match entry.get_secret() {
            Ok(bytes) => Ok(Some(bytes)),
            Err(keyring_core::Error::NoEntry) if !create => Ok(None),
            Err(keyring_core::Error::NoEntry) => self.new_random_secret(&entry).map(Some),
            Err(e) => Err(e.into()),
        }
    }

    /// Saves a ticket (the compact JWS) and lists it. A ticket with the same
    /// `jti` is recognised and kept as it was.
    pub fn save_ticket(
        &self,
        record: TicketRecord,
        compact: &str,
    ) -> Result<SaveOutcome, VaultError> {
        let _guard = self.lock();
        let mut all = self.index.load()?;
        if all.iter().any(|t| t.jti == record.jti) {
            return Ok(SaveOutcome::AlreadyPresent);
        }
        // Secret first: a crash before the index write leaves an unlisted entry, never a listed ghost.
        self.ticket_entry(&record.jti)?.set_password(compact)?;
        self.remember_store()?;
        all.push(record);
        self.index.store(&all)?;
        Ok(SaveOutcome::Added)
    }

    pub fn list_tickets(&self) -> Result<Vec<TicketRecord>, VaultError> {
        self.index.load()
    }

    pub fn load_ticket(&self, jti: &str) -> Result<String, VaultError> {
        if !self.index.load()?.iter().any(|t| t.jti == jti) {
            return Err(VaultError::NoSuchTicket(jti.to_string()));
        }
        match self.ticket_entry(jti)?.get_password() {
            Ok(t) => Ok(t),
            Err(keyring_core::Error::NoEntry) => Err(VaultError::MissingSecret {
                jti: jti.to_string(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Records that a kept ticket's signature has now been checked (or not).
    pub fn set_verified(&self, jti: &str, verified: bool) -> Result<(), VaultError> {
        let _guard = self.lock();
        let mut all = self.index.load()?;
        let entry = all
            .iter_mut()
            .find(|t| t.jti == jti)
            .ok_or_else(|| VaultError::NoSuchTicket(jti.to_string()))?;
        entry.verified = verified;
        self.index.store(&all)
    }

    /// Removes a ticket from the keyring and the list.
    pub fn remove_ticket(&self, jti: &str) -> Result<(), VaultError> {
        let _guard = self.lock();
        let mut all = self.index.load()?;
        let before = all.len();
        all.retain(|t| t.jti != jti);
        if all.len() == before {
            return Err(VaultError::NoSuchTicket(jti.to_string()));
        }
        // Unlist first: a crash after it leaves an orphaned secret, never a listed ghost.
        self.index.store(&all)?;
        match self.ticket_entry(jti)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes everything this profile keeps: the record database's key
    /// first (so the records are unreadable even if a file outlives this),
    /// the profile's folder (ticket index, holders, records, traces), every
    /// listed ticket, and last the signing key. Entries already gone are fine;
    /// the first other failure stops it and is returned, and calling it again
    /// carries on.
    pub fn destroy(&self) -> Result<(), VaultError> {
        let _guard = self.lock();
        let tickets = self.index.load().unwrap_or_default();
        let gone = |r: Result<(), keyring_core::Error>| match r {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(VaultError::from(e)),
        };
        gone(self.entry("records-key")?.delete_credential())?;
        gone(self.entry("demo-issuer-key")?.delete_credential())?;
        for t in &tickets {
            gone(self.ticket_entry(&t.jti)?.delete_credential())?;
        }
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(VaultError::DataDir {
                    path: self.dir.display().to_string(),
                    reason: e.to_string(),
                });
            }
        }
        gone(self.entry("signing-key")?.delete_credential())?;
        tracing::info!(profile = %self.profile, "deleted everything the profile kept");
        Ok(())
    }

    fn ticket_entry(&self, jti: &str) -> Result<Entry, VaultError> {
        self.entry(&format!("ticket/{jti}"))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        // A panic elsewhere while holding the lock leaves nothing half-written (writes are atomic).
        self.index_lock.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn create_private_dir(dir: &Path) -> Result<(), VaultError> {
    let err = |e: std::io::Error| VaultError::DataDir {
        path: dir.display().to_string(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
    }
    Ok(())
}

/// The record database's key. Its `Debug` shows nothing of it.
pub struct DatabaseKey(Vec<u8>);

impl DatabaseKey {
    /// For SQLCipher's `PRAGMA key = "x'…'"`.
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A key that is not this profile's, to show what a wrong key does.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes.to_vec())
    }
}

impl std::fmt::Debug for DatabaseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(dir: &Path) -> Vault {
        Vault::open(VaultConfig {
            profile: "unit".into(),
            data_dir: dir.to_path_buf(),
            backend: Backend::Memory,
        })
        .unwrap()
    }

    fn record(jti: &str) -> TicketRecord {
        TicketRecord {
            jti: jti.into(),
            ticket_type: "t".into(),
            issuer: "https://issuer".into(),
            expires_at: 1,
            added_at: 0,
            source: "test".into(),
            verified: true,
        }
    }

    #[test]
    fn key_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let v = vault(dir.path());
        let a = v.signing_key().unwrap();
        let b = v.signing_key().unwrap();
        assert_eq!(a.jkt(), b.jkt());
        assert_eq!(a.public_jwk().thumbprint().unwrap(), a.jkt());
        assert!(!format!("{a:?}").contains(&format!("{:?}", a.secret_bytes())));
    }

    #[test]
    fn tickets_round_trip_and_duplicates_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let v = vault(dir.path());
        assert_eq!(
            v.save_ticket(record("a"), "jwt-a").unwrap(),
            SaveOutcome::Added
        );
        assert_eq!(
            v.save_ticket(record("a"), "jwt-a2").unwrap(),
            SaveOutcome::AlreadyPresent
        );
        assert_eq!(v.load_ticket("a").unwrap(), "jwt-a");
        assert_eq!(v.list_tickets().unwrap().len(), 1);
        v.remove_ticket("a").unwrap();
        assert!(matches!(
            v.load_ticket("a"),
            Err(VaultError::NoSuchTicket(_))
        ));
        assert!(matches!(
            v.remove_ticket("a"),
            Err(VaultError::NoSuchTicket(_))
        ));
    }

    #[test]
    fn the_index_holds_no_ticket_text() {
        let dir = tempfile::tempdir().unwrap();
        let v = vault(dir.path());
        v.save_ticket(record("a"), "SECRET-TICKET-TEXT").unwrap();
        let index = std::fs::read_to_string(dir.path().join("unit/tickets.json")).unwrap();
        assert!(!index.contains("SECRET-TICKET-TEXT"));
    }

    #[test]
    fn a_damaged_index_is_reported_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let v = vault(dir.path());
        let path = dir.path().join("unit/tickets.json");
        std::fs::write(&path, "{not json").unwrap();
        assert!(matches!(
            v.list_tickets(),
            Err(VaultError::DamagedIndex { .. })
        ));
        assert!(v.save_ticket(record("b"), "x").is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{not json");
    }

    #[test]
    fn profile_names_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["", "../etc", "a b", "x/y"] {
            let r = Vault::open(VaultConfig {
                profile: bad.into(),
                data_dir: dir.path().into(),
                backend: Backend::Memory,
            });
            assert!(matches!(r, Err(VaultError::BadProfile(_))), "{bad}");
        }
    }
}
