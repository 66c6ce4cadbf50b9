//! The encrypted record store: what a sync leaves on disk, read back with the
//! profile's key from the real keyring (run through `make test`).

#![allow(clippy::unwrap_used)]

use permission_ticket::TicketType;
use sandbox::{MintRequest, Profile, Sandbox, SandboxConfig};
use serde_json::value::RawValue;
use vault::{Backend, DatabaseKey};
use wallet_core::engine::Record;
use wallet_core::store::{ALSO_FROM, Person, Query, RecordStore, Replaced, StoreError};
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

/// A sandbox of `holders` and a wallet holding a self-access ticket for Ana bound to its key.
async fn with_ticket(holders: usize, name: &str) -> (Sandbox, tempfile::TempDir, Wallet, String) {
    let sb = Sandbox::start(SandboxConfig {
        holders,
        profile: Profile::Dpop,
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let w = open(dir.path(), name);
    let jkt = w.key_info().unwrap().jkt;
    let ticket = sb
        .issuer
        .mint(&MintRequest::new(TicketType::PatientSelfAccess, Some(jkt)))
        .unwrap();
    let jti = w.import(&ticket, "test").await.unwrap().ticket.jti;
    (sb, dir, w, jti)
}

#[tokio::test]
async fn a_sync_lands_encrypted_with_its_provenance() {
    let (sb, dir, w, jti) = with_ticket(1, "store").await;
    let base = sb.holders[0].fhir_base();
    w.add_holder(&base, None, None).await.unwrap();
    // Open through the sync, as the window is: the sync's commits stay in the
    // write-ahead log rather than being folded into the database at its close.
    let reader = w.record_store().unwrap();
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
    let page = |category: Option<&'static str>, before: Option<String>, limit: usize| {
        store
            .timeline(&Query {
                category,
                before: before.as_deref(),
                limit,
                ..Query::default()
            })
            .unwrap()
    };
    let timeline = page(None, None, 20);
    assert_eq!(timeline.len(), 20);
    assert!(
        timeline.windows(2).all(|w| w[0].date >= w[1].date),
        "newest first"
    );
    let before = timeline[19].date.clone().unwrap();
    let next = page(None, Some(before.clone()), 10);
    assert_eq!(next.len(), 10, "the next page is full");
    assert!(
        next.iter()
            .all(|i| i.date.as_deref().unwrap() < before.as_str()),
        "pages on"
    );
    let labs = page(Some("labs"), None, 1000);
    assert!(
        !labs.is_empty()
            && labs
                .iter()
                .all(|i| i.category == "labs" && i.resource_type == "Observation")
    );
    let a1c = store.series("4548-4", None).unwrap();
    assert!(a1c.len() > 3, "a chartable HbA1c series");
    assert!(
        a1c.windows(2).all(|w| w[0].date <= w[1].date),
        "oldest first"
    );
    assert!(
        a1c.iter()
            .all(|p| (4.0..12.0).contains(&p.value) && p.unit.as_deref() == Some("%"))
    );
    // The holder's own results carry its reference range; the one it sent
    // without a range has none.
    let ranged = a1c
        .iter()
        .filter(|p| p.low == Some(4.0) && p.high == Some(5.6))
        .count();
    assert_eq!(ranged, a1c.len() - 1, "{a1c:?}");
    let bare = a1c.iter().find(|p| p.date == "2023-06-01").unwrap();
    assert_eq!((bare.low, bare.high), (None, None));
    let found = store
        .search(
            "hemoglobin",
            &Query {
                limit: 500,
                ..Query::default()
            },
        )
        .unwrap();
    assert_eq!(
        found.len(),
        a1c.len(),
        "every HbA1c result, found by its display"
    );
    // What a person types is words, not query syntax: a stray quote or
    // bracket is no error, and `*` is not a prefix operator.
    let find = |text: &str| {
        store
            .search(
                text,
                &Query {
                    limit: 500,
                    ..Query::default()
                },
            )
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .len()
    };
    assert_eq!(find("hemoglobin\""), a1c.len());
    assert_eq!(find("(hemoglobin"), a1c.len());
    assert_eq!(find("hemo*"), 0);
    assert_eq!(find("\"unbalanced AND ("), 0);
    // Not a byte of the records is readable on disk: in the database once the
    // sync has settled, in the write-ahead log while a write is in it (the
    // same records stored again, as from another holder), and once closed.
    w.settle();
    let again: Vec<Record> = counts
        .iter()
        .flat_map(|c| store.records(&c.holder, &c.resource_type).unwrap())
        .map(|json| {
            let v: serde_json::Value = serde_json::from_str(&json).unwrap();
            Record::new(
                v["resourceType"].as_str().unwrap().into(),
                v["id"].as_str().map(str::to_string),
                RawValue::from_string(json).unwrap(),
            )
        })
        .collect();
    let mut store = store;
    let refs: Vec<&Record> = again.iter().collect();
    store
        .replace(
            "https://copy.example/fhir",
            &jti,
            &Person::default(),
            1,
            &refs,
        )
        .unwrap();
    let open_bytes = store_bytes(dir.path());
    let wal = walk(dir.path())
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with("records.db-wal"))
        .expect("an open store keeps a write-ahead log");
    assert!(
        std::fs::metadata(&wal).unwrap().len() > 16 * 4096,
        "the write is in the log"
    );
    drop(reader);
    drop(store);
    let closed_bytes = store_bytes(dir.path());
    for (when, bytes) in [("open", open_bytes), ("closed", closed_bytes)] {
        assert!(bytes.len() > 4096);
        for plain in [
            "Rivera",
            "1984-03-12",
            "MRN-H1-01000",
            "Observation",
            "resourceType",
            "SQLite format 3",
            "h1-ana",
        ] {
            assert!(
                !contains(&bytes, plain),
                "{plain} is readable in the store's files ({when})"
            );
        }
    }
}

