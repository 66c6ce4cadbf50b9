//! The wallet's ticket handling end to end: a real issuer over loopback HTTP,
//! real crypto, the real Secret Service (run through `make test`).

#![allow(clippy::unwrap_used)]

use permission_ticket::TicketType;
use sandbox::{Issuer, MintRequest};
use vault::Backend;
use wallet_core::{InspectRequest, Wallet, WalletError, WalletOptions};

fn wallet(dir: &std::path::Path, profile: &str) -> Wallet {
    Wallet::open(WalletOptions {
        profile: format!("{profile}-{}", std::process::id()),
        data_dir: dir.into(),
        backend: Backend::SecretService,
    })
    .unwrap_or_else(|e| panic!("{e} (run through `make test`, which starts a keyring)"))
}

fn mint(issuer: &Issuer, ty: TicketType, jkt: &str) -> String {
    issuer
        .mint(&MintRequest::new(ty, Some(jkt.into())))
        .unwrap()
}

#[tokio::test]
async fn every_type_imports_lists_and_reloads() {
    let issuer = Issuer::start(0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let w = wallet(dir.path(), "all");
    let jkt = w.key_info().unwrap().jkt;
    for ty in TicketType::KNOWN {
        let result = w
            .import(&mint(&issuer, ty.clone(), &jkt), "test")
            .await
            .unwrap();
        assert_eq!(result.outcome, "added", "{ty}");
        assert_eq!(result.notice, None, "{ty}");
        assert!(result.ticket.usable, "{ty}: {:?}", result.ticket.checks);
        assert!(
            result.ticket.checks.iter().all(|c| c.status == "pass"),
            "{ty}: {:?}",
            result.ticket.checks
        );
    }
    let listed = w.list().unwrap();
    assert_eq!(listed.len(), TicketType::KNOWN.len());
    // A fresh wallet on the same profile (a restart) reads them back from the keyring.
    let first = listed[0].jti.clone();
    drop(w);
    let again = Wallet::open(WalletOptions {
        profile: format!("all-{}", std::process::id()),
        data_dir: dir.path().into(),
        backend: Backend::SecretService,
    })
    .unwrap();
    let view = again.ticket(&first).await.unwrap();
    assert!(view.usable);
    assert_eq!(view.patient.name.as_deref(), Some("Ana Rivera"));
}

#[tokio::test]
async fn duplicates_are_recognised() {
    let issuer = Issuer::start(0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let w = wallet(dir.path(), "dup");
    let t = mint(
        &issuer,
        TicketType::PatientSelfAccess,
        &w.key_info().unwrap().jkt,
    );
    assert_eq!(w.import(&t, "paste").await.unwrap().outcome, "added");
    assert_eq!(
        w.import(&format!("web+ticket:{t}"), "link")
            .await
            .unwrap()
            .outcome,
        "already_present"
    );
    assert_eq!(w.list().unwrap().len(), 1);
}

#[tokio::test]
async fn tampered_ticket_is_refused_and_nothing_is_kept() {
    let issuer = Issuer::start(0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let w = wallet(dir.path(), "tamper");
    let t = mint(
        &issuer,
        TicketType::PatientSelfAccess,
        &w.key_info().unwrap().jkt,
    );
    let parts: Vec<&str> = t.split('.').collect();
    let claims = permission_ticket::base64url::decode(parts[1]).unwrap();
    let forged = String::from_utf8(claims)
        .unwrap()
        .replace("Rivera", "Riviera");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        permission_ticket::base64url::encode(forged),
        parts[2]
    );
    let err = w.import(&tampered, "paste").await.unwrap_err();
    assert_eq!(err.code(), "bad_signature");
    // A forged ticket does not get to make the wallet fetch the address it names.
    assert_eq!(issuer.status_fetches(), 0);
    assert_eq!(
        err.to_string(),
        format!(
            "this ticket cannot be added: signature does not match any key published by {}",
            issuer.url()
        )
    );
    assert!(w.list().unwrap().is_empty());
}

#[tokio::test]
async fn tickets_for_another_key_or_expired_are_refused() {
    let issuer = Issuer::start(0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let w = wallet(dir.path(), "refuse");
    let other = mint(
        &issuer,
        TicketType::PatientSelfAccess,
        "not-this-wallets-thumbprint",
    );
    assert_eq!(
        w.import(&other, "paste").await.unwrap_err().code(),
        "bound_elsewhere"
    );

    let mut req = MintRequest::new(
        TicketType::PatientSelfAccess,
        Some(w.key_info().unwrap().jkt),
    );
    req.lifetime = Some(-3600);
    let expired = issuer.mint(&req).unwrap();
    let err = w.import(&expired, "paste").await.unwrap_err();
    assert_eq!(err.code(), "ticket_expired");
    assert!(err.to_string().contains("this ticket expired on"), "{err}");
    assert!(w.list().unwrap().is_empty());
}

#[tokio::test]
async fn revocation_is_seen_on_the_next_look() {
    let issuer = Issuer::start(0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let w = wallet(dir.path(), "revoke");
    let t = mint(
        &issuer,
        TicketType::PatientDelegatedAccess,
        &w.key_info().unwrap().jkt,
    );
    let jti = w.import(&t, "paste").await.unwrap().ticket.jti;
    assert_eq!(issuer.status_fetches(), 1);
    issuer.revoke(&jti).unwrap();
    let view = w.ticket(&jti).await.unwrap();
    assert!(!view.usable);
    assert_eq!(
        view.problem.as_deref(),
        Some("the issuer has revoked this ticket")
    );
    // Another profile cannot take it over: it is bound to the first profile's key.
    let w2 = wallet(dir.path(), "revoke2");
    assert_eq!(
        w2.import(&t, "paste").await.unwrap_err().code(),
        "bound_elsewhere"
    );
}

#[tokio::test]
async fn unreachable_issuer_keeps_the_ticket_as_unverified() {
    let issuer = Issuer::start(0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let w = wallet(dir.path(), "offline");
    let t = mint(
        &issuer,
        TicketType::PatientSelfAccess,
        &w.key_info().unwrap().jkt,
    );
    drop(issuer); // the issuer goes away
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let result = w.import(&t, "paste").await.unwrap();
    assert_eq!(result.outcome, "added");
    let notice = result.notice.unwrap();
    assert!(
        notice.starts_with("kept, but not yet verified: the issuer's keys could not be obtained"),
        "{notice}"
    );
    let listed = w.list().unwrap();
    assert_eq!(listed.len(), 1);
    assert!(
        !listed[0].verified,
        "marked as not yet verified in the index"
    );
}

/// Only trouble that may pass keeps a ticket unverified: an issuer address
/// the wallet refuses, or one whose key set is not there, refuses the ticket.
#[tokio::test]
async fn an_issuer_that_will_not_answer_refuses_the_ticket() {
    let issuer = Issuer::start(0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let w = wallet(dir.path(), "refused-issuer");
    let jkt = w.key_info().unwrap().jkt;
    for iss in [
        // Plain HTTP to another machine: never fetched.
        "http://issuer.example".to_string(),
        // The issuer's own server, where no key set is published: 404.
        format!("{}/nowhere", issuer.url()),
    ] {
        let mut req = MintRequest::new(TicketType::PatientSelfAccess, Some(jkt.clone()));
        req.extra_claims = Some(
            serde_json::json!({ "iss": iss })
                .as_object()
                .unwrap()
                .clone(),
        );
        let err = w
            .import(&issuer.mint(&req).unwrap(), "paste")
            .await
            .unwrap_err();
        assert_eq!(err.code(), "issuer_keys_unavailable", "{iss}: {err}");
        assert!(w.list().unwrap().is_empty(), "{iss}: kept");
    }
}

#[tokio::test]
async fn inspect_offline_with_a_local_key_set() {
    let issuer = Issuer::start(0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let w = wallet(dir.path(), "inspect");
    let t = mint(
        &issuer,
        TicketType::PublicHealthInvestigation,
        &w.key_info().unwrap().jkt,
    );
    let view = w
        .inspect(
            &t,
            &InspectRequest {
                jwks: Some(issuer.jwks()),
                at: None,
                offline: true,
            },
        )
        .await
        .unwrap();
    assert!(view.usable, "{:?}", view.checks);
    assert_eq!(
        view.checks
            .iter()
            .find(|c| c.id == "revocation")
            .unwrap()
            .status,
        "skip"
    );
    assert_eq!(view.facts[0].display, "Measles");
    assert!(matches!(
        w.inspect("garbage", &InspectRequest::default()).await,
        Err(WalletError::NoTicketFound)
    ));
}

#[tokio::test]
async fn removal() {
    let issuer = Issuer::start(0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let w = wallet(dir.path(), "remove");
    let t = mint(
        &issuer,
        TicketType::PatientSelfAccess,
        &w.key_info().unwrap().jkt,
    );
    let jti = w.import(&t, "paste").await.unwrap().ticket.jti;
    w.remove(&jti).unwrap();
    assert!(w.list().unwrap().is_empty());
    assert_eq!(w.ticket(&jti).await.unwrap_err().code(), "no_such_ticket");
}
