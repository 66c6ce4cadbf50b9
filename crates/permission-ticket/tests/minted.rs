//! Tickets minted here, for every type and for every way a ticket can be bad.

#![allow(clippy::unwrap_used)]

use p256::ecdsa::SigningKey;
use permission_ticket::jws::Es256Signer;
use permission_ticket::{
    CheckStatus, DEFAULT_CLOCK_SKEW, InspectOptions, IssuerKeys, Jwk, Jwks, Report,
    RevocationInput, StatusList, TicketError, TicketType, base64url, decode, inspect,
};
use serde_json::{Map, Value, json};

const NOW: i64 = 1_800_000_000;
const ISS: &str = "https://issuer.example.test";

struct Issuer {
    key: Es256Signer,
    jwk: Jwk,
}

impl Issuer {
    fn new() -> Self {
        let key = SigningKey::random(&mut rand_core::OsRng);
        let jwk = Jwk::from_p256(key.verifying_key());
        Self {
            key: Es256Signer::new(key),
            jwk,
        }
    }
    fn jwks(&self) -> Jwks {
        Jwks {
            keys: vec![self.jwk.clone()],
        }
    }
    fn header(&self) -> Map<String, Value> {
        let mut h = Map::new();
        h.insert("kid".into(), self.jwk.kid.clone().unwrap().into());
        h
    }
    fn sign(&self, claims: &Value) -> String {
        self.key.sign(self.header(), claims)
    }
}

struct Wallet {
    jkt: String,
}

fn wallet() -> Wallet {
    let key = SigningKey::random(&mut rand_core::OsRng);
    Wallet {
        jkt: Jwk::from_p256(key.verifying_key()).thumbprint().unwrap(),
    }
}

fn base(ty: &str, jkt: &str) -> Value {
    json!({
        "iss": ISS,
        "aud": ["https://holder.example.test/fhir"],
        "exp": NOW + 3600,
        "iat": NOW - 60,
        "jti": format!("jti-{ty}"),
        "ticket_type": format!("https://smarthealthit.org/permission-ticket-type/{ty}"),
        "presenter_binding": { "method": "jkt", "jkt": jkt },
        "subject": { "patient": { "resourceType": "Patient", "name": [{ "family": "Doe", "given": ["Jan"] }], "birthDate": "1970-01-01" } },
        "access": { "smart_scopes": ["patient/Condition.rs", "patient/Observation.rs?category=laboratory"] }
    })
}

fn org() -> Value {
    json!({ "resourceType": "Organization", "name": "Example Org" })
}
fn concept(text: &str) -> Value {
    json!({ "text": text })
}

/// A valid ticket of each type, in the current spec's shape.
fn current_ticket(ty: &TicketType, jkt: &str) -> Value {
    let slug = ty.uri().rsplit('/').next().unwrap().to_string();
    let mut t = base(&slug, jkt);
    let o = t.as_object_mut().unwrap();
    match ty {
        TicketType::PatientSelfAccess => {}
        TicketType::PatientDelegatedAccess => {
            o.insert("requester".into(), json!({ "resourceType": "RelatedPerson", "relationship": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "DELEGATEE" }] }], "name": [{ "family": "Doe", "given": ["Kim"] }] }));
        }
        TicketType::PublicHealthInvestigation => {
            o.insert("requester".into(), org());
            o.insert("reportable_condition".into(), concept("Measles"));
        }
        TicketType::SocialCareReferral => {
            o.insert("requester".into(), org());
            o.insert("concern".into(), concept("Food insecurity"));
            o.insert(
                "referral".into(),
                json!({ "resourceType": "ServiceRequest", "status": "active", "intent": "order" }),
            );
        }
        TicketType::PayerClaimsAdjudication => {
            o.insert("requester".into(), org());
            o.insert(
                "access".into(),
                json!({ "claim_linkage": { "encounter": [{ "reference": "Encounter/1" }] } }),
            );
        }
        TicketType::ResearchStudyAccess => {
            o.insert("requester".into(), org());
            o.insert(
                "study".into(),
                json!({ "resourceType": "ResearchStudy", "status": "active" }),
            );
        }
        TicketType::ProviderConsult => {
            o.insert("requester".into(), json!({ "resourceType": "PractitionerRole", "practitioner": { "display": "Dr. Who" } }));
            o.insert("reason".into(), concept("Second opinion"));
            o.insert(
                "consult_request".into(),
                json!({ "resourceType": "ServiceRequest", "status": "active", "intent": "order" }),
            );
        }
        TicketType::PayerQualityGap => {
            o.insert("requester".into(), org());
            o.insert("measure".into(), concept("CMS122v12"));
            o.insert("access".into(), json!({ "smart_scopes": ["patient/Observation.rs?code=http://loinc.org|4548-4"], "data_period": { "start": "2026-01-01", "end": "2026-12-31" } }));
        }
        TicketType::Unknown(_) => unreachable!(),
    }
    t
}