/// A sync's commits stay in the write-ahead log until it has said done; the
/// log is folded into the database after, and `settle` waits for that: the
/// database file alone, copied without its log, then holds every record.
#[tokio::test]
async fn once_a_sync_settles_the_database_file_alone_holds_its_records() {
    let (sb, _dir, w, _) = with_ticket(1, "settle").await;
    for h in &sb.holders {
        w.add_holder(&h.fhir_base(), None, None).await.unwrap();
    }
    // Open beside the sync, as the window is: the sync's own connection
    // closing is then not what folds the log.
    let reader = w.record_store().unwrap();
    let report = w.sync(SyncOptions::default(), None).await.unwrap();
    assert!(report.outcomes.iter().all(|o| o.status == "synced"));
    let synced: usize = report.outcomes.iter().map(|o| o.resources).sum();
    w.settle();

    let copy = tempfile::tempdir().unwrap();
    let path = copy.path().join("records.db");
    std::fs::copy(w.vault().dir().join("records.db"), &path).unwrap();
    let alone = RecordStore::open(&path, &w.vault().database_key(false).unwrap()).unwrap();
    let counts = alone.counts().unwrap();
    assert_eq!(counts.iter().map(|c| c.count).sum::<usize>(), synced);
    assert_eq!(
        alone.timeline(&Query::default()).unwrap(),
        reader.timeline(&Query::default()).unwrap(),
        "the record view reads the same from the file alone"
    );
    // A first sync writes its sets without some of the view's indexes, and
    // builds them after: settled, the store is whole.
    assert_eq!(alone.check().unwrap(), Vec::<String>::new());
}

#[tokio::test]
async fn a_wrong_key_is_refused_and_destroys_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let w = open(dir.path(), "wrongkey");
    let path = w.vault().dir().join("records.db");
    let mut store = w.record_store().unwrap();
    let rec = record("Condition", "c1");
    store
        .replace(
            "https://h.example/fhir",
            "t1",
            &Person::default(),
            1,
            &[&rec],
        )
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
    record_with(ty, id, "")
}

