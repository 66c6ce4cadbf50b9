//! A small OAuth/DPoP client written for these tests alone: its own JWS
//! signing and thumbprints (p256, sha2, base64), so the sandbox is checked by
//! something other than the wallet's code.

#![allow(dead_code, clippy::unwrap_used)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const TICKET_TYPE: &str = "https://smarthealthit.org/token-type/permission-ticket";
pub const REDIRECT: &str = "http://127.0.0.1:9/callback";

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn id() -> String {
    format!(
        "{:x}{:x}",
        rand_core::RngCore::next_u64(&mut rand_core::OsRng),
        now()
    )
}

pub struct TestClient {
    pub key: SigningKey,
    pub jwk: Value,
    pub jkt: String,
    pub http: reqwest::Client,
    pub client_id: String,
    pub nonce: Option<String>,
}

impl TestClient {
    pub fn new() -> Self {
        let key = SigningKey::random(&mut rand_core::OsRng);
        let point = key.verifying_key().to_encoded_point(false);
        let x = B64.encode(point.x().unwrap());
        let y = B64.encode(point.y().unwrap());
        let jwk = json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y });
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let jkt = B64.encode(Sha256::digest(canonical.as_bytes()));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            key,
            jwk,
            jkt,
            http,
            client_id: String::new(),
            nonce: None,
        }
    }

    pub fn sign(&self, header: Value, claims: Value) -> String {
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let sig: Signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", B64.encode(sig.to_bytes()))
    }

    pub async fn register(&mut self, fhir_base: &str) {
        let config = self.config(fhir_base).await;
        let resp = self
            .http
            .post(config["registration_endpoint"].as_str().unwrap())
            .json(&json!({ "client_name": "test client", "token_endpoint_auth_method": "private_key_jwt",
                           "jwks": { "keys": [self.jwk] }, "redirect_uris": [REDIRECT] }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["jwk_thumbprint"], self.jkt.as_str());
        self.client_id = body["client_id"].as_str().unwrap().to_string();
    }

    pub async fn config(&self, fhir_base: &str) -> Value {
        self.http
            .get(format!("{fhir_base}/.well-known/smart-configuration"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub fn assertion(&self, token_url: &str) -> String {
        self.sign(
            json!({ "alg": "ES256", "typ": "JWT" }),
            json!({ "iss": self.client_id, "sub": self.client_id, "aud": token_url, "jti": id(), "iat": now(), "exp": now() + 120 }),
        )
    }

    pub fn dpop(&self, method: &str, url: &str, access_token: Option<&str>) -> String {
        let mut claims = json!({ "htm": method, "htu": url, "iat": now(), "jti": id() });
        if let Some(n) = &self.nonce {
            claims["nonce"] = json!(n);
        }
        if let Some(t) = access_token {
            claims["ath"] = json!(B64.encode(Sha256::digest(t.as_bytes())));
        }
        self.sign(
            json!({ "alg": "ES256", "typ": "dpop+jwt", "jwk": self.jwk }),
            claims,
        )
    }

    /// POSTs a token request; answers the DPoP nonce challenge once. Returns (status, body).
    pub async fn token(
        &mut self,
        token_url: &str,
        mut form: Vec<(&str, String)>,
        dpop: bool,
    ) -> (StatusCode, Value) {
        form.push((
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
        ));
        for attempt in 0..2 {
            let mut f = form.clone();
            f.push(("client_assertion", self.assertion(token_url)));
            let mut req = self.http.post(token_url).form(&f);
            if dpop {
                req = req.header("DPoP", self.dpop("POST", token_url, None));
            }
            let resp = req.send().await.unwrap();
            let status = resp.status();
            if let Some(n) = resp.headers().get("dpop-nonce") {
                self.nonce = Some(n.to_str().unwrap().to_string());
            }
            let body: Value = resp.json().await.unwrap();
            if attempt == 0 && body["error"] == "use_dpop_nonce" {
                continue;
            }
            return (status, body);
        }
        unreachable!()
    }

    pub async fn exchange(
        &mut self,
        fhir_base: &str,
        ticket: &str,
        scope: Option<&str>,
        dpop: bool,
    ) -> (StatusCode, Value) {
        let config = self.config(fhir_base).await;
        let token_url = config["token_endpoint"].as_str().unwrap().to_string();
        let mut form = vec![
            ("grant_type", TOKEN_EXCHANGE.to_string()),
            ("subject_token", ticket.to_string()),
            ("subject_token_type", TICKET_TYPE.to_string()),
        ];
        if let Some(s) = scope {
            form.push(("scope", s.to_string()));
        }
        self.token(&token_url, form, dpop).await
    }

    /// A FHIR GET with the right credentials for the token type.
    pub async fn get(&self, url: &str, token: &Value) -> reqwest::Response {
        let access = token["access_token"].as_str().unwrap();
        let mut req = self.http.get(url);
        if token["token_type"] == "DPoP" {
            let htu = url.split('?').next().unwrap();
            req = req
                .header("Authorization", format!("DPoP {access}"))
                .header("DPoP", self.dpop("GET", htu, Some(access)));
        } else {
            req = req.header("Authorization", format!("Bearer {access}"));
        }
        req.send().await.unwrap()
    }

    /// Follows `next` links to the end; returns every entry's resource.
    pub async fn search_all(&self, first: &str, token: &Value) -> Vec<Value> {
        let mut url = first.to_string();
        let mut out = Vec::new();
        for _ in 0..10_000 {
            let resp = self.get(&url, token).await;
            assert_eq!(resp.status(), StatusCode::OK, "{url}");
            let bundle: Value = resp.json().await.unwrap();
            out.extend(
                bundle["entry"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["resource"].clone()),
            );
            match bundle["link"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["relation"] == "next")
            {
                Some(next) => url = next["url"].as_str().unwrap().to_string(),
                None => return out,
            }
        }
        panic!("endless paging");
    }
}

pub fn pkce() -> (String, String) {
    let verifier = format!("{}{}", id(), id());
    let challenge = B64.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}
