//! Every parser of outside input, fed raw bytes: the entry points of the fuzz
//! targets in `fuzz/`, and of the test that replays their seeds and every
//! input that ever crashed one (`tests/fuzz_regressions.rs`). Each must
//! return for any input, never panic.

#![doc(hidden)]

use std::sync::OnceLock;

use permission_ticket::jws::Es256Signer;
use permission_ticket::{
    Algorithm, DEFAULT_CLOCK_SKEW, InspectOptions, IssuerKeys, Jwk, Jwks, RevocationInput,
    StatusList,
};
use serde_json::{Map, Value};

use crate::engine::Reply;
use crate::holders::{HolderRecord, SmartConfig};

const BASE: &str = "https://holder.example/fhir";
/// A fixed time inside every seed ticket's validity.
const NOW: i64 = 1_800_000_000;

/// Pasted text or a link: found, then decoded.
pub fn ticket_text(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(found) = crate::import::extract_ticket(&text) {
        let _ = permission_ticket::decode(&found);
    }
    let _ = permission_ticket::decode(&text);
}

struct Issuer {
    signer: Es256Signer,
    jwks: Jwks,
    kid: String,
}

fn issuer() -> Option<&'static Issuer> {
    static ISSUER: OnceLock<Option<Issuer>> = OnceLock::new();
    ISSUER
        .get_or_init(|| {
            // A fixed key, so a crash replays: nothing here is a secret.
            let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).ok()?;
            let jwk = Jwk::from_p256(key.verifying_key());
            Some(Issuer {
                kid: jwk.kid.clone().unwrap_or_default(),
                signer: Es256Signer::new(key),
                jwks: Jwks { keys: vec![jwk] },
            })
        })
        .as_ref()
}

/// Arbitrary claims, validly signed: every check of `inspect` runs on them.
pub fn inspect_claims(data: &[u8]) {
    let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Some(issuer) = issuer() else {
        return;
    };
    let mut header = Map::new();
    header.insert("kid".into(), issuer.kid.clone().into());
    let text = issuer.signer.sign(header, &Value::Object(claims));
    let Ok(decoded) = permission_ticket::decode(&text) else {
        return;
    };
    let report = permission_ticket::inspect(
        &decoded,
        &InspectOptions {
            now: NOW,
            clock_skew: DEFAULT_CLOCK_SKEW,
            issuer_keys: IssuerKeys::Keys(issuer.jwks.clone()),
            wallet_jkt: Some("wallet-thumbprint"),
            revocation: RevocationInput::List(StatusList::new(64)),
        },
    );
    let _ = crate::view::ticket_view(&decoded, &report, Some("wallet-thumbprint"));
}

/// An issuer's key set, each key put to use.
pub fn key_set(data: &[u8]) {
    let Ok(jwks) = Jwks::from_json(&String::from_utf8_lossy(data)) else {
        return;
    };
    for key in &jwks.keys {
        let _ = key.thumbprint();
        for alg in [Algorithm::Es256, Algorithm::Rs256] {
            let _ = key.suits(alg);
            let _ = key.verify(alg, b"header.claims", &[1u8; 64]);
        }
    }
}

/// A revocation status list (gzip inside base64url inside JSON), then looked up.
pub fn status_list(data: &[u8]) {
    let Ok(list) = StatusList::from_json(data) else {
        return;
    };
    for index in [
        0,
        1,
        7,
        8,
        list.len().saturating_sub(1),
        list.len(),
        u64::MAX,
    ] {
        let _ = list.is_revoked(index);
    }
}

/// A holder's `.well-known/smart-configuration`, and the view made of it.
pub fn smart_configuration(data: &[u8]) {
    let url = format!("{BASE}/.well-known/smart-configuration");
    if let Ok(config) = crate::holders::parse_config(&url, data) {
        let _ = (config.token_exchange(), config.dpop());
        let _ = crate::holders::view(&HolderRecord::new(BASE.into()), Ok(&config));
    }
}

/// A token endpoint's answer: the first two bytes pick the HTTP status and
/// whether the request carried DPoP.
pub fn token_response(data: &[u8]) {
    let (head, body) = data.split_at(data.len().min(2));
    let status = head.first().map_or(200, |b| 100 + u16::from(*b) * 2);
    let dpop = head.get(1).is_some_and(|b| b & 1 == 1);
    let config = SmartConfig {
        token_endpoint: format!("{BASE}/token"),
        dpop_signing_alg_values_supported: if dpop { vec!["ES256".into()] } else { vec![] },
        ..Default::default()
    };
    let reply = Reply {
        trace_index: 0,
        status,
        headers: Default::default(),
        body: body.to_vec(),
    };
    if let Err(e) = crate::engine::session_from(&reply, BASE, &config, None, None) {
        let _ = e.to_string();
    }
}

/// A search page, then each record as the store reads it: indexed the same
/// read into a `Value` or into the store's own tree.
pub fn fhir_page(data: &[u8]) {
    if let Ok(page) = crate::engine::read_page(data, "Observation") {
        for record in page.records {
            crate::store::check_tree(record.json.get());
        }
    }
    if let Ok(record) = crate::engine::parse_record(data) {
        crate::store::check_tree(record.json.get());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        crate::store::check_tree(text);
    }
}

/// The trace's redaction of answers, headers and forms. Beyond not
/// panicking: an `access_token` put into any JSON object answer never shows.
pub fn trace_redactor(data: &[u8]) {
    const MARK: &str = "fuzz-secret-access-token-7f3a";
    let trace = crate::trace::Trace::new(false);
    let _ = trace.response(data);
    let text = String::from_utf8_lossy(data).into_owned();
    let mut jwts = Vec::new();
    for name in ["authorization", "dpop", "content-type"] {
        let _ = trace.header(name, &text, &mut jwts);
    }
    let _ = trace.form(
        &[
            ("subject_token", text.clone()),
            ("client_assertion", text.clone()),
            ("code", text.clone()),
            ("scope", text.clone()),
        ],
        &mut jwts,
    );
    let _ = crate::trace::decode_jwt("ticket", &text);
    // An input that spells the marker itself (the fuzzer learns it from the
    // comparison below) may show it in a field that is no secret: the
    // marker's presence then says nothing about the token.
    if text.contains(MARK) {
        return;
    }
    if let Ok(Value::Object(mut answer)) = serde_json::from_slice::<Value>(data) {
        answer.insert("access_token".into(), MARK.into());
        let body = Value::Object(answer).to_string();
        if let Some(shown) = trace.response(body.as_bytes()) {
            assert!(
                !shown.to_string().contains(MARK),
                "a token shown in the trace"
            );
        }
    }
}

/// A target: takes any bytes, returns, never panics.
pub type Target = fn(&[u8]);

/// The targets by name, for the regression test and `make fuzz`.
pub const TARGETS: [(&str, Target); 9] = [
    ("ticket_text", ticket_text),
    ("inspect_claims", inspect_claims),
    ("key_set", key_set),
    ("status_list", status_list),
    ("smart_configuration", smart_configuration),
    ("token_response", token_response),
    ("fhir_page", fhir_page),
    ("trace_redactor", trace_redactor),
    ("resource_members", resource_members),
];

/// A stored resource's top-level members, found as the merged export finds
/// them: the same as serde's wherever serde reads an object.
pub fn resource_members(data: &[u8]) {
    crate::store::check_members(data);
}