/// A record with more members after its type and id (`fields` starts with a comma).
fn record_with(ty: &str, id: &str, fields: &str) -> Record {
    let json = format!(r#"{{"resourceType":"{ty}","id":"{id}"{fields}}}"#);
    Record::new(
        ty.into(),
        Some(id.into()),
        RawValue::from_string(json).unwrap(),
    )
}

/// Every record in the store: what it shows, and when its copy was written.
fn rows_of(store: &RecordStore) -> Vec<(Option<String>, i64)> {
    store
        .timeline(&Query {
            limit: 1000,
            ..Query::default()
        })
        .unwrap()
        .into_iter()
        .map(|i| (i.display, store.copies(i.id).unwrap()[0].fetched_at))
        .collect()
}

#[tokio::test]
async fn a_resync_that_brings_the_same_set_writes_no_record_and_a_change_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let w = open(dir.path(), "unchanged");
    let mut store = w.record_store().unwrap();
    let h = "https://h.example/fhir";
    let cond = |text: &str| {
        record_with(
            "Condition",
            "a",
            &format!(r#","recordedDate":"2024-05-01","code":{{"text":"{text}"}}"#),
        )
    };
    let c = record_with(
        "Observation",
        "c",
        r#","effectiveDateTime":"2024-06-01","code":{"text":"HbA1c"}"#,
    );
    let a = cond("Asthma");
    let first = store
        .replace(h, "t1", &Person::default(), 1, &[&a, &c])
        .unwrap();
    assert!(!first.unchanged);
    let before = rows_of(&store);
    assert_eq!(before.len(), 2);

    // The same set in another order (types arrive as their pages finish).
    let again = store
        .replace(h, "t1", &Person::default(), 2, &[&c, &a])
        .unwrap();
    assert!(again.unchanged, "{again:?}");
    assert_eq!(
        rows_of(&store),
        before,
        "the rows of the first sync, not rewritten"
    );
    assert!(before.iter().all(|(_, at)| *at == 1), "{before:?}");

    // One record changed at the holder: that record alone is written, and shows.
    let changed = cond("Asthma, resolved");
    let third = store
        .replace(h, "t1", &Person::default(), 3, &[&changed, &c])
        .unwrap();
    assert!(!third.unchanged);
    assert_eq!(third.written, 1, "{third:?}");
    let mut after = rows_of(&store);
    after.sort_by_key(|(_, at)| *at);
    assert_eq!(
        after,
        [
            (Some("HbA1c".to_string()), 1),
            (Some("Asthma, resolved".to_string()), 3)
        ],
        "the unchanged record keeps the time it was first received"
    );
    assert!(store.check().unwrap().is_empty());
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
        store
            .replace(h, "t1", &Person::default(), 1, &[&a, &b, &c])
            .unwrap(),
        Replaced {
            stored: 3,
            removed: 0,
            written: 3,
            unchanged: false
        }
    );
    // Another ticket's records at the same holder are a separate set.
    store
        .replace(h, "t2", &Person::default(), 1, &[&a])
        .unwrap();
    assert_eq!(
        store
            .replace(h, "t1", &Person::default(), 2, &[&a, &c])
            .unwrap(),
        Replaced {
            stored: 2,
            removed: 1,
            written: 0,
            unchanged: false
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

/// The sandbox's holders 1 and 3 both hold Ana's diabetes diagnosis, an HbA1c
/// result and a vaccination with one registry identifier, which holder 3
/// dates a day later.
#[tokio::test]
async fn overlapping_holders_merge_into_one_record_with_the_conflict_flagged() {
    let (sb, _dir, w, _) = with_ticket(3, "merge").await;
    // Holder 2 has two patients called Ana Rivera and would ask who is meant.
    let (h1, h3) = (sb.holders[0].fhir_base(), sb.holders[2].fhir_base());
    for base in [&h1, &h3] {
        w.add_holder(base, None, None).await.unwrap();
    }
    let report = w.sync(SyncOptions::default(), None).await.unwrap();
    assert_eq!(report.outcomes.len(), 2);
    assert!(report.outcomes.iter().all(|o| o.status == "synced"));
    let store = w.record_store().unwrap();

    // One person, known at both holders under their own ids.
    let people = store.people().unwrap();
    assert_eq!(people.len(), 1);
    let ana = &people[0];
    assert_eq!(ana.name.as_deref(), Some("Ana Rivera"));
    assert_eq!(ana.birth_date.as_deref(), Some("1984-03-12"));
    let mut ids: Vec<_> = ana.at.iter().map(|a| a.patient_id.clone()).collect();
    ids.sort();
    assert_eq!(ids, [Some("h1-ana".into()), Some("h3-ana".into())]);
    assert!(ana.at.iter().all(|a| a.matches));
    assert!(
        ana.at
            .iter()
            .all(|a| a.name.as_deref() == Some("Ana Rivera")),
        "each holder's own name for her: {:?}",
        ana.at
    );
    let stored: usize = report.outcomes.iter().map(|o| o.resources).sum();
    assert!(ana.records < stored, "copies count once");

    let all = |category: &'static str| {
        store
            .timeline(&Query {
                person: Some(ana.id),
                category: Some(category),
                limit: 10_000,
                ..Query::default()
            })
            .unwrap()
    };
    let holders_of = |i: &wallet_core::store::Item| {
        let mut h: Vec<String> = i.sources.iter().map(|s| s.holder.clone()).collect();
        h.sort();
        h.dedup();
        h
    };
    let both = vec![h1.clone(), h3.clone()];

    let diabetes: Vec<_> = all("conditions")
        .into_iter()
        .filter(|i| i.display.as_deref() == Some("Type 2 diabetes mellitus"))
        .collect();
    assert_eq!(diabetes.len(), 1, "{diabetes:?}");
    assert_eq!(holders_of(&diabetes[0]), both);
    assert!(!diabetes[0].conflict);

    let a1c: Vec<_> = all("labs")
        .into_iter()
        .filter(|i| i.date.as_deref() == Some("2023-06-01") && i.value == Some(7.4))
        .collect();
    assert_eq!(a1c.len(), 1, "{a1c:?}");
    assert_eq!(holders_of(&a1c[0]), both);
    let point = store
        .series("4548-4", Some(ana.id))
        .unwrap()
        .into_iter()
        .filter(|p| p.date == "2023-06-01" && p.value == 7.4)
        .count();
    assert_eq!(point, 1, "one point on the chart");

    let shots = all("immunizations");
    assert_eq!(shots.len(), 1, "{shots:?}");
    let shot = &shots[0];
    assert!(shot.conflict);
    assert_eq!(shot.differs, ["date"]);
    let mut dates: Vec<_> = shot.sources.iter().filter_map(|s| s.date.clone()).collect();
    dates.sort();
    assert_eq!(dates, ["2021-04-20", "2021-04-21"]);
    let copies = store.copies(shot.id).unwrap();
    assert_eq!(copies.len(), 2, "both versions are kept");
    assert!(
        copies
            .iter()
            .any(|c| c.holder == h3 && c.json.contains("2021-04-21"))
    );

    // The merged Bundle: the agreeing HbA1c once, naming the other holder;
    // both versions of the vaccination, tagged; each Patient linking the other.
    let bundle: serde_json::Value =
        serde_json::from_str(&store.export_merged(Some(ana.id)).unwrap()).unwrap();
    let entries = bundle["entry"].as_array().unwrap();
    let is_shared_a1c = |r: &serde_json::Value| {
        r["code"]["coding"][0]["code"] == "4548-4"
            && r["effectiveDateTime"] == "2023-06-01"
            && r["valueQuantity"]["value"] == 7.4
            && r["resourceType"] == "Observation"
    };
    let a1c: Vec<_> = entries
        .iter()
        .filter(|e| is_shared_a1c(&e["resource"]))
        .collect();
    assert_eq!(a1c.len(), 1);
    let other = a1c[0]["resource"]["extension"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["url"] == ALSO_FROM)
        .unwrap();
    assert!(
        other["valueUri"]
            .as_str()
            .unwrap()
            .contains("/Observation/")
    );
    assert!(a1c[0]["fullUrl"].as_str().unwrap().starts_with("http"));
    let shots: Vec<_> = entries
        .iter()
        .filter(|e| e["resource"]["identifier"][0]["value"] == "IMM-2021-0042")
        .collect();
    assert_eq!(shots.len(), 2);
    assert!(
        shots
            .iter()
            .all(|e| e["resource"]["meta"]["tag"][0]["code"] == "conflict")
    );
    let patients: Vec<_> = entries
        .iter()
        .filter(|e| e["resource"]["resourceType"] == "Patient")
        .collect();
    assert_eq!(patients.len(), 2);
    for p in &patients {
        let link = p["resource"]["link"][0]["other"]["reference"]
            .as_str()
            .unwrap();
        assert_ne!(Some(link), p["fullUrl"].as_str());
        assert!(link.ends_with("-ana"));
    }

    // The summary a doctor reads says the same.
    let html = wallet_core::summary::html(&store, Some(ana.id), "2026-11-22", &Default::default())
        .unwrap();
    assert!(html.contains("Ana Rivera"));
    assert!(html.contains("Sources disagree on the date: 2021-04-20 / 2021-04-21"));
    assert_eq!(html.matches("Type 2 diabetes mellitus").count(), 1);
    assert!(html.contains("<svg"), "a trend for the HbA1c series");
}

/// A first sync writes a holder's pages as they arrive. One stopped part
/// way (here by its record budget, after several pages) shows nothing of
/// that holder and leaves no page in the file; the next sync stores the
/// whole set.
#[tokio::test]
async fn a_first_sync_stopped_part_way_leaves_no_page_behind() {
    let (sb, _dir, w, _) = with_ticket(1, "stopped").await;
    let base = sb.holders[0].fhir_base();
    w.add_holder(&base, None, None).await.unwrap();
    let all = sb.holders[0].resource_count();
    let small_pages = |max_holder_records: usize| SyncOptions {
        limits: wallet_core::engine::Limits {
            page_size: 10,
            max_holder_records,
            ..Default::default()
        },
        ..Default::default()
    };
    let stopped = w.sync(small_pages(all / 2), None).await.unwrap();
    assert_eq!(
        stopped.outcomes[0].status, "failed",
        "{:?}",
        stopped.outcomes
    );
    w.settle();
    let store = w.record_store().unwrap();
    assert!(store.counts().unwrap().is_empty());
    assert_eq!(store.staged_rows().unwrap(), 0, "pages left in the file");
    assert_eq!(store.check().unwrap(), Vec::<String>::new());
    drop(store);

    let whole = w.sync(small_pages(usize::MAX), None).await.unwrap();
    assert_eq!(whole.outcomes[0].status, "synced", "{:?}", whole.outcomes);
    w.settle();
    let store = w.record_store().unwrap();
    let stored: usize = store.counts().unwrap().iter().map(|c| c.count).sum();
    assert_eq!(stored, whole.outcomes[0].resources);
    assert_eq!(store.staged_rows().unwrap(), 0);
    assert_eq!(store.check().unwrap(), Vec::<String>::new());
}
