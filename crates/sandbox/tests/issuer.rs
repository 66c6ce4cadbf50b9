//! The issuer over real HTTP: key publication and rotation, revocation, and
//! Proposal 003 issuance at the end of a SMART App Launch.

#![allow(clippy::unwrap_used)]

mod client;

use client::{TestClient, pkce};
use permission_ticket::{IssuerKeys, PresenterBinding, RevocationInput, TicketType};
use reqwest::StatusCode;
use sandbox::{MintRequest, Profile, Sandbox, SandboxConfig};
use serde_json::Value;

/// A sandbox with one data holder.
async fn one_holder() -> Sandbox {
    Sandbox::start(SandboxConfig {
        holders: 1,
        ..Default::default()
    })
    .await
    .unwrap()
}

/// The id of the key that signed `ticket`.
fn kid(ticket: &str) -> String {
    permission_ticket::decode(ticket)
        .unwrap()
        .jws
        .header_str("kid")
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn rotated_keys_stay_published_so_old_tickets_verify() {
    let sb = one_holder().await;
    let c = TestClient::new();
    let old = sb
        .issuer
        .mint(&MintRequest::new(
            TicketType::PatientSelfAccess,
            Some(c.jkt.clone()),
        ))
        .unwrap();
    sb.issuer.rotate_key();
    let new = sb
        .issuer
        .mint(&MintRequest::new(
            TicketType::PatientSelfAccess,
            Some(c.jkt.clone()),
        ))
        .unwrap();
    let published: Value = c
        .http
        .get(format!("{}/.well-known/jwks.json", sb.issuer.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(published["keys"].as_array().unwrap().len(), 2);
    let jwks: permission_ticket::Jwks = serde_json::from_value(published).unwrap();
    assert_ne!(kid(&old), kid(&new));
    for t in [&old, &new] {
        let d = permission_ticket::decode(t).unwrap();
        let r = permission_ticket::inspect(
            &d,
            &permission_ticket::InspectOptions {
                now: client::now(),
                clock_skew: 60,
                issuer_keys: IssuerKeys::Keys(jwks.clone()),
                wallet_jkt: Some(&c.jkt),
                revocation: RevocationInput::NotChecked,
            },
        );
        assert!(r.usable(), "{:?}", r.checks);
    }
}

#[tokio::test]
async fn a_seeded_issuer_signs_as_the_seed_says_and_keeps_earlier_keys_published() {
    let start = |seed: &[u8]| {
        let seed = seed.to_vec();
        async move {
            Sandbox::start(SandboxConfig {
                holders: 1,
                issuer_seed: Some(seed),
                ..Default::default()
            })
            .await
            .unwrap()
        }
    };
    let req = MintRequest::new(TicketType::PatientSelfAccess, None);
    let a = start(b"profile a").await;
    let from_a = a.issuer.mint(&req).unwrap();
    // The same secret after a restart: the same key.
    let again = start(b"profile a").await;
    assert_eq!(kid(&again.issuer.mint(&req).unwrap()), kid(&from_a));
    // Another profile's secret: another key, and the first stays published.
    a.issuer.use_seed(b"profile b").unwrap();
    let from_b = a.issuer.mint(&req).unwrap();
    assert_ne!(kid(&from_b), kid(&from_a));
    let kids: Vec<_> = a
        .issuer
        .jwks()
        .keys
        .into_iter()
        .filter_map(|k| k.kid)
        .collect();
    assert!(
        kids.contains(&kid(&from_a)) && kids.contains(&kid(&from_b)),
        "{kids:?}"
    );
    a.issuer.use_seed(b"profile a").unwrap();
    assert_eq!(kid(&a.issuer.mint(&req).unwrap()), kid(&from_a));
    assert_eq!(a.issuer.jwks().keys.len(), 2, "no key published twice");
}

#[tokio::test]
async fn the_status_list_over_http_shows_revocation() {
    let sb = one_holder().await;
    let c = TestClient::new();
    let t = sb
        .issuer
        .mint(&MintRequest::new(
            TicketType::PatientSelfAccess,
            Some(c.jkt.clone()),
        ))
        .unwrap();
    let ticket = permission_ticket::decode(&t).unwrap().ticket;
    let rev = ticket.revocation.unwrap();
    let fetch = || async {
        let body = c
            .http
            .get(&rev.url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        permission_ticket::StatusList::from_json(&body).unwrap()
    };
    assert!(!fetch().await.is_revoked(rev.index).unwrap());
    sb.issuer.revoke(&ticket.jti).unwrap();
    assert!(fetch().await.is_revoked(rev.index).unwrap());
}

#[tokio::test]
async fn smart_launch_issuance_hands_over_bound_tickets_and_holder_hints() {
    let sb = Sandbox::start(SandboxConfig {
        holders: 2,
        profile: Profile::Dpop,
        ..Default::default()
    })
    .await
    .unwrap();
    let iss = sb.issuer.url();
    let mut c = TestClient::new();
    let config: Value = c
        .http
        .get(format!("{iss}/.well-known/smart-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["smart_permission_ticket_issuer"], true);
    assert!(
        config["scopes_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "permission_ticket")
    );

    let (verifier, challenge) = pkce();
    let redirect = "http://127.0.0.1:9/issued";
    let params = [
        ("response_type", "code"),
        ("client_id", "ticket-wallet"),
        ("redirect_uri", redirect),
        (
            "scope",
            "permission_ticket patient/Observation.rs patient/Condition.rs offline_access",
        ),
        ("state", "s1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let authorize = config["authorization_endpoint"].as_str().unwrap();
    let page = c
        .http
        .get(authorize)
        .query(&params)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Ana Rivera"));
    let mut form = params.to_vec();
    form.push(("decision", "allow"));
    let resp = c.http.post(authorize).form(&form).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let code = location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();

    let token_url = config["token_endpoint"].as_str().unwrap().to_string();
    let send = |form: Vec<(&'static str, String)>, c: &TestClient| {
        let proof = c.dpop("POST", &token_url, None);
        c.http
            .post(&token_url)
            .header("DPoP", proof)
            .form(&form)
            .send()
    };
    let resp = send(
        vec![
            ("grant_type", "authorization_code".into()),
            ("code", code),
            ("redirect_uri", redirect.into()),
            ("code_verifier", verifier),
        ],
        &c,
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    let tickets = body["smart_permission_ticket"].as_array().unwrap();
    assert_eq!(tickets.len(), 1);
    let t = permission_ticket::decode(tickets[0].as_str().unwrap())
        .unwrap()
        .ticket;
    assert_eq!(
        t.presenter_binding,
        Some(PresenterBinding::Jkt { jkt: c.jkt.clone() })
    );
    assert_eq!(
        t.access.smart_scopes,
        vec!["patient/Observation.rs", "patient/Condition.rs"]
    );
    let hints = body["smart_permission_ticket_endpoints"]
        .as_array()
        .unwrap();
    assert_eq!(hints.len(), 2);
    assert_eq!(hints[0]["fhir_base_url"], sb.holders[0].fhir_base());
    assert_eq!(hints[0]["ticket_indices"][0], 0);

    // The refresh token re-issues fresh tickets, only to the same key.
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    let again: Value = send(
        vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", refresh.clone()),
        ],
        &c,
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let t2 = permission_ticket::decode(again["smart_permission_ticket"][0].as_str().unwrap())
        .unwrap()
        .ticket;
    assert_ne!(t2.jti, t.jti);
    let thief = TestClient::new();
    let stolen = send(
        vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", refresh),
        ],
        &thief,
    )
    .await
    .unwrap();
    assert_eq!(stolen.status(), StatusCode::BAD_REQUEST);

    // The ticket works at the hinted holder.
    c.register(&sb.holders[0].fhir_base()).await;
    let (s, token) = c
        .exchange(
            &sb.holders[0].fhir_base(),
            tickets[0].as_str().unwrap(),
            None,
            true,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{token}");
}

#[tokio::test]
async fn issuance_refuses_without_pkce_or_the_ticket_scope() {
    let sb = one_holder().await;
    let c = TestClient::new();
    let authorize = format!("{}/authorize", sb.issuer.url());
    let ask = |redirect_uri: &'static str, scope: &'static str, challenge: String, method| {
        c.http
            .get(&authorize)
            .query(&[
                ("response_type", "code"),
                ("client_id", "x"),
                ("redirect_uri", redirect_uri),
                ("scope", scope),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", method),
            ])
            .send()
    };
    let status = |r: reqwest::Result<reqwest::Response>| r.unwrap().status();
    let (_, challenge) = pkce();
    let loopback = "http://127.0.0.1:9/";
    let no_pkce = ask(loopback, "permission_ticket", String::new(), "").await;
    assert_eq!(status(no_pkce), StatusCode::BAD_REQUEST);
    let no_scope = ask(loopback, "openid", challenge.clone(), "S256").await;
    assert_eq!(status(no_scope), StatusCode::BAD_REQUEST);
    let elsewhere = ask(
        "https://evil.example/",
        "permission_ticket",
        challenge.clone(),
        "S256",
    )
    .await;
    assert_eq!(status(elsewhere), StatusCode::BAD_REQUEST);
    // Starts like a loopback address, goes elsewhere.
    let disguised = ask(
        "http://127.0.0.1:80@evil.example/",
        "permission_ticket",
        challenge,
        "S256",
    )
    .await;
    assert_eq!(status(disguised), StatusCode::BAD_REQUEST);
}

/// A web page that re-points its own name at 127.0.0.1 (DNS rebinding)
/// reaches the port, and is refused by name.
#[tokio::test]
async fn requests_addressed_to_another_name_are_refused() {
    let sb = one_holder().await;
    let c = TestClient::new();
    let jwks = format!("{}/.well-known/jwks.json", sb.issuer.url());
    let get = |host: &'static str| c.http.get(&jwks).header(reqwest::header::HOST, host).send();
    assert_eq!(
        get("rebound.evil.example").await.unwrap().status(),
        StatusCode::MISDIRECTED_REQUEST
    );
    assert_eq!(
        c.http.get(&jwks).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(get("localhost").await.unwrap().status(), StatusCode::OK);
}
