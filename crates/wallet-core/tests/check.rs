//! The conformance battery against the sandbox's holders over real loopback
//! HTTP: all pass (or stated not applicable) on each profile, and each
//! deliberate defect is caught by the case meant for it and nothing else.

#![allow(clippy::unwrap_used)]

use permission_ticket::TicketType;
use sandbox::{Faults, MintRequest, Profile, Sandbox, SandboxConfig};
use vault::Backend;
use wallet_core::check::{CheckReport, IssuerKey, Outcome};
use wallet_core::{Wallet, WalletOptions};

async fn setup(profile: Profile, name: &str) -> (Sandbox, tempfile::TempDir, Wallet, String) {
    let sb = Sandbox::start(SandboxConfig {
        holders: 1,
        profile,
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let w = Wallet::open(WalletOptions {
        profile: format!("check-{name}-{}", std::process::id()),
        data_dir: dir.path().into(),
        backend: Backend::SecretService,
    })
    .unwrap_or_else(|e| panic!("{e} (run through `make test`, which starts a keyring)"));
    let mut req = MintRequest::new(
        TicketType::PatientSelfAccess,
        Some(w.key_info().unwrap().jkt),
    );
    req.smart_scopes = Some(vec!["patient/*.rs".into()]);
    let ticket = sb.issuer.mint(&req).unwrap();
    w.import(&ticket, "test").await.unwrap();
    let base = sb.holders[0].fhir_base();
    (sb, dir, w, base)
}

async fn check(sb: &Sandbox, w: &Wallet, base: &str) -> CheckReport {
    let key = IssuerKey::from_jwk(&sb.issuer.test_key_jwk().to_string()).unwrap();
    w.check_holder(base, None, Some(key)).await.unwrap()
}

fn outcomes(report: &CheckReport) -> Vec<(String, Outcome, String)> {
    report
        .cases
        .iter()
        .map(|c| (c.id.clone(), c.outcome, c.detail.clone()))
        .collect()
}

#[tokio::test]
async fn every_sandbox_profile_passes_the_battery() {
    for profile in [Profile::Dpop, Profile::Bearer, Profile::Reference] {
        let (sb, _dir, w, base) = setup(profile, &format!("{profile:?}")).await;
        let report = check(&sb, &w, &base).await;
        let all = outcomes(&report);
        assert!(
            report.cases.iter().all(|c| matches!(
                c.outcome,
                Outcome::Pass | Outcome::NotApplicable | Outcome::Info
            )),
            "{profile:?}: {all:#?}"
        );
        // The period case had dated data to judge.
        let period = report.cases.iter().find(|c| c.id == "data_period").unwrap();
        assert_eq!(period.outcome, Outcome::Pass, "{}", period.detail);
        // The revoked case found the entry the sandbox's issuer keeps revoked.
        let revoked = report
            .cases
            .iter()
            .find(|c| c.id == "revoked_ticket")
            .unwrap();
        assert_eq!(revoked.outcome, Outcome::Pass, "{}", revoked.detail);
        assert!(revoked.detail.contains("entry 0"), "{}", revoked.detail);
        // Not applicable only where the holder made an allowed choice.
        let not_applicable: Vec<&str> = report
            .cases
            .iter()
            .filter(|c| c.outcome == Outcome::NotApplicable)
            .map(|c| c.id.as_str())
            .collect();
        // Tokens live 300 s here: longer than the check waits for one to expire.
        let allowed = |id: &&str| {
            *id == "expired_access_token" || (profile != Profile::Dpop && id.starts_with("dpop_"))
        };
        assert!(not_applicable.iter().all(allowed), "{all:#?}");
        // Every case that ran shows its exchanges, redacted.
        for c in &report.cases {
            if c.outcome != Outcome::NotApplicable {
                assert!(!c.evidence.is_empty(), "{}: no evidence", c.id);
                assert!(c.evidence.iter().all(|e| e.redacted), "{}", c.id);
            }
        }
    }
}

#[tokio::test]
async fn without_a_test_issuer_key_the_resigned_cases_say_why_they_did_not_run() {
    let (_sb, _dir, w, base) = setup(Profile::Dpop, "nokey").await;
    let report = w.check_holder(&base, None, None).await.unwrap();
    for id in [
        "expired_ticket",
        "wrong_audience",
        "unknown_ticket_type",
        "unknown_must_understand",
        "presenter_mismatch",
        "revoked_ticket",
        "search_beyond_scope",
        "data_period",
    ] {
        let c = report.cases.iter().find(|c| c.id == id).unwrap();
        assert_eq!(c.outcome, Outcome::NotApplicable, "{id}");
        assert!(c.detail.contains("--issuer-key"), "{}", c.detail);
    }
    assert!(report.failed().is_empty(), "{:#?}", outcomes(&report));
}

#[tokio::test]
async fn each_defect_is_caught_by_its_case_and_nothing_else() {
    let short = |accept_expired_tokens| Faults {
        token_lifetime_secs: 4,
        accept_expired_tokens,
        ..Default::default()
    };
    // Tokens that live a few seconds: the expiry case waits them out, and passes.
    let (sb, _dir, w, base) = setup(Profile::Dpop, "short").await;
    sb.holders[0].set_faults(short(false));
    let report = check(&sb, &w, &base).await;
    let expiry = report
        .cases
        .iter()
        .find(|c| c.id == "expired_access_token")
        .unwrap();
    assert_eq!(expiry.outcome, Outcome::Pass, "{}", expiry.detail);
    let defects: [(&str, Faults, &[&str]); 7] = [
        ("tokens", short(true), &["expired_access_token"]),
        (
            "expired",
            Faults {
                accept_expired_tickets: true,
                ..Default::default()
            },
            &["expired_ticket"],
        ),
        (
            "aud",
            Faults {
                ignore_ticket_aud: true,
                ..Default::default()
            },
            &["wrong_audience"],
        ),
        (
            "revocation",
            Faults {
                ignore_revocation: true,
                ..Default::default()
            },
            &["revoked_ticket"],
        ),
        (
            "period",
            Faults {
                ignore_data_period: true,
                ..Default::default()
            },
            &["data_period"],
        ),
        (
            "scope",
            Faults {
                claim_wider_scope: true,
                ..Default::default()
            },
            &["scopes_within_ticket"],
        ),
        (
            "dpop",
            Faults {
                skip_dpop_checks: true,
                ..Default::default()
            },
            &[
                "dpop_wrong_htu",
                "dpop_wrong_htm",
                "dpop_reused_proof",
                "dpop_missing_at_fhir",
                "dpop_wrong_ath",
            ],
        ),
    ];
    for (name, faults, caught) in defects {
        let (sb, _dir, w, base) = setup(Profile::Dpop, name).await;
        sb.holders[0].set_faults(faults);
        let report = check(&sb, &w, &base).await;
        assert_eq!(report.failed(), caught, "{name}: {:#?}", outcomes(&report));
    }
}

#[tokio::test]
async fn a_test_ticket_is_kept_as_such_and_presented_only_where_named() {
    let (sb, _dir, w, _base) = setup(Profile::Dpop, "workbench").await;
    w.add_holder(&sb.holders[0].fhir_base(), None, None)
        .await
        .unwrap();
    let original = w.list().unwrap()[0].jti.clone();
    // The tester's edit: the same claims, narrowed to Observations.
    let mut claims = w.ticket(&original).await.unwrap().claims;
    claims["access"]["smart_scopes"] = serde_json::json!(["patient/Observation.rs"]);
    let key = IssuerKey::from_jwk(&sb.issuer.test_key_jwk().to_string()).unwrap();
    let test = w
        .keep_test_ticket(&original, &claims.to_string(), &key)
        .unwrap();
    assert_eq!(test.source, "workbench");
    assert_ne!(test.jti, original, "a copy never stands for the original");
    assert_eq!(w.list().unwrap().len(), 2);

    // An ordinary sync presents the original only.
    let report = w.sync(Default::default(), None).await.unwrap();
    assert!(
        report
            .outcomes
            .iter()
            .all(|o| o.ticket_jti.as_deref() == Some(original.as_str())),
        "{:?}",
        report.outcomes
    );
    // Named, the test ticket is presented, and the holder keeps to it.
    let named = w
        .sync(
            wallet_core::SyncOptions {
                ticket: Some(test.jti.clone()),
                dry_run: true,
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    let o = &named.outcomes[0];
    assert_eq!(o.ticket_jti.as_deref(), Some(test.jti.as_str()));
    assert_eq!(o.status, "synced", "{o:?}");
    assert!(
        o.by_type.iter().all(|t| t.resource_type == "Observation"),
        "{:?}",
        o.by_type
    );

    // Claims that are not one JSON object are refused, and nothing is kept.
    let e = w.keep_test_ticket(&original, "[1]", &key).unwrap_err();
    assert!(e.to_string().contains("one JSON object"), "{e}");
    assert_eq!(w.list().unwrap().len(), 2);

    // A copy naming another kept ticket's jti is refused; that ticket is untouched.
    let before = w.ticket_text(&test.jti).unwrap();
    claims["jti"] = test.jti.clone().into();
    claims["exp"] = 1.into();
    let e = w
        .keep_test_ticket(&original, &claims.to_string(), &key)
        .unwrap_err();
    assert!(e.to_string().contains("already kept"), "{e}");
    assert_eq!(w.list().unwrap().len(), 2);
    assert_eq!(w.ticket_text(&test.jti).unwrap(), before);
}
