//! The sandbox's data holders over real HTTP on loopback, driven by an
//! independent client (tests/client), through every path and error code.

#![allow(clippy::unwrap_used)]

mod client;

use client::{REDIRECT, TestClient, pkce};
use permission_ticket::TicketType;
use reqwest::StatusCode;
use sandbox::{Faults, MintRequest, Profile, Sandbox, SandboxConfig, data};
use serde_json::{Value, json};

async fn sandbox(profile: Profile) -> Sandbox {
    Sandbox::start(SandboxConfig {
        holders: 3,
        profile,
        size: 120,
        ..Default::default()
    })
    .await
    .unwrap()
}

fn ticket(sb: &Sandbox, ty: TicketType, jkt: &str) -> String {
    sb.issuer
        .mint(&MintRequest::new(ty, Some(jkt.into())))
        .unwrap()
}

fn with(mut req: MintRequest, edit: impl FnOnce(&mut MintRequest)) -> MintRequest {
    edit(&mut req);
    req
}

#[tokio::test]
async fn discovery_says_what_each_profile_supports() {
    let sb = sandbox(Profile::Dpop).await;
    let c = TestClient::new();
    let config = c.config(&sb.holders[0].fhir_base()).await;
    assert!(
        config["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(client::TOKEN_EXCHANGE))
    );
    assert_eq!(
        config["smart_permission_ticket_types_supported"]
            .as_array()
            .unwrap()
            .len(),
        8
    );
    assert_eq!(
        config["dpop_signing_alg_values_supported"],
        json!(["ES256"])
    );
    assert!(
        config["authorization_endpoint"]
            .as_str()
            .unwrap()
            .ends_with("/authorize")
    );
    assert!(config["registration_endpoint"].is_string());
    assert_eq!(
        config["token_endpoint_auth_methods_supported"],
        json!(["private_key_jwt"])
    );

    let reference = sandbox(Profile::Reference).await;
    let config = c.config(&reference.holders[0].fhir_base()).await;
    assert!(config.get("dpop_signing_alg_values_supported").is_none());
    assert!(config["authorization_endpoint"].is_null());
}

#[tokio::test]
async fn dpop_exchange_then_every_page_of_records() {
    let sb = sandbox(Profile::Dpop).await;
    let base = sb.holders[0].fhir_base();
    let mut c = TestClient::new();
    c.register(&base).await;
    let t = ticket(&sb, TicketType::PatientSelfAccess, &c.jkt);
    let (status, token) = c
        .exchange(
            &base,
            &t,
            Some("patient/Observation.rs patient/Patient.rs patient/Condition.rs"),
            true,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_eq!(token["token_type"], "DPoP");
    assert_eq!(token["patient"], "h1-ana");
    assert_eq!(
        token["scope"],
        "patient/Observation.rs patient/Patient.rs patient/Condition.rs"
    );

    let patient: Value = c
        .get(&format!("{base}/Patient/h1-ana"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patient["name"][0]["given"][0], "Ana");

    let all = c
        .search_all(
            &format!("{base}/Observation?patient=h1-ana&_count=7"),
            &token,
        )
        .await;
    let expected = data::holder_data(0, 1, 120)
        .resources
        .iter()
        .filter(|r| r["resourceType"] == "Observation")
        .count();
    assert_eq!(all.len(), expected);
    assert!(all.len() > 14, "several pages");
    let labs = c
        .search_all(
            &format!(
                "{base}/Observation?patient=h1-ana&category=laboratory&code=http://loinc.org|4548-4"
            ),
            &token,
        )
        .await;
    assert!(
        !labs.is_empty()
            && labs
                .iter()
                .all(|o| o["code"]["coding"][0]["code"] == "4548-4")
    );
    let in_2019 = c
        .search_all(
            &format!("{base}/Observation?patient=h1-ana&date=ge2019-01-01&date=le2019-12-31"),
            &token,
        )
        .await;
    assert!(
        in_2019
            .iter()
            .all(|o| o["effectiveDateTime"].as_str().unwrap().starts_with("2019"))
    );

    // Outside the grant: a type the token does not cover, and another patient.
    assert_eq!(
        c.get(&format!("{base}/MedicationRequest?patient=h1-ana"), &token)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        c.get(&format!("{base}/Observation?patient=h1-o0"), &token)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        c.get(&format!("{base}/Patient/h1-o0"), &token)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn data_period_and_granular_scopes_are_enforced() {
    let sb = sandbox(Profile::Bearer).await;
    let base = sb.holders[0].fhir_base();
    let mut c = TestClient::new();
    c.register(&base).await;
    let req = with(
        MintRequest::new(TicketType::PatientSelfAccess, Some(c.jkt.clone())),
        |r| {
            r.data_period = Some(json!({ "start": "2018-01-01", "end": "2018-12-31" }));
            r.smart_scopes = Some(vec!["patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs".into(), "patient/Patient.rs".into()]);
        },
    );
    let t = sb.issuer.mint(&req).unwrap();
    let (status, token) = c.exchange(&base, &t, None, false).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_eq!(token["token_type"], "Bearer");
    let obs = c
        .search_all(&format!("{base}/Observation?patient=h1-ana"), &token)
        .await;
    assert!(!obs.is_empty());
    for o in &obs {
        assert!(
            o["effectiveDateTime"].as_str().unwrap().starts_with("2018"),
            "{o}"
        );
        assert_eq!(o["category"][0]["coding"][0]["code"], "vital-signs");
    }
    // Patient is exempt from the period.
    assert_eq!(
        c.get(&format!("{base}/Patient/h1-ana"), &token)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn token_endpoint_error_codes() {
    let sb = sandbox(Profile::Bearer).await;
    let base = sb.holders[0].fhir_base();
    let mut c = TestClient::new();
    c.register(&base).await;
    let token_url = format!("{}/token", base.trim_end_matches("/fhir"));
    let good = ticket(&sb, TicketType::PatientSelfAccess, &c.jkt);
    let err = |b: &Value| {
        (
            b["error"].as_str().unwrap_or_default().to_string(),
            b["error_description"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
    };

    let (s, b) = c
        .token(
            &token_url,
            vec![("grant_type", "client_credentials".into())],
            false,
        )
        .await;
    assert_eq!(
        (s, err(&b).0.as_str()),
        (StatusCode::BAD_REQUEST, "unsupported_grant_type")
    );

    let (_, b) = c
        .token(
            &token_url,
            vec![
                ("grant_type", client::TOKEN_EXCHANGE.into()),
                ("subject_token", good.clone()),
                ("subject_token_type", "urn:x".into()),
            ],
            false,
        )
        .await;
    assert_eq!(
        err(&b),
        (
            "invalid_request".into(),
            "Unsupported subject token type".into()
        )
    );
    let (_, b) = c
        .token(
            &token_url,
            vec![
                ("grant_type", client::TOKEN_EXCHANGE.into()),
                ("subject_token_type", client::TICKET_TYPE.into()),
            ],
            false,
        )
        .await;
    assert_eq!(
        err(&b),
        (
            "invalid_request".into(),
            "No permission ticket provided".into()
        )
    );

    // invalid_client: unknown client, 401.
    let mut stranger = TestClient::new();
    stranger.client_id = "client-nobody".into();
    let (s, b) = stranger.exchange(&base, &good, None, false).await;
    assert_eq!(
        (s, err(&b).0.as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
    // invalid_client: a client that signs with a key other than the one it registered.
    let mut impostor = TestClient::new();
    impostor.client_id = c.client_id.clone();
    let (s, b) = impostor.exchange(&base, &good, None, false).await;
    assert_eq!(
        (s, err(&b).0.as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );

    let other_client = {
        let mut o = TestClient::new();
        o.register(&base).await;
        o
    };
    let tampered = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let parts: Vec<&str> = good.split('.').collect();
        let claims = String::from_utf8(b64.decode(parts[1]).unwrap())
            .unwrap()
            .replace("Rivera", "Rivero");
        format!("{}.{}.{}", parts[0], b64.encode(claims), parts[2])
    };
    let cases: Vec<(String, Option<&str>, &str, &str)> = vec![
        (
            "not a ticket".into(),
            None,
            "invalid_grant",
            "Malformed permission ticket",
        ),
        (
            tampered,
            None,
            "invalid_grant",
            "Ticket signature verification failed",
        ),
        (
            sandbox::Issuer::start(0)
                .await
                .unwrap()
                .mint(&MintRequest::new(
                    TicketType::PatientSelfAccess,
                    Some(c.jkt.clone()),
                ))
                .unwrap(),
            None,
            "invalid_grant",
            "Ticket issuer not trusted",
        ),
        (
            sb.issuer
                .mint(&with(
                    MintRequest::new(TicketType::PatientSelfAccess, Some(c.jkt.clone())),
                    |r| r.lifetime = Some(-600),
                ))
                .unwrap(),
            None,
            "invalid_grant",
            "Ticket expired",
        ),
        (
            sb.issuer
                .mint(&with(
                    MintRequest::new(TicketType::PatientSelfAccess, Some(c.jkt.clone())),
                    |r| r.aud = Some(vec!["https://elsewhere.example/fhir".into()]),
                ))
                .unwrap(),
            None,
            "invalid_grant",
            "Ticket not valid for this server",
        ),
        (
            ticket(&sb, TicketType::PatientSelfAccess, &other_client.jkt),
            None,
            "invalid_grant",
            "Ticket presenter binding mismatch",
        ),
        (
            sb.issuer
                .mint(&with(
                    MintRequest::new(TicketType::PatientSelfAccess, Some(c.jkt.clone())),
                    |r| {
                        r.extra_claims = Some(
                            json!({"must_understand": ["x_new_claim"]})
                                .as_object()
                                .unwrap()
                                .clone(),
                        )
                    },
                ))
                .unwrap(),
            None,
            "invalid_grant",
            "Cannot enforce kernel field: x_new_claim",
        ),
        (
            sb.issuer
                .mint(&with(
                    MintRequest::new(TicketType::PatientSelfAccess, Some(c.jkt.clone())),
                    |r| {
                        r.extra_access = Some(
                            json!({"https://example.org/geo": {}})
                                .as_object()
                                .unwrap()
                                .clone(),
                        )
                    },
                ))
                .unwrap(),
            None,
            "invalid_grant",
            "Unsupported access constraint",
        ),
        (
            sb.issuer
                .mint(&with(
                    MintRequest::new(TicketType::PatientSelfAccess, Some(c.jkt.clone())),
                    |r| r.patient = Some(data::NOBODY.fhir()),
                ))
                .unwrap(),
            None,
            "invalid_grant",
            "Unable to resolve ticket subject",
        ),
        (
            good.clone(),
            Some("patient/Claim.rs"),
            "invalid_scope",
            "No authorized scopes",
        ),
    ];
    for (t, scope, code, description) in cases {
        let (s, b) = c.exchange(&base, &t, scope, false).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{description}");
        let (e, d) = err(&b);
        assert_eq!(e, code, "{description}: {b}");
        assert!(d.starts_with(description), "{d} / {description}");
    }

    // Revoked, and a type this holder does not accept.
    let revocable = ticket(&sb, TicketType::PatientSelfAccess, &c.jkt);
    let jti = permission_ticket::decode(&revocable).unwrap().ticket.jti;
    sb.issuer.revoke(&jti).unwrap();
    let (_, b) = c.exchange(&base, &revocable, None, false).await;
    assert_eq!(
        err(&b),
        ("invalid_grant".into(), "Ticket has been revoked".into())
    );
    sb.holders[0].accept_types(vec![TicketType::PatientSelfAccess]);
    let (_, b) = c
        .exchange(
            &base,
            &ticket(&sb, TicketType::ResearchStudyAccess, &c.jkt),
            None,
            false,
        )
        .await;
    assert_eq!(
        err(&b),
        ("invalid_grant".into(), "Unsupported ticket type".into())
    );
    assert_eq!(
        c.config(&base).await["smart_permission_ticket_types_supported"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn dpop_rules_at_the_token_endpoint() {
    let sb = sandbox(Profile::Dpop).await;
    let base = sb.holders[0].fhir_base();
    let mut c = TestClient::new();
    c.register(&base).await;
    let t = ticket(&sb, TicketType::PatientSelfAccess, &c.jkt);
    // No proof at all.
    let (s, b) = c.exchange(&base, &t, None, false).await;
    assert_eq!(
        (s, b["error"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "invalid_dpop_proof")
    );
    // A first proof without the nonce gets use_dpop_nonce and a DPoP-Nonce header (the client retries).
    let fresh_nonce_client = {
        let mut n = TestClient::new();
        n.register(&base).await;
        n
    };
    assert!(fresh_nonce_client.nonce.is_none());
    let mut n = fresh_nonce_client;
    let t2 = ticket(&sb, TicketType::PatientSelfAccess, &n.jkt);
    let (s, b) = n.exchange(&base, &t2, None, true).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(n.nonce.is_some(), "the nonce challenge was answered");
}

#[tokio::test]
async fn interaction_required_then_the_patient_picks_and_later_exchanges_are_silent() {
    let sb = sandbox(Profile::Dpop).await;
    let base = sb.holders[1].fhir_base(); // the holder with an ambiguous twin
    let mut c = TestClient::new();
    c.register(&base).await;
    let t = ticket(&sb, TicketType::PatientSelfAccess, &c.jkt);
    let (s, b) = c.exchange(&base, &t, None, true).await;
    assert_eq!(
        (s, b["error"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "interaction_required")
    );
    let launch = b["launch"].as_str().unwrap().to_string();

    let config = c.config(&base).await;
    let authorize = config["authorization_endpoint"]
        .as_str()
        .unwrap()
        .to_string();
    let (verifier, challenge) = pkce();
    let params = [
        ("response_type", "code"),
        ("client_id", &c.client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "launch patient/*.rs"),
        ("state", "xyz 1"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("launch", &launch),
        ("aud", &base),
    ];
    let page = c
        .http
        .get(&authorize)
        .query(&params)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Shelbyville") && page.contains("Springfield"),
        "{page}"
    );
    assert_eq!(page.matches(r#"type="radio""#).count(), 2);

    let mut form: Vec<(&str, &str)> = params.to_vec();
    form.push(("patient", "h2-ana-2"));
    let resp = c.http.post(&authorize).form(&form).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(REDIRECT) && location.contains("state=xyz%201"),
        "{location}"
    );
    let code = location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();

    let token_url = config["token_endpoint"].as_str().unwrap().to_string();
    let form = vec![
        ("grant_type", "authorization_code".to_string()),
        ("code", code.clone()),
        ("redirect_uri", REDIRECT.to_string()),
        ("code_verifier", verifier),
    ];
    let (s, token) = c.token(&token_url, form.clone(), true).await;
    assert_eq!(s, StatusCode::OK, "{token}");
    assert_eq!(token["patient"], "h2-ana-2");
    assert_eq!(token["token_type"], "DPoP");
    // A code is single-use.
    let (s, _) = c.token(&token_url, form, true).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // The choice is remembered for this ticket: the next exchange succeeds silently.
    let (s, again) = c.exchange(&base, &t, None, true).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again["patient"], "h2-ana-2");
}

#[tokio::test]
async fn reference_profile_wants_the_client_jkt_header() {
    let sb = sandbox(Profile::Reference).await;
    let base = sb.holders[0].fhir_base();
    let mut c = TestClient::new();
    c.register(&base).await;
    let (s, token) = c
        .exchange(
            &base,
            &ticket(&sb, TicketType::PatientSelfAccess, &c.jkt),
            None,
            false,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(token["token_type"], "Bearer");
    let access = token["access_token"].as_str().unwrap();
    let url = format!("{base}/Condition?patient=h1-ana");
    let without = c.http.get(&url).bearer_auth(access).send().await.unwrap();
    assert_eq!(without.status(), StatusCode::BAD_REQUEST);
    let outcome: Value = without.json().await.unwrap();
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    assert_eq!(
        outcome["issue"][0]["diagnostics"],
        "Access token proof key mismatch"
    );
    let with_header = c
        .http
        .get(&url)
        .bearer_auth(access)
        .header("x-client-jkt", &c.jkt)
        .send()
        .await
        .unwrap();
    assert_eq!(with_header.status(), StatusCode::OK);
    // Ambiguous patients are an error here, not an interaction.
    let mut c2 = TestClient::new();
    c2.register(&sb.holders[1].fhir_base()).await;
    let (_, b) = c2
        .exchange(
            &sb.holders[1].fhir_base(),
            &ticket(&sb, TicketType::PatientSelfAccess, &c2.jkt),
            None,
            false,
        )
        .await;
    assert_eq!(b["error_description"], "Ambiguous ticket subject match");
}

#[tokio::test]
async fn bearer_profile_answers_401_with_www_authenticate() {
    let sb = sandbox(Profile::Bearer).await;
    let c = TestClient::new();
    let resp = c
        .http
        .get(format!("{}/Condition", sb.holders[0].fhir_base()))
        .bearer_auth("nonsense")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer error=\"invalid_token\"")
    );
}

#[tokio::test]
async fn fault_knobs() {
    let sb = sandbox(Profile::Dpop).await;
    let holder = &sb.holders[0];
    let base = holder.fhir_base();
    let mut c = TestClient::new();
    c.register(&base).await;
    let (_, token) = c
        .exchange(
            &base,
            &ticket(&sb, TicketType::PatientSelfAccess, &c.jkt),
            None,
            true,
        )
        .await;
    let url = format!("{base}/Condition?patient=h1-ana");

    holder.set_faults(Faults {
        rate_limit_every: 1,
        ..Default::default()
    });
    let r = c.get(&url, &token).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "1");

    holder.set_faults(Faults {
        fail_every: 1,
        ..Default::default()
    });
    assert_eq!(
        c.get(&url, &token).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );

    holder.set_faults(Faults {
        truncate_every: 1,
        ..Default::default()
    });
    assert!(
        c.get(&url, &token).await.bytes().await.is_err(),
        "the body is cut short"
    );

    holder.set_faults(Faults {
        drop_every: 1,
        ..Default::default()
    });
    let dropped = c.get(&url, &token).await;
    assert!(dropped.bytes().await.map(|b| b.is_empty()).unwrap_or(true));

    // Every call must carry the nonce from the previous answer.
    holder.set_faults(Faults {
        nonce_every_call: true,
        ..Default::default()
    });
    let mut c = c;
    c.nonce = None;
    let r = c.get(&url, &token).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("use_dpop_nonce")
    );
    c.nonce = Some(r.headers()["dpop-nonce"].to_str().unwrap().to_string());
    let r = c.get(&url, &token).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("dpop-nonce").is_some());

    // Tokens wear out mid-sync, as if expired; a fresh exchange works again.
    holder.set_faults(Faults {
        expire_tokens_after: 2,
        ..Default::default()
    });
    let (_, token) = c
        .exchange(
            &base,
            &ticket(&sb, TicketType::PatientSelfAccess, &c.jkt),
            None,
            true,
        )
        .await;
    assert_eq!(c.get(&url, &token).await.status(), StatusCode::OK);
    assert_eq!(c.get(&url, &token).await.status(), StatusCode::OK);
    let expired = c.get(&url, &token).await;
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    assert!(
        expired.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );

    // Faults can be set over HTTP too; a new set replaces the old one, so the token works again.
    let set = c
        .http
        .post(format!("{}/_faults", base.trim_end_matches("/fhir")))
        .json(&json!({ "latency_ms": 5 }))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    assert_eq!(c.get(&url, &token).await.status(), StatusCode::OK);

    // Hostile paging: every page links to yet another page, never seen before.
    holder.set_faults(Faults {
        endless_next: true,
        ..Default::default()
    });
    let mut seen = std::collections::HashSet::new();
    let mut page_url = url.clone();
    for _ in 0..20 {
        let page: Value = c.get(&page_url, &token).await.json().await.unwrap();
        assert!(seen.insert(page_url.clone()));
        page_url = page["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .and_then(|l| l["url"].as_str())
            .expect("a next link on every page")
            .to_string();
    }

    // A 1 GB body, streamed with no length: read 8 MiB of it and hang up.
    holder.set_faults(Faults {
        huge_body_bytes: 1 << 30,
        ..Default::default()
    });
    let mut huge = c.get(&url, &token).await;
    assert_eq!(huge.status(), StatusCode::OK);
    assert!(huge.headers().get("content-length").is_none());
    let mut read = 0usize;
    while read < 8 << 20 {
        read += huge.chunk().await.unwrap().expect("more body").len();
    }
    drop(huge);
    holder.set_faults(Faults::default());
    assert_eq!(c.get(&url, &token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn issuer_minting_endpoint() {
    let sb = sandbox(Profile::Dpop).await;
    let c = TestClient::new();
    let resp = c
        .http
        .post(format!("{}/tickets", sb.issuer.url()))
        .json(&json!({ "ticket_type": "payer-quality-gap-v1", "jkt": c.jkt }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    let t = permission_ticket::decode(body["ticket"].as_str().unwrap())
        .unwrap()
        .ticket;
    assert_eq!(t.ticket_type, TicketType::PayerQualityGap);
    assert_eq!(t.aud, vec![sandbox::NETWORK]);
    let bad = c
        .http
        .post(format!("{}/tickets", sb.issuer.url()))
        .json(&json!({ "ticket_type": "nope" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}
