//! The specification's own signed examples: decoded, verified, and judged
//! with the clock pinned inside their validity.

#![allow(clippy::unwrap_used)]

use permission_ticket::{
    CheckStatus, DEFAULT_CLOCK_SKEW, Generation, InspectOptions, IssuerKeys, Jwk, Jwks,
    PresenterBinding, Report, RevocationInput, TicketError, TicketType, decode, inspect,
};

const V: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors");
/// 2026-07-15 17:43:33 UTC: inside every 2026-07 ticket's validity.
const JULY: i64 = 1_784_136_813 + 600;
/// Inside the seed tickets' validity (2026-04-12 00:30:30 + 10 min).
const APRIL: i64 = 1_775_953_830 + 600;
const BINDING_JKT: &str = "JuI6ibZHcMPQICaIZ55PbXpnsudQmKt00D0BiEXNrMc";

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{V}/{path}")).expect("vector file")
}

fn issuer_keys(set: &str) -> IssuerKeys {
    IssuerKeys::Keys(Jwks::from_json(&read(&format!("{set}/issuer.jwks.json"))).expect("jwks"))
}

fn opts(set: &str, now: i64, wallet_jkt: Option<&'static str>) -> InspectOptions<'static> {
    InspectOptions {
        now,
        clock_skew: DEFAULT_CLOCK_SKEW,
        issuer_keys: issuer_keys(set),
        wallet_jkt,
        revocation: RevocationInput::NotChecked,
    }
}

fn status(report: &Report, id: &str) -> CheckStatus {
    report
        .check(id)
        .unwrap_or_else(|| panic!("no check {id}"))
        .status
}

#[test]
fn key_ids_are_rfc7638_thumbprints() {
    for set in ["2026-07", "seed-2026-04"] {
        let issuer: Jwk =
            serde_json::from_str(&read(&format!("{set}/issuer.public.json"))).unwrap();
        assert_eq!(issuer.thumbprint().unwrap(), issuer.kid.clone().unwrap());
        let client: Jwk =
            serde_json::from_str(&read(&format!("{set}/client.public.json"))).unwrap();
        assert_eq!(client.thumbprint().unwrap(), BINDING_JKT);
    }
    let evidence: Jwk = serde_json::from_str(&read("2026-07/evidence-issuer.public.json")).unwrap();
    assert_eq!(
        evidence.thumbprint().unwrap(),
        "f-SSJjbCWPI2rmShWJ504zKC-LoMmXirVutIkkrlnfg"
    );
}

#[test]
fn every_current_example_decodes_into_the_model() {
    let cases = [
        ("uc1-ticket.jwt", TicketType::PatientSelfAccess),
        ("uc1-evidence-ticket.jwt", TicketType::PatientSelfAccess),
        ("uc2-ticket.jwt", TicketType::PatientDelegatedAccess),
        ("uc3-ticket.jwt", TicketType::PublicHealthInvestigation),
        ("uc5-ticket.jwt", TicketType::PayerClaimsAdjudication),
        ("payer-quality-gap-ticket.jwt", TicketType::PayerQualityGap),
    ];
    for (file, ty) in cases {
        let d = decode(&read(&format!("2026-07/{file}"))).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(d.ticket.ticket_type, ty, "{file}");
        assert_eq!(d.ticket.generation, Generation::Current, "{file}");
    }
    let uc1 = decode(&read("2026-07/uc1-ticket.jwt")).unwrap().ticket;
    assert_eq!(
        uc1.subject.patient.display_name().as_deref(),
        Some("Elena Reyes")
    );
    assert_eq!(
        uc1.subject.patient.birth_date.as_deref(),
        Some("1989-09-14")
    );
    assert_eq!(uc1.aud, vec!["https://network.org"]);
    let scopes: Vec<String> = uc1.access.scopes().iter().map(|s| s.to_string()).collect();
    assert_eq!(
        scopes,
        [
            "patient/AllergyIntolerance.rs",
            "patient/Condition.rs",
            "patient/Observation.rs",
            "patient/MedicationRequest.rs"
        ]
    );
    assert_eq!(
        uc1.access
            .data_period
            .as_ref()
            .and_then(|p| p.end.as_deref()),
        Some("2026-01-01")
    );

    let uc2 = decode(&read("2026-07/uc2-ticket.jwt")).unwrap().ticket;
    let requester = uc2.requester.unwrap();
    assert_eq!(requester.resource_type, "RelatedPerson");
    assert_eq!(requester.display_name.as_deref(), Some("Elena Reyes"));
    assert_eq!(requester.relationship[0].code.as_deref(), Some("DELEGATEE"));

    let uc3 = decode(&read("2026-07/uc3-ticket.jwt")).unwrap().ticket;
    assert!(uc3.fact_concept("reportable_condition").is_some());
    assert_eq!(uc3.access.data_holder_filter.len(), 1);

    let uc5 = decode(&read("2026-07/uc5-ticket.jwt")).unwrap().ticket;
    assert!(uc5.access.claim_linkage.is_some());
    assert!(uc5.subject.recipient_record.is_some());

    let gap = decode(&read("2026-07/payer-quality-gap-ticket.jwt"))
        .unwrap()
        .ticket;
    assert_eq!(
        gap.fact_concept("measure")
            .and_then(|m| m.coding[0].code.clone())
            .as_deref(),
        Some("CMS122v12")
    );
}

#[test]
fn seed_examples_decode_into_the_same_model() {
    let uc3 = decode(&read("seed-2026-04/uc3-ticket.jwt")).unwrap().ticket;
    assert_eq!(uc3.generation, Generation::Seed);
    assert_eq!(uc3.ticket_type, TicketType::PublicHealthInvestigation);
    // The seed's `context.reportable_condition` lands where the newer top-level claim does.
    assert!(uc3.fact_concept("reportable_condition").is_some());
    let scopes: Vec<String> = uc3.access.scopes().iter().map(|s| s.to_string()).collect();
    assert_eq!(
        scopes,
        [
            "patient/Condition.rs",
            "patient/Observation.rs",
            "patient/DiagnosticReport.rs"
        ]
    );
    assert_eq!(uc3.access.sensitive_data.as_deref(), Some("include"));

    let uc4 = decode(&read("seed-2026-04/uc4-ticket.jwt")).unwrap().ticket;
    assert_eq!(uc4.ticket_type, TicketType::SocialCareReferral);
    assert!(uc4.facts.contains_key("referral"));
    assert!(matches!(
        uc4.presenter_binding,
        Some(PresenterBinding::TrustFrameworkClient { ref framework_type, .. }) if framework_type == "well-known"
    ));
    let uc6 = decode(&read("seed-2026-04/uc6-ticket.jwt")).unwrap().ticket;
    assert_eq!(uc6.ticket_type, TicketType::ResearchStudyAccess);
    assert!(uc6.facts.contains_key("study"));
}

#[test]
fn signatures_verify_against_the_issuer_key_set() {
    for file in [
        "uc1-ticket.jwt",
        "uc1-evidence-ticket.jwt",
        "uc2-ticket.jwt",
        "uc3-ticket.jwt",
        "uc5-ticket.jwt",
        "payer-quality-gap-ticket.jwt",
    ] {
        let d = decode(&read(&format!("2026-07/{file}"))).unwrap();
        let r = inspect(&d, &opts("2026-07", JULY, None));
        assert_eq!(
            status(&r, "signature"),
            CheckStatus::Pass,
            "{file}: {:?}",
            r.checks
        );
        assert_eq!(status(&r, "expiry"), CheckStatus::Pass, "{file}");
        assert_eq!(
            status(&r, "type_rules"),
            CheckStatus::Pass,
            "{file}: {:?}",
            r.check("type_rules")
        );
        assert_eq!(status(&r, "access"), CheckStatus::Pass, "{file}");
    }
    for file in [
        "uc2-ticket.jwt",
        "uc3-ticket.jwt",
        "uc4-ticket.jwt",
        "uc6-ticket.jwt",
    ] {
        let d = decode(&read(&format!("seed-2026-04/{file}"))).unwrap();
        let r = inspect(&d, &opts("seed-2026-04", APRIL, None));
        assert_eq!(status(&r, "signature"), CheckStatus::Pass, "{file}");
        assert_eq!(
            status(&r, "type_rules"),
            CheckStatus::Pass,
            "{file}: {:?}",
            r.check("type_rules")
        );
    }
}

#[test]
fn self_access_example_is_usable_by_the_bound_key_only() {
    let d = decode(&read("2026-07/uc1-ticket.jwt")).unwrap();
    let mine = inspect(&d, &opts("2026-07", JULY, Some(BINDING_JKT)));
    assert!(mine.usable(), "{:?}", mine.failures());

    let other = inspect(&d, &opts("2026-07", JULY, Some("someone-elses-thumbprint")));
    assert!(!other.usable());
    assert!(matches!(
        other.first_failure(),
        Some(TicketError::BoundToOtherKey { ticket_jkt, .. }) if ticket_jkt == BINDING_JKT
    ));
}

#[test]
fn examples_have_expired_by_now_and_say_when() {
    let d = decode(&read("2026-07/uc1-ticket.jwt")).unwrap();
    let r = inspect(&d, &opts("2026-07", 1_795_000_000, Some(BINDING_JKT)));
    assert!(!r.usable());
    assert_eq!(
        r.first_failure().unwrap().to_string(),
        "this ticket expired on 2026-07-15 18:33:33 UTC"
    );
}

#[test]
fn trust_framework_bound_examples_name_their_presenter() {
    let d = decode(&read("2026-07/uc3-ticket.jwt")).unwrap();
    let r = inspect(&d, &opts("2026-07", JULY, Some(BINDING_JKT)));
    assert_eq!(status(&r, "presenter_binding"), CheckStatus::Fail);
    assert!(
        r.check("presenter_binding")
            .unwrap()
            .detail
            .contains("https://state.example.gov/organizations/epi-unit")
    );
}

#[test]
fn embedded_identity_evidence_is_summarised_not_exposed() {
    let d = decode(&read("2026-07/uc1-evidence-ticket.jwt")).unwrap();
    let r = inspect(&d, &opts("2026-07", JULY, Some(BINDING_JKT)));
    let ev = r.check("identity_evidence").unwrap();
    assert_eq!(ev.status, CheckStatus::Pass);
    assert!(
        ev.detail.contains("https://id.example-csp.org"),
        "{}",
        ev.detail
    );
    // The token itself (PII) never appears in the serialised model.
    let json = serde_json::to_string(&d.ticket).unwrap();
    assert!(!json.contains("eyJ"), "{json}");
}

#[test]
fn tampered_example_fails_signature() {
    let jwt = read("2026-07/uc1-ticket.jwt");
    let parts: Vec<&str> = jwt.split('.').collect();
    let claims = permission_ticket::base64url::decode(parts[1]).unwrap();
    let forged = String::from_utf8(claims).unwrap().replace("Elena", "Elana");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        permission_ticket::base64url::encode(forged),
        parts[2]
    );
    let d = decode(&tampered).unwrap();
    let r = inspect(&d, &opts("2026-07", JULY, Some(BINDING_JKT)));
    assert_eq!(status(&r, "signature"), CheckStatus::Fail);
    assert_eq!(
        r.first_failure().unwrap().to_string(),
        "signature does not match any key published by https://trusted-issuer.org"
    );
}

#[test]
fn signature_from_another_key_set_is_refused() {
    // The evidence issuer's key set does not hold the ticket issuer's key.
    let d = decode(&read("2026-07/uc1-ticket.jwt")).unwrap();
    let mut o = opts("2026-07", JULY, Some(BINDING_JKT));
    o.issuer_keys =
        IssuerKeys::Keys(Jwks::from_json(&read("2026-07/evidence-issuer.jwks.json")).unwrap());
    let r = inspect(&d, &o);
    assert!(matches!(
        r.first_failure(),
        Some(TicketError::UnknownKey { .. })
    ));
}