/// The same ticket in the seed shape: `permissions` and `context`.
fn seed_ticket(ty: &TicketType, jkt: &str) -> Value {
    let mut t = current_ticket(ty, jkt);
    let o = t.as_object_mut().unwrap();
    let mut context = Map::new();
    for fact in [
        "reportable_condition",
        "concern",
        "referral",
        "study",
        "reason",
        "consult_request",
        "measure",
    ] {
        if let Some(v) = o.remove(fact) {
            context.insert(fact.into(), v);
        }
    }
    if *ty == TicketType::PayerClaimsAdjudication {
        context.insert("service".into(), concept("MRI"));
        context.insert(
            "claim".into(),
            json!({ "resourceType": "Claim", "status": "active", "use": "claim" }),
        );
    }
    o.insert("context".into(), Value::Object(context));
    let mut access = json!({ "permissions": [
        { "kind": "data", "resource_type": "Condition", "interactions": ["read", "search"] },
        { "kind": "data", "resource_type": "Observation", "interactions": ["search"],
          "category_any_of": [{ "system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory" }] }
    ]});
    if *ty == TicketType::PayerQualityGap {
        access = json!({ "permissions": [{ "kind": "data", "resource_type": "Observation", "interactions": ["search"], "code_any_of": [{ "system": "http://loinc.org", "code": "4548-4" }] }], "data_period": { "start": "2026-01-01" } });
    }
    o.insert("access".into(), access);
    o.insert("must_understand".into(), json!(["access"]));
    t
}

fn check(issuer: &Issuer, wallet: &Wallet, jwt: &str, revocation: RevocationInput) -> Report {
    let d = decode(jwt).unwrap_or_else(|e| panic!("decode: {e}"));
    inspect(
        &d,
        &InspectOptions {
            now: NOW,
            clock_skew: DEFAULT_CLOCK_SKEW,
            issuer_keys: IssuerKeys::Keys(issuer.jwks()),
            wallet_jkt: Some(&wallet.jkt),
            revocation,
        },
    )
}

fn first_failure(r: &Report) -> String {
    r.first_failure().map(|e| e.to_string()).unwrap_or_default()
}

#[test]
fn every_type_in_both_shapes_is_usable() {
    let issuer = Issuer::new();
    let w = wallet();
    for ty in TicketType::KNOWN {
        for (shape, claims) in [
            ("current", current_ticket(&ty, &w.jkt)),
            ("seed", seed_ticket(&ty, &w.jkt)),
        ] {
            let r = check(
                &issuer,
                &w,
                &issuer.sign(&claims),
                RevocationInput::NotChecked,
            );
            assert!(r.usable(), "{ty} ({shape}): {:?}", r.checks);
            assert_eq!(r.check("ticket_type").unwrap().detail, ty.label());
        }
    }
}

#[test]
fn seed_permissions_become_granular_scopes() {
    let w = wallet();
    let d =
        decode(&Issuer::new().sign(&seed_ticket(&TicketType::PatientSelfAccess, &w.jkt))).unwrap();
    let scopes: Vec<String> = d
        .ticket
        .access
        .scopes()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        scopes,
        [
            "patient/Condition.rs",
            "patient/Observation.s?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
        ]
    );
}

