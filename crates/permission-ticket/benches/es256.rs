//! ES256 signing and verification: `p256` alone and `jsonwebtoken` (its
//! pure-Rust `rust_crypto` backend) against this crate's `ring` path, on a
//! DPoP-proof-sized input. Run with
//! `cargo bench -p permission-ticket --features ring --bench es256 [-- N]`.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;

use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey};
use permission_ticket::jws::{CompactJws, Es256Signer};
use permission_ticket::{Algorithm, Jwk};
use serde_json::{Map, json};

fn per_call(n: u32, mut f: impl FnMut()) -> f64 {
    f();
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

fn main() {
    let n: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2000);
    let key = SigningKey::random(&mut rand_core::OsRng);
    let jwk = Jwk::from_p256(key.verifying_key());
    let signer = Es256Signer::new(key.clone());
    let claims = json!({
        "jti": "3f1c2a9e-8b7d-4c6e-9a1f-2b3c4d5e6f70",
        "htm": "GET",
        "htu": "http://127.0.0.1:8080/holders/h1/fhir/Observation",
        "iat": 1_800_000_000,
        "ath": "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo",
    });
    let proof = signer.sign(Map::new(), &claims);
    let jws = CompactJws::parse(&proof).unwrap();
    let input = jws.signing_input.as_bytes();

    let p256_sign = per_call(n, || {
        let sig: Signature = key.sign(black_box(input));
        black_box(sig);
    });
    let ring_sign = per_call(n, || {
        black_box(signer.sign(Map::new(), black_box(&claims)));
    });
    let sig = Signature::from_slice(&jws.signature).unwrap();
    let p256_verify = per_call(n, || {
        assert!(key.verifying_key().verify(black_box(input), &sig).is_ok());
    });
    let jwk_verify = per_call(n, || {
        assert_eq!(
            jwk.verify(Algorithm::Es256, black_box(input), &jws.signature),
            Ok(true)
        );
    });
    // jsonwebtoken's own sign and verify calls, on the same key and input.
    let der = {
        use p256::pkcs8::EncodePrivateKey;
        key.to_pkcs8_der().unwrap()
    };
    let encoding = jsonwebtoken::EncodingKey::from_ec_der(der.as_bytes());
    let decoding = jsonwebtoken::DecodingKey::from_ec_components(
        jwk.x.as_deref().unwrap(),
        jwk.y.as_deref().unwrap(),
    )
    .unwrap();
    let es256 = jsonwebtoken::Algorithm::ES256;
    let jwt_sign = per_call(n, || {
        black_box(jsonwebtoken::crypto::sign(black_box(input), &encoding, es256).unwrap());
    });
    let signature_b64 = proof.rsplit('.').next().unwrap();
    let jwt_verify = per_call(n, || {
        assert!(
            jsonwebtoken::crypto::verify(signature_b64, black_box(input), &decoding, es256)
                .unwrap()
        );
    });
    println!("{n} calls each, {} input bytes", input.len());
    println!(
        "sign    p256 {p256_sign:7.1} µs   Es256Signer (ring, JSON and base64 included) {ring_sign:7.1} µs"
    );
    println!(
        "verify  p256 {p256_verify:7.1} µs   Jwk::verify (ring, point decoded)             {jwk_verify:7.1} µs"
    );
    println!("jsonwebtoken (rust_crypto)  sign {jwt_sign:7.1} µs   verify {jwt_verify:7.1} µs");
    println!(
        "ratios against ring  sign {:.1}x   verify {:.1}x",
        jwt_sign / ring_sign,
        jwt_verify / jwk_verify
    );
}
