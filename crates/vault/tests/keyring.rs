//! The vault against real keyrings: the Secret Service (gnome-keyring, run by
//! `scripts/session.sh`) and the kernel keyring (inside `keyctl session`).

#![allow(clippy::unwrap_used)]

use std::process::Command;

use vault::{Backend, SaveOutcome, TicketRecord, Vault, VaultConfig};

fn open(dir: &std::path::Path, profile: &str, backend: Backend) -> Vault {
    Vault::open(VaultConfig {
        profile: profile.into(),
        data_dir: dir.into(),
        backend,
    })
    .unwrap_or_else(|e| panic!("{e} (run the tests through `make test`, which starts a keyring)"))
}

fn record(jti: &str) -> TicketRecord {
    TicketRecord {
        jti: jti.into(),
        ticket_type: "https://smarthealthit.org/permission-ticket-type/patient-self-access-v1"
            .into(),
        issuer: "https://issuer.example".into(),
        expires_at: 2_000_000_000,
        added_at: 1_800_000_000,
        source: "test".into(),
        verified: true,
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", std::process::id())
}

#[test]
fn secret_service_keeps_key_and_tickets_across_instances() {
    let dir = tempfile::tempdir().unwrap();
    let profile = unique("ss");
    let first = open(dir.path(), &profile, Backend::SecretService);
    assert!(first.store_info().persistent);
    assert_eq!(first.store_info().notice, None);
    let jkt = first.signing_key().unwrap().jkt();
    assert_eq!(
        first
            .save_ticket(record("t1"), "header.claims.sig")
            .unwrap(),
        SaveOutcome::Added
    );
    drop(first);

    // A new connection to the daemon sees the same key and ticket.
    let second = open(dir.path(), &profile, Backend::SecretService);
    assert_eq!(second.signing_key().unwrap().jkt(), jkt);
    assert_eq!(second.load_ticket("t1").unwrap(), "header.claims.sig");
    assert_eq!(
        second.save_ticket(record("t1"), "other").unwrap(),
        SaveOutcome::AlreadyPresent
    );

    // Profiles are separate: another profile gets its own key and no tickets.
    let other = open(dir.path(), &unique("ss-other"), Backend::SecretService);
    assert_ne!(other.signing_key().unwrap().jkt(), jkt);
    assert!(other.list_tickets().unwrap().is_empty());

    second.remove_ticket("t1").unwrap();
    let third = open(dir.path(), &profile, Backend::SecretService);
    assert!(third.load_ticket("t1").is_err());
    assert!(third.list_tickets().unwrap().is_empty());
}

#[test]
fn a_large_ticket_fits() {
    let dir = tempfile::tempdir().unwrap();
    let v = open(dir.path(), &unique("big"), Backend::SecretService);
    let big = "x".repeat(20_000);
    v.save_ticket(record("big"), &big).unwrap();
    assert_eq!(v.load_ticket("big").unwrap(), big);
}

/// Runs `keyutils_child` in a fresh kernel session keyring, with no session bus,
/// so `Backend::Auto` has to fall back to keyutils.
#[test]
fn falls_back_to_the_kernel_keyring_without_a_secret_service() {
    // A profile whose secrets are in the Secret Service, for the child to find without one.
    let kept = tempfile::tempdir().unwrap();
    let ss = open(kept.path(), &unique("kept"), Backend::SecretService);
    ss.signing_key().unwrap();
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("keyctl")
        .args(["session", "-"])
        .arg(exe)
        .args(["--exact", "keyutils_child", "--ignored", "--nocapture"])
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("TW_KEYUTILS_CHILD", "1")
        .env("TW_KEPT_DIR", kept.path())
        .env("TW_KEPT_PROFILE", ss.profile())
        .output()
        .expect("keyctl (package keyutils) must be installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "{text}");
}

#[test]
#[ignore = "run by falls_back_to_the_kernel_keyring_without_a_secret_service"]
fn keyutils_child() {
    assert_eq!(std::env::var("TW_KEYUTILS_CHILD").as_deref(), Ok("1"));
    let dir = tempfile::tempdir().unwrap();
    let v = open(dir.path(), "ku", Backend::Auto);
    let info = v.store_info();
    assert!(!info.persistent);
    assert!(
        info.notice
            .as_deref()
            .unwrap()
            .contains("does not survive a reboot"),
        "{info:?}"
    );
    let jkt = v.signing_key().unwrap().jkt();
    v.save_ticket(record("k1"), "a.b.c").unwrap();
    let again = open(dir.path(), "ku", Backend::Auto);
    assert_eq!(again.signing_key().unwrap().jkt(), jkt);
    assert_eq!(again.load_ticket("k1").unwrap(), "a.b.c");

    // A profile that keeps its secrets in the Secret Service is not given a
    // new key here because the Secret Service does not answer: it is an error.
    let kept = std::env::var("TW_KEPT_DIR").unwrap();
    let err = Vault::open(VaultConfig {
        profile: std::env::var("TW_KEPT_PROFILE").unwrap(),
        data_dir: kept.into(),
        backend: Backend::Auto,
    })
    .unwrap_err();
    assert_eq!(err.code(), "no_keyring");
    assert!(
        err.to_string()
            .contains("this profile keeps its key and tickets in the Secret Service"),
        "{err}"
    );
}

#[test]
fn a_profile_stays_with_the_store_its_secrets_are_in() {
    let dir = tempfile::tempdir().unwrap();
    let profile = unique("stays");
    let v = open(dir.path(), &profile, Backend::Auto);
    assert_eq!(v.store_info().name, "Secret Service");
    // Nothing is noted until a secret is written.
    assert!(!dir.path().join(&profile).join("keyring-store").exists());
    v.signing_key().unwrap();
    let noted = std::fs::read_to_string(dir.path().join(&profile).join("keyring-store")).unwrap();
    assert_eq!(noted, "secret-service");
    // A profile whose secrets went to the kernel keyring keeps using it,
    // even once a Secret Service answers.
    let other = unique("stays-ku");
    std::fs::create_dir_all(dir.path().join(&other)).unwrap();
    std::fs::write(dir.path().join(&other).join("keyring-store"), "keyutils").unwrap();
    let ku = open(dir.path(), &other, Backend::Auto);
    assert_eq!(ku.store_info().name, "kernel keyring (keyutils)");
    v.destroy().unwrap();
}

#[test]
fn the_record_database_key_is_made_once_and_never_remade() {
    let dir = tempfile::tempdir().unwrap();
    let profile = unique("dbkey");
    let vault = open(dir.path(), &profile, Backend::SecretService);
    // Without permission to create, a missing key is an error, not a new key.
    assert!(matches!(
        vault.database_key(false),
        Err(vault::VaultError::MissingDatabaseKey)
    ));
    let made = vault.database_key(true).unwrap().hex();
    assert_eq!(made.len(), 64);
    let again = open(dir.path(), &profile, Backend::SecretService);
    assert_eq!(again.database_key(false).unwrap().hex(), made);
    assert_eq!(again.database_key(true).unwrap().hex(), made);
    assert_eq!(
        format!("{:?}", again.database_key(false).unwrap()),
        "DatabaseKey([redacted])"
    );
}

#[test]
fn destroy_leaves_nothing_in_the_keyring_or_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let profile = unique("destroy");
    let vault = open(dir.path(), &profile, Backend::SecretService);
    let jkt = vault.signing_key().unwrap().jkt();
    vault.database_key(true).unwrap();
    assert_eq!(
        vault.demo_issuer_secret(false).unwrap(),
        None,
        "not made by asking"
    );
    let demo = vault.demo_issuer_secret(true).unwrap().unwrap();
    assert_eq!(demo.len(), 32);
    assert_eq!(
        vault.demo_issuer_secret(false).unwrap(),
        Some(demo.clone()),
        "kept, not remade"
    );
    vault
        .save_ticket(record("t1"), "header.claims.sig")
        .unwrap();
    std::fs::write(vault.dir().join("records.db"), b"records").unwrap();
    let index = std::fs::read(vault.dir().join("tickets.json")).unwrap();

    vault.destroy().unwrap();
    assert!(
        !dir.path().join(&profile).exists(),
        "the profile's folder is gone"
    );
    vault.destroy().unwrap();

    let after = open(dir.path(), &profile, Backend::SecretService);
    assert!(after.list_tickets().unwrap().is_empty());
    assert!(matches!(
        after.database_key(false),
        Err(vault::VaultError::MissingDatabaseKey)
    ));
    // Put the old index back: its ticket's secret is no longer in the keyring.
    std::fs::write(after.dir().join("tickets.json"), index).unwrap();
    assert!(matches!(
        after.load_ticket("t1"),
        Err(vault::VaultError::MissingSecret { .. })
    ));
    assert_ne!(
        after.signing_key().unwrap().jkt(),
        jkt,
        "a new key, not the old one"
    );
    assert_eq!(after.demo_issuer_secret(false).unwrap(), None);
    assert_ne!(after.demo_issuer_secret(true).unwrap(), Some(demo));
    after.destroy().unwrap();
}