#[test]
fn refused_algorithms() {
    let issuer = Issuer::new();
    let w = wallet();
    let claims =
        base64url::encode(current_ticket(&TicketType::PatientSelfAccess, &w.jkt).to_string());
    for alg in ["none", "HS256", "ES384", "PS256"] {
        let header = base64url::encode(json!({ "alg": alg, "kid": issuer.jwk.kid }).to_string());
        let r = check(
            &issuer,
            &w,
            &format!("{header}.{claims}.c2ln"),
            RevocationInput::NotChecked,
        );
        assert_eq!(
            r.check("algorithm").unwrap().status,
            CheckStatus::Fail,
            "{alg}"
        );
        assert!(
            matches!(r.first_failure(), Some(TicketError::AlgorithmRefused { alg: a }) if a == alg)
        );
        assert_eq!(r.check("signature").unwrap().status, CheckStatus::Fail);
    }
}

#[test]
fn keys_offered_by_the_ticket_itself_are_ignored() {
    // An attacker signs with their own key, names the issuer's kid, and embeds their key.
    let issuer = Issuer::new();
    let attacker = Issuer::new();
    let w = wallet();
    let mut header = issuer.header();
    header.insert("jwk".into(), serde_json::to_value(&attacker.jwk).unwrap());
    let jwt = attacker.key.sign(
        header,
        &current_ticket(&TicketType::PatientSelfAccess, &w.jkt),
    );
    let r = check(&issuer, &w, &jwt, RevocationInput::NotChecked);
    assert_eq!(
        first_failure(&r),
        format!("signature does not match any key published by {ISS}")
    );
}

#[test]
fn a_kid_the_issuer_never_published() {
    let issuer = Issuer::new();
    let w = wallet();
    let other = Issuer::new();
    let r = check(
        &issuer,
        &w,
        &other.sign(&current_ticket(&TicketType::PatientSelfAccess, &w.jkt)),
        RevocationInput::NotChecked,
    );
    assert!(
        first_failure(&r).starts_with("no key with id"),
        "{}",
        first_failure(&r)
    );
}

#[test]
fn rs256_tickets_verify_with_rsa_issuer_keys() {
    use rsa::pkcs1v15::SigningKey as RsaSigningKey;
    use rsa::signature::{SignatureEncoding, Signer};
    use rsa::traits::PublicKeyParts;
    let private = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap();
    let public = private.to_public_key();
    let jwk = Jwk {
        kty: "RSA".into(),
        kid: Some("rsa-1".into()),
        alg: Some("RS256".into()),
        use_: None,
        crv: None,
        x: None,
        y: None,
        n: Some(base64url::encode(public.n().to_bytes_be())),
        e: Some(base64url::encode(public.e().to_bytes_be())),
    };
    let w = wallet();
    let header = base64url::encode(json!({ "alg": "RS256", "kid": "rsa-1" }).to_string());
    let claims =
        base64url::encode(current_ticket(&TicketType::PatientSelfAccess, &w.jkt).to_string());
    let input = format!("{header}.{claims}");
    let sig = RsaSigningKey::<sha2::Sha256>::new(private)
        .sign(input.as_bytes())
        .to_vec();
    let jwt = format!("{input}.{}", base64url::encode(sig));
    let d = decode(&jwt).unwrap();
    let r = inspect(
        &d,
        &InspectOptions {
            now: NOW,
            clock_skew: DEFAULT_CLOCK_SKEW,
            issuer_keys: IssuerKeys::Keys(Jwks { keys: vec![jwk] }),
            wallet_jkt: Some(&w.jkt),
            revocation: RevocationInput::NotChecked,
        },
    );
    assert!(r.usable(), "{:?}", r.checks);
}

fn with(mut claims: Value, edit: impl FnOnce(&mut Map<String, Value>)) -> Value {
    edit(claims.as_object_mut().unwrap());
    claims
}

