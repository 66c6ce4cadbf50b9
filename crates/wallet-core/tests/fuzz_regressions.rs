//! Replays every fuzz target's seeds (`fuzz/seeds/<target>/`) and every input
//! that ever crashed one (`fuzz/regressions/<target>/`) on the stable
//! toolchain: what the fuzzers found stays fixed without a fuzzer at hand.
//! `write_fuzz_seeds` (ignored) makes the seeds from the spec's examples and
//! the sandbox.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use permission_ticket::TicketType;
use sandbox::{Issuer, MintRequest};
use serde_json::{Value, json};
use wallet_core::fuzzing::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn inputs(kind: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = fuzz_dir().join(kind).join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<_> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_seed_and_every_past_crash_is_handled() {
    for (target, run) in TARGETS {
        let seeds = inputs("seeds", target);
        assert!(
            seeds.len() >= 3,
            "{target} has {} seeds: run `cargo test -p wallet-core --test fuzz_regressions -- --ignored`",
            seeds.len()
        );
        for (path, bytes) in seeds.iter().chain(&inputs("regressions", target)) {
            let outcome = std::panic::catch_unwind(|| run(bytes));
            assert!(outcome.is_ok(), "{target} panicked on {}", path.display());
        }
    }
}

fn write(target: &str, name: &str, bytes: impl AsRef<[u8]>) {
    let dir = fuzz_dir().join("seeds").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn vectors() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../permission-ticket/tests/vectors");
    let mut out = Vec::new();
    for generation in ["2026-07", "seed-2026-04"] {
        for e in std::fs::read_dir(root.join(generation)).unwrap() {
            let p = e.unwrap().path();
            let name = format!("{generation}-{}", p.file_name().unwrap().to_string_lossy());
            out.push((name, std::fs::read(&p).unwrap()));
        }
    }
    out.sort();
    out
}

fn claims_of(jwt: &str) -> Vec<u8> {
    let part = jwt.trim().split('.').nth(1).unwrap_or_default();
    permission_ticket::base64url::decode(part).unwrap_or_default()
}

#[tokio::test]
#[ignore = "writes fuzz/seeds; run by hand when the formats change"]
async fn write_fuzz_seeds() {
    let issuer = Issuer::start(0).await.unwrap();
    let mut tickets: Vec<(String, String)> = vectors()
        .into_iter()
        .filter(|(n, _)| n.ends_with("ticket.jwt"))
        .map(|(n, b)| (n, String::from_utf8(b).unwrap()))
        .collect();
    for (i, ty) in TicketType::KNOWN.iter().enumerate() {
        let req = MintRequest::new(ty.clone(), Some("seed-jkt".into()));
        tickets.push((format!("sandbox-type{i}"), issuer.mint(&req).unwrap()));
    }
    for (name, t) in &tickets {
        write("ticket_text", &format!("{name}.txt"), t.trim());
        write(
            "ticket_text",
            &format!("{name}-link.txt"),
            format!("web+ticket:{}", t.trim()),
        );
        write("inspect_claims", &format!("{name}.json"), claims_of(t));
        write("trace_redactor", &format!("{name}.jwt"), t.trim());
    }
    for (name, bytes) in vectors() {
        if name.ends_with(".jwks.json") || name.ends_with(".public.json") {
            write("key_set", &name, &bytes);
        }
    }
    write(
        "key_set",
        "sandbox.jwks.json",
        serde_json::to_vec(&issuer.jwks()).unwrap(),
    );
    let http = reqwest::Client::new();
    let fetch = |url: String| {
        let request = http.get(url).send();
        async move { request.await.unwrap().bytes().await.unwrap() }
    };
    let status = fetch(format!("{}/status/1", issuer.url())).await;
    write("status_list", "sandbox.json", &status);
    let mut small = permission_ticket::StatusList::new(16);
    small.set_revoked(3).unwrap();
    write("status_list", "small.json", small.to_json().to_string());
    write(
        "status_list",
        "empty.json",
        permission_ticket::StatusList::new(0).to_json().to_string(),
    );

    let sb = sandbox::Sandbox::start(sandbox::SandboxConfig::default())
        .await
        .unwrap();
    for (i, h) in sb.holders.iter().enumerate() {
        let config = fetch(format!("{}/.well-known/smart-configuration", h.fhir_base())).await;
        write("smart_configuration", &format!("holder{i}.json"), &config);
    }
    write(
        "smart_configuration",
        "minimal.json",
        r#"{"token_endpoint":"https://h.example/token"}"#,
    );

    let ok = json!({"access_token": "at-1", "token_type": "DPoP", "expires_in": 300,
        "scope": "patient/Observation.rs", "patient": "p1",
        "issued_token_type": "urn:ietf:params:oauth:token-type:access_token"});
    // The first two bytes pick the status (100 + 2*b) and whether DPoP was sent.
    write(
        "token_response",
        "dpop-ok.bin",
        [&[50u8, 1][..], ok.to_string().as_bytes()].concat(),
    );
    write(
        "token_response",
        "bearer-ok.bin",
        [
            &[50u8, 0][..],
            ok.to_string().replace("DPoP", "Bearer").as_bytes(),
        ]
        .concat(),
    );
    let errors = [
        json!({"error": "invalid_grant", "error_description": "Ticket expired"}),
        json!({"error": "interaction_required", "launch": "https://h.example/launch/1"}),
        json!({"error": "use_dpop_nonce"}),
    ];
    for (i, e) in errors.iter().enumerate() {
        write(
            "token_response",
            &format!("error{i}.bin"),
            [&[150u8, 1][..], e.to_string().as_bytes()].concat(),
        );
    }

    let data = sandbox::data::holder_data(0, 1, 40);
    let observations: Vec<Value> = data
        .resources
        .iter()
        .filter(|r| r["resourceType"] == "Observation")
        .take(20)
        .map(|r| json!({"resource": r}))
        .collect();
    let page = json!({"resourceType": "Bundle", "type": "searchset", "total": observations.len(),
        "link": [{"relation": "next", "url": "https://holder.example/fhir/Observation?page=2"}],
        "entry": observations});
    write("fhir_page", "observations.json", page.to_string());
    write("fhir_page", "patient.json", data.patients[0].to_string());
    for r in data.resources.iter().take(12) {
        let name = format!(
            "{}-{}.json",
            r["resourceType"].as_str().unwrap(),
            r["id"].as_str().unwrap()
        );
        write("fhir_page", &name, r.to_string());
    }
    // Stored resources as the merged export reads them: as sent, spaced, and
    // with names written with escapes.
    for r in data.resources.iter().take(3).chain(&data.patients) {
        let name = format!(
            "{}-{}.json",
            r["resourceType"].as_str().unwrap(),
            r["id"].as_str().unwrap()
        );
        write("resource_members", &name, r.to_string());
    }
    write(
        "resource_members",
        "spaced.json",
        serde_json::to_string_pretty(&data.resources[0]).unwrap(),
    );
    write(
        "resource_members",
        "escaped-names.json",
        r#"{"\u006deta":{"tag":[]},"a\"b":1, "extension" : [ ] }"#,
    );
    write("trace_redactor", "token.json", ok.to_string());
    write(
        "trace_redactor",
        "registration.json",
        json!({"client_id": "c1",
        "registration_access_token": "rat", "client_secret": "cs"})
        .to_string(),
    );
    write(
        "trace_redactor",
        "outcome.json",
        json!({"resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "diagnostics": "no"}]})
        .to_string(),
    );
}
