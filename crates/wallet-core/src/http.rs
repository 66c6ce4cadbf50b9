//! Fetching from issuers (and later, data holders) with the limits a hostile
//! or broken server needs: HTTPS only (plain HTTP only on loopback), bounded
//! bodies, timeouts, no downgrade on redirect.

use std::net::IpAddr;
use std::time::Duration;

use url::Url;

use crate::WalletError;

/// Whether a URL may be fetched: HTTPS anywhere, HTTP only to this machine.
pub fn check_url(url: &Url) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err("plain HTTP is allowed only to this machine (loopback); use HTTPS".into()),
        other => Err(format!("`{other}` URLs cannot be fetched")),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        // A name, even `localhost`, is whatever the resolver says it is: only
        // loopback addresses written as such count.
        Some(url::Host::Domain(_)) => false,
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    /// Follows no redirect: for requests that carry a ticket, a client
    /// assertion, a code or a token (see `protocol_client`).
    protocol: reqwest::Client,
}

impl Http {
    pub fn new() -> Result<Self, WalletError> {
        let policy = reqwest::redirect::Policy::custom(|attempt| {
            if attempt.previous().len() >= 5 {
                attempt.error("too many redirects")
            } else if let Err(why) = check_url(attempt.url()) {
                attempt.error(why)
            } else {
                attempt.follow()
            }
        });
        let build = |policy| {
            reqwest::Client::builder()
                .user_agent(concat!("ticket-wallet/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(10))
                .timeout(Duration::from_secs(30))
                .redirect(policy)
                .build()
                .map_err(|e| WalletError::Invalid(format!("cannot start the HTTP client: {e}")))
        };
        Ok(Self {
            client: build(policy)?,
            protocol: build(reqwest::redirect::Policy::none())?,
        })
    }

    /// For public documents (key sets, status lists, SMART configurations):
    /// follows redirects that stay on HTTPS (or loopback).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// For the protocol's own requests (registration, token requests, FHIR
    /// calls with a token): a redirect is returned, never followed, since a
    /// 307 or 308 would re-send the ticket, the client assertion, the code
    /// and its verifier, or the token to wherever it points.
    pub fn protocol_client(&self) -> &reqwest::Client {
        &self.protocol
    }

    /// GETs `url` and returns the body, refusing more than `max_bytes`.
    pub async fn get_bytes(&self, url: &str, max_bytes: usize) -> Result<Vec<u8>, WalletError> {
        self.fetch(url, max_bytes).await.map_err(|f| f.error)
    }

    /// As `get_bytes`, saying whether a failure may pass: the network (no
    /// connection, a timeout, a dropped body) or a server that is busy or
    /// down (429, 5xx), as opposed to an address that is refused, a 4xx, or
    /// an answer too large.
    pub async fn fetch(&self, url: &str, max_bytes: usize) -> Result<Vec<u8>, FetchFailure> {
        let fail = |reason: String| FetchFailure {
            error: WalletError::Fetch {
                url: url.to_string(),
                reason,
            },
            transient: false,
        };
        let passing = |reason: String| FetchFailure {
            transient: true,
            ..fail(reason)
        };
        let parsed = Url::parse(url).map_err(|e| fail(format!("not a valid URL: {e}")))?;
        check_url(&parsed).map_err(fail)?;
        let mut resp = self
            .client
            .get(parsed)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| passing(describe(&e)))?;
        let status = resp.status();
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(passing(format!("the server answered {status}")));
        }
        if !status.is_success() {
            return Err(fail(format!("the server answered {status}")));
        }
        if resp.content_length().is_some_and(|n| n > max_bytes as u64) {
            return Err(fail(format!(
                "the response is larger than {max_bytes} bytes"
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| passing(describe(&e)))? {
            if body.len() + chunk.len() > max_bytes {
                return Err(fail(format!(
                    "the response is larger than {max_bytes} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// Why a fetch failed, and whether trying again later may work.
#[derive(Debug)]
pub struct FetchFailure {
    pub error: WalletError,
    pub transient: bool,
}

pub fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the server did not answer in time".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        // Walk to the root cause: reqwest's top-level text is vague.
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            msg = s.to_string();
            src = s.source();
        }
        msg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        let ok = |u: &str| check_url(&Url::parse(u).unwrap()).is_ok();
        assert!(ok("https://issuer.example/.well-known/jwks.json"));
        assert!(ok("http://127.0.0.1:8080/x"));
        assert!(ok("http://127.8.0.1/x"));
        assert!(ok("http://[::1]:80/x"));
        // A name could resolve anywhere: loopback counts only as an address.
        assert!(!ok("http://localhost:1/x"));
        assert!(!ok("http://localhost.evil.example/x"));
        assert!(!ok("http://issuer.example/x"));
        assert!(!ok("http://10.0.0.1/x"));
        assert!(!ok("file:///etc/passwd"));
    }
}