#[test]
fn times() {
    let issuer = Issuer::new();
    let w = wallet();
    let t = current_ticket(&TicketType::PatientSelfAccess, &w.jkt);
    let cases = [
        (
            with(t.clone(), |o| {
                o.insert("exp".into(), json!(NOW - 61));
            }),
            "this ticket expired on 2027-01-15 07:58:59 UTC",
        ),
        (
            with(t.clone(), |o| {
                o.insert("nbf".into(), json!(NOW + 3000));
            }),
            "this ticket is not valid before 2027-01-15 08:50:00 UTC",
        ),
        (
            with(t.clone(), |o| {
                o.insert("iat".into(), json!(NOW + 3000));
            }),
            "this ticket claims to be issued in the future (2027-01-15 08:50:00 UTC); check this device's clock",
        ),
    ];
    for (claims, message) in cases {
        let r = check(
            &issuer,
            &w,
            &issuer.sign(&claims),
            RevocationInput::NotChecked,
        );
        assert_eq!(first_failure(&r), message);
    }
    // Within the allowed clock skew, still valid.
    let r = check(
        &issuer,
        &w,
        &issuer.sign(&with(t.clone(), |o| {
            o.insert("exp".into(), json!(NOW - 30));
        })),
        RevocationInput::NotChecked,
    );
    assert!(r.usable());
    // Times at the ends of the range are judged, not overflowed.
    let r = check(
        &issuer,
        &w,
        &issuer.sign(&with(t, |o| {
            o.insert("exp".into(), json!(i64::MAX));
            o.insert("nbf".into(), json!(i64::MIN));
        })),
        RevocationInput::NotChecked,
    );
    assert!(r.usable(), "{}", first_failure(&r));
}

#[test]
fn type_rules_are_enforced() {
    let issuer = Issuer::new();
    let w = wallet();
    let cases = [
        (
            with(
                current_ticket(&TicketType::PatientSelfAccess, &w.jkt),
                |o| {
                    o.insert("requester".into(), org());
                },
            ),
            "must not name a requester",
        ),
        (
            with(
                current_ticket(&TicketType::PatientDelegatedAccess, &w.jkt),
                |o| {
                    o.remove("requester");
                },
            ),
            "must name the requester (a RelatedPerson)",
        ),
        (
            with(current_ticket(&TicketType::ProviderConsult, &w.jkt), |o| {
                o.insert("requester".into(), org());
            }),
            "requester must be a PractitionerRole, not an Organization",
        ),
        (
            with(
                current_ticket(&TicketType::PublicHealthInvestigation, &w.jkt),
                |o| {
                    o.remove("reportable_condition");
                },
            ),
            "must state `reportable_condition`",
        ),
        (
            with(
                current_ticket(&TicketType::SocialCareReferral, &w.jkt),
                |o| {
                    o.remove("referral");
                },
            ),
            "must state `referral`",
        ),
        (
            with(
                current_ticket(&TicketType::ResearchStudyAccess, &w.jkt),
                |o| {
                    o.remove("study");
                },
            ),
            "must state `study`",
        ),
        (
            with(
                current_ticket(&TicketType::PayerClaimsAdjudication, &w.jkt),
                |o| {
                    o.insert(
                        "access".into(),
                        json!({"smart_scopes": ["patient/Claim.rs"]}),
                    );
                },
            ),
            "must link the claim",
        ),
        (
            with(current_ticket(&TicketType::PayerQualityGap, &w.jkt), |o| {
                o.insert("access".into(), json!({"smart_scopes": ["patient/Observation.rs"], "data_period": {"start": "2026-01-01"}}));
            }),
            "must be narrowed by code or category: patient/Observation.rs",
        ),
        (
            with(current_ticket(&TicketType::PayerQualityGap, &w.jkt), |o| {
                o.insert(
                    "access".into(),
                    json!({"smart_scopes": ["patient/Observation.rs?code=x|1"]}),
                );
            }),
            "must limit `access.data_period`",
        ),
        (
            with(
                current_ticket(&TicketType::PatientSelfAccess, &w.jkt),
                |o| {
                    o.remove("presenter_binding");
                },
            ),
            "must be bound to its presenter",
        ),
    ];
    for (claims, expected) in cases {
        let r = check(
            &issuer,
            &w,
            &issuer.sign(&claims),
            RevocationInput::NotChecked,
        );
        assert_eq!(
            r.check("type_rules").unwrap().status,
            CheckStatus::Fail,
            "{expected}"
        );
        assert!(
            first_failure(&r).contains(expected),
            "{} / {expected}",
            first_failure(&r)
        );
    }
}

