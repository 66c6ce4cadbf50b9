//! The encrypted record store: what a sync leaves on disk, read back with the
//! profile's key from the real keyring (run through `make test`).

#![allow(clippy::unwrap_used)]

use permission_ticket::TicketType;
use sandbox::{MintRequest, Profile, Sandbox, SandboxConfig};
use serde_json::value::RawValue;
use vault::{Backend, DatabaseKey};
use wallet_core::engine::Record;
use wallet_core::store::{RecordStore, Replaced, StoreError};
use wallet_core::{SyncOptions, Wallet, WalletOptions};

fn open(dir: &std::path::Path, profile: &str) -> Wallet {
    Wallet::open(WalletOptions {
        profile: format!("{profile}-{}", std::process::id()),
        data_dir: dir.into(),
        backend: Backend::SecretService,
    })
    .unwrap_or_else(|e| panic!("{e} (run through `make test`, which starts a keyring)"))
}

/// Every file SQLite keeps for the store (the database and its write-ahead log).
fn store_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in walk(dir) {
        if entry
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("records.db"))
        {
            all.extend(std::fs::read(&entry).unwrap());
        }
    }
    all
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn a_sync_lands_encrypted_with_its_provenance() {
    let sb = Sandbox::start(SandboxConfig {
        holders: 1,
        profile: Profile::Dpop,
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let w = open(dir.path(), "store");
    let jkt = w.key_info().unwrap().jkt;
    let ticket = sb
        .issuer
        .mint(&MintRequest::new(TicketType::PatientSelfAccess, Some(jkt)))
        .unwrap();
    let jti = w.import(&ticket, "test").await.unwrap().ticket.jti;
    let base = sb.holders[0].fhir_base();
    w.add_holder(&base, None, None).await.unwrap();
    let report = w.sync(SyncOptions::default(), None).await.unwrap();
    let outcome = &report.outcomes[0];
    assert_eq!(outcome.status, "synced");

    let store = w.record_store().unwrap();
    let counts = store.counts().unwrap();
    assert_eq!(
        counts.iter().map(|c| c.count).sum::<usize>(),
        outcome.resources
    );
    assert!(
        counts
            .iter()
            .all(|c| c.holder == base && c.ticket_jti == jti)
    );
    let observations = store.records(&base, "Observation").unwrap();
    assert!(observations.len() > 10);
    assert!(
        observations[0].contains("\"resourceType\":\"Observation\""),
        "kept as the holder sent it"
    );

    // The view's queries over what was stored.
    let timeline = store.timeline(None, None, 20).unwrap();
    assert_eq!(timeline.len(), 20);
    assert!(
        timeline.windows(2).all(|w| w[0].date >= w[1].date),
        "newest first"
    );
    let before = timeline[19].date.clone().unwrap();
    let next = store.timeline(None, Some(&before), 10).unwrap();
    assert!(
        next.iter()
            .all(|i| i.date.as_deref().unwrap() < before.as_str()),
        "pages on"
    );
    let labs = store.timeline(Some("labs"), None, 1000).unwrap();
    assert!(
        !labs.is_empty()
            && labs
                .iter()
                .all(|i| i.category == "labs" && i.resource_type == "Observation")
    );
    let a1c = store.series("4548-4").unwrap();
    assert!(a1c.len() > 3, "a chartable HbA1c series");
    assert!(
        a1c.windows(2).all(|w| w[0].date <= w[1].date),
        "oldest first"
    );
    assert!(
        a1c.iter()
            .all(|p| (4.0..12.0).contains(&p.value) && p.unit.as_deref() == Some("%"))
    );
    let found = store.search("hemoglobin", 500).unwrap();
    assert_eq!(
        found.len(),
        a1c.len(),
        "every HbA1c result, found by its display"
    );
    assert!(
        store.search("\"unbalanced AND (", 5).is_ok(),
        "what a person types is text, not query syntax"
    );
    drop(store);

    // Not a byte of the records is readable on disk.
    let bytes = store_bytes(dir.path());
    assert!(bytes.len() > 4096);
    for plain in [
        "Rivera",
        "Observation",
        "resourceType",
        "SQLite format 3",
        "h1-ana",
    ] {
        assert!(
            !contains(&bytes, plain),
            "{plain} is readable in the store's files"
        );
    }
}

#[tokio::test]
async fn a_wrong_key_is_refused_and_destroys_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let w = open(dir.path(), "wrongkey");
    let path = w.vault().dir().join("records.db");
    let mut store = w.record_store().unwrap();
    let rec = record("Condition", "c1");
    store
        .replace("https://h.example/fhir", "t1", 1, &[&rec])
        .unwrap();
    drop(store);
    let before = std::fs::read(&path).unwrap();

    match RecordStore::open(&path, &DatabaseKey::from_bytes([7; 32])) {
        Err(e @ StoreError::WrongKey { .. }) => {
            assert!(e.to_string().contains("left as it is"), "{e}")
        }
        Err(e) => panic!("expected WrongKey, got {e}"),
        Ok(_) => panic!("a wrong key opened the store"),
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file is untouched"
    );
    let store = w.record_store().unwrap();
    assert_eq!(
        store
            .records("https://h.example/fhir", "Condition")
            .unwrap()
            .len(),
        1
    );
}

fn record(ty: &str, id: &str) -> Record {
    let json = format!(r#"{{"resourceType":"{ty}","id":"{id}"}}"#);
    Record {
        resource_type: ty.into(),
        id: Some(id.into()),
        json: RawValue::from_string(json).unwrap(),
    }
}

#[tokio::test]
async fn a_resync_replaces_the_holders_set_and_counts_what_went() {
    let dir = tempfile::tempdir().unwrap();
    let w = open(dir.path(), "resync");
    let mut store = w.record_store().unwrap();
    let (a, b, c) = (
        record("Condition", "a"),
        record("Condition", "b"),
        record("Observation", "c"),
    );
    let h = "https://h.example/fhir";
    assert_eq!(
        store.replace(h, "t1", 1, &[&a, &b, &c]).unwrap(),
        Replaced {
            stored: 3,
            removed: 0
        }
    );
    // Another ticket's records at the same holder are a separate set.
    store.replace(h, "t2", 1, &[&a]).unwrap();
    assert_eq!(
        store.replace(h, "t1", 2, &[&a, &c]).unwrap(),
        Replaced {
            stored: 2,
            removed: 1
        }
    );
    let conditions = store.records(h, "Condition").unwrap();
    assert_eq!(conditions.len(), 2, "a from t1 and a from t2; b is gone");
    assert!(conditions.iter().all(|j| j.contains("\"a\"")));
}

#[tokio::test]
async fn the_schema_is_versioned_from_the_first_version_on() {
    let dir = tempfile::tempdir().unwrap();
    let w = open(dir.path(), "schema");
    let store = w.record_store().unwrap();
    let first = store.schema_version().unwrap();
    assert!(first >= 1);
    drop(store);
    // Reopening runs nothing twice.
    assert_eq!(w.record_store().unwrap().schema_version().unwrap(), first);
}