#[test]
fn access_problems() {
    let issuer = Issuer::new();
    let w = wallet();
    let t = current_ticket(&TicketType::PatientSelfAccess, &w.jkt);
    let bad_scope = with(t.clone(), |o| {
        o.insert(
            "access".into(),
            json!({"smart_scopes": ["patient/Observation.read"]}),
        );
    });
    let r = check(
        &issuer,
        &w,
        &issuer.sign(&bad_scope),
        RevocationInput::NotChecked,
    );
    assert!(
        first_failure(&r).contains("SMART v2 permissions"),
        "{}",
        first_failure(&r)
    );

    let nothing = with(t.clone(), |o| {
        o.insert("access".into(), json!({"data_period": {"start": "2020"}}));
    });
    let r = check(
        &issuer,
        &w,
        &issuer.sign(&nothing),
        RevocationInput::NotChecked,
    );
    assert_eq!(first_failure(&r), "the ticket grants no access");

    // An access member the wallet does not know is shown, and warned about.
    let extra = with(t, |o| {
        o["access"]["https://example.org/constraint"] = json!({"x": 1});
    });
    let r = check(
        &issuer,
        &w,
        &issuer.sign(&extra),
        RevocationInput::NotChecked,
    );
    assert!(r.usable());
    let a = r.check("access").unwrap();
    assert_eq!(a.status, CheckStatus::Warn);
    assert!(a.detail.contains("https://example.org/constraint"));
}

#[test]
fn must_understand_names_the_unknown_claim() {
    let issuer = Issuer::new();
    let w = wallet();
    let t = with(seed_ticket(&TicketType::PatientSelfAccess, &w.jkt), |o| {
        o.insert(
            "must_understand".into(),
            json!(["access", "x_consent_receipt"]),
        );
        o.insert("x_consent_receipt".into(), json!("abc"));
    });
    let r = check(&issuer, &w, &issuer.sign(&t), RevocationInput::NotChecked);
    assert!(!r.usable());
    assert_eq!(
        first_failure(&r),
        "the ticket requires understanding `x_consent_receipt`, which this wallet does not know, so it cannot be used"
    );
}

#[test]
fn revocation_list() {
    let issuer = Issuer::new();
    let w = wallet();
    let t = with(
        current_ticket(&TicketType::PatientSelfAccess, &w.jkt),
        |o| {
            o.insert(
                "revocation".into(),
                json!({"url": format!("{ISS}/status/1"), "index": 42}),
            );
        },
    );
    let jwt = issuer.sign(&t);
    let mut list = StatusList::new(1024);
    let r = check(&issuer, &w, &jwt, RevocationInput::List(list.clone()));
    assert!(r.usable());
    assert_eq!(r.check("revocation").unwrap().status, CheckStatus::Pass);

    list.set_revoked(42).unwrap();
    let wire = list.to_json().to_string();
    let r = check(
        &issuer,
        &w,
        &jwt,
        RevocationInput::List(StatusList::from_json(wire.as_bytes()).unwrap()),
    );
    assert!(!r.usable());
    assert_eq!(first_failure(&r), "the issuer has revoked this ticket");

    // Unreachable list: indeterminate, not revoked; the ticket is kept usable.
    let r = check(
        &issuer,
        &w,
        &jwt,
        RevocationInput::Unavailable("connection refused".into()),
    );
    assert_eq!(r.check("revocation").unwrap().status, CheckStatus::Warn);
    assert!(r.usable());

    let r = check(&issuer, &w, &jwt, RevocationInput::List(StatusList::new(8)));
    assert_eq!(r.check("revocation").unwrap().status, CheckStatus::Warn);
}

#[test]
fn unknown_type_decodes_and_is_shown() {
    let issuer = Issuer::new();
    let w = wallet();
    let t = with(base("future-thing-v1", &w.jkt), |o| {
        o.insert(
            "ticket_type".into(),
            json!("https://example.org/ticket-types/future-thing-v1"),
        );
    });
    let r = check(&issuer, &w, &issuer.sign(&t), RevocationInput::NotChecked);
    let c = r.check("ticket_type").unwrap();
    assert_eq!(c.status, CheckStatus::Warn);
    assert!(
        c.detail
            .contains("https://example.org/ticket-types/future-thing-v1")
    );
    assert_eq!(r.check("type_rules").unwrap().status, CheckStatus::Skip);
}

#[test]
fn headers_that_make_a_token_something_else_fail_the_check() {
    let issuer = Issuer::new();
    let w = wallet();
    let claims = current_ticket(&TicketType::PatientSelfAccess, &w.jkt);
    let signed = |extra: Value| {
        let mut h = issuer.header();
        h.extend(extra.as_object().unwrap().clone());
        issuer.key.sign(h, &claims)
    };
    let plain = check(&issuer, &w, &signed(json!({})), RevocationInput::NotChecked);
    assert!(plain.usable(), "{}", first_failure(&plain));
    assert_eq!(plain.check("header").unwrap().status, CheckStatus::Pass);
    for extra in [
        json!({"crit": ["b64"], "b64": false}),
        json!({"typ": "dpop+jwt"}),
    ] {
        let r = check(
            &issuer,
            &w,
            &signed(extra.clone()),
            RevocationInput::NotChecked,
        );
        assert!(!r.usable(), "{extra}");
        assert_eq!(r.check("header").unwrap().status, CheckStatus::Fail);
        // The signature itself is fine: the header is what refuses it.
        assert_eq!(r.check("signature").unwrap().status, CheckStatus::Pass);
        assert!(
            first_failure(&r).starts_with("this is not a usable ticket: its header"),
            "{}",
            first_failure(&r)
        );
    }
}

#[test]
fn malformed_tickets_get_clear_errors() {
    let issuer = Issuer::new();
    let w = wallet();
    let good = current_ticket(&TicketType::PatientSelfAccess, &w.jkt);
    let h = base64url::encode(r#"{"alg":"ES256"}"#);
    let cases: Vec<(String, &str)> = vec![
        (
            "hello".into(),
            "this is not a ticket: a ticket is three base64url parts joined by dots, this has 1",
        ),
        (
            format!("{h}.%%%.sig"),
            "the ticket's claims is not valid base64url",
        ),
        (
            format!("{h}.{}.sig", base64url::encode("not json")),
            "the ticket's claims is not valid JSON",
        ),
        (
            issuer.sign(&with(good.clone(), |o| {
                o.remove("jti");
            })),
            "the ticket has no `jti` claim, which every ticket must carry",
        ),
        (
            issuer.sign(&with(good.clone(), |o| {
                o.insert("exp".into(), json!("tomorrow"));
            })),
            "the ticket's `exp` claim is invalid: must be a NumericDate",
        ),
        (
            issuer.sign(&with(good.clone(), |o| {
                o.insert("aud".into(), json!([]));
            })),
            "the ticket's `aud` claim is invalid",
        ),
        (
            issuer.sign(&with(good.clone(), |o| {
                o.insert("presenter_binding".into(), json!({"method": "magic"}));
            })),
            "the ticket's `presenter_binding` claim is invalid",
        ),
        (
            issuer.sign(&with(good, |o| {
                o.insert("subject".into(), json!({}));
            })),
            "the ticket's `subject` claim is invalid",
        ),
        ("a".repeat(300_000), "more than the"),
    ];
    let mut cases = cases;
    for (iss, why) in [
        (
            "https://trusted.example@evil.example",
            "must not carry a user name or password",
        ),
        ("https://issuer.example/?x=1", "must not carry a query"),
        ("https://issuer.example#frag", "must not carry a query"),
        ("ftp://issuer.example", "must be an https URL"),
        ("https:///path", "must name a host"),
        ("https://issuer.example/a b", "must not contain spaces"),
    ] {
        let claims = with(
            current_ticket(&TicketType::PatientSelfAccess, &w.jkt),
            |o| {
                o.insert("iss".into(), json!(iss));
            },
        );
        cases.push((issuer.sign(&claims), why));
    }
    for (text, expected) in cases {
        let err = decode(&text).expect_err(expected).to_string();
        assert!(
            err.starts_with(expected) || err.contains(expected),
            "{err} / {expected}"
        );
    }
}
