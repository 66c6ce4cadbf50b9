//! The exchange engine: from a ticket to a holder's records. One `Engine` is
//! shared by all holders of a sync; it signs with the wallet key, sends with
//! limits and retries, and records every exchange in the trace.

mod exchange;
mod fetch;
pub mod interaction;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use vault::WalletKey;

pub use exchange::{ExchangeError, Session, exchange, register};
pub(crate) use exchange::{JWT_BEARER, TICKET_TOKEN_TYPE, session_from};
pub(crate) use fetch::parse_record;
pub use fetch::{
    Basis, ChangesSince, Downloaded, FetchError, Limits, PageRead, PageSink, Reauth, Record,
    download, read_page, record_digest,
};

use crate::http::Http;
use crate::trace::{Step, Trace, TraceEntry};

/// Tokens per (FHIR base, ticket jti) until they expire, and the last DPoP
/// nonce each token endpoint gave (RFC 9449 §8 lets a client reuse it, which
/// saves the challenge round trip on the next exchange). Memory only.
#[derive(Clone, Default)]
pub struct TokenCache {
    sessions: Arc<std::sync::Mutex<std::collections::HashMap<(String, String), Session>>>,
    nonces: Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>,
}

impl TokenCache {
    /// A token still good for at least 30 seconds.
    pub fn get(&self, holder: &str, jti: &str) -> Option<Session> {
        let map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&(holder.to_string(), jti.to_string()))
            .filter(|s| s.expires_at > crate::wallet::now() + 30)
            .cloned()
    }
    pub fn put(&self, jti: &str, session: Session) {
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        map.insert((session.holder.clone(), jti.to_string()), session);
    }
    pub fn clear(&self) {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
    pub fn forget(&self, holder: &str, jti: &str) {
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&(holder.to_string(), jti.to_string()));
    }
    pub fn nonce(&self, token_endpoint: &str) -> Option<String> {
        self.nonces
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token_endpoint)
            .cloned()
    }
    pub fn set_nonce(&self, token_endpoint: &str, nonce: String) {
        self.nonces
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token_endpoint.to_string(), nonce);
    }
}

#[derive(Clone)]
pub struct Engine {
    pub http: Http,
    pub key: Arc<WalletKey>,
    pub trace: Trace,
    pub limits: Limits,
    pub tokens: TokenCache,
}

/// One HTTP answer, read within a size limit.
pub struct Reply {
    /// Where this exchange sits in the trace.
    pub trace_index: usize,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

/// A request before it is sent: kept as parts so the trace can show it redacted.
pub struct Outgoing<'a> {
    pub holder: &'a str,
    pub step: Step,
    pub method: reqwest::Method,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub form: Option<Vec<(&'static str, String)>>,
    /// A JSON body (registration); shown in the trace as sent, since it holds only public keys.
    pub json: Option<serde_json::Value>,
}

#[derive(Debug)]
pub enum SendError {
    /// Connecting, or the connection broke: worth retrying.
    Network(String),
    /// The body was larger than allowed.
    TooLarge(usize),
    /// The URL may not be fetched (not HTTPS, not loopback).
    Refused(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Network(e) => write!(f, "{e}"),
            Self::TooLarge(n) => write!(f, "the answer is larger than {n} bytes"),
            Self::Refused(e) => write!(f, "{e}"),
        }
    }
}

impl Engine {
    pub fn new(http: Http, key: Arc<WalletKey>, trace: Trace, limits: Limits) -> Self {
        Self {
            http,
            key,
            trace,
            limits,
            tokens: TokenCache::default(),
        }
    }

    /// A holder's `.well-known/smart-configuration`, read through the trace:
    /// it is public, so the trace keeps it whole.
    pub async fn discover(
        &self,
        fhir_base: &str,
    ) -> Result<crate::holders::SmartConfig, crate::WalletError> {
        let url = format!("{fhir_base}/.well-known/smart-configuration");
        let fail = |reason: String| crate::WalletError::Fetch {
            url: url.clone(),
            reason,
        };
        // A public document: the client that follows HTTPS redirects reads it.
        let reply = self
            .send_via(
                self.http.client(),
                Outgoing {
                    holder: fhir_base,
                    step: Step::Discovery,
                    method: reqwest::Method::GET,
                    url: url.clone(),
                    headers: vec![],
                    form: None,
                    json: None,
                },
                crate::holders::MAX_CONFIG_BYTES,
                false,
            )
            .await
            .map_err(|e| fail(e.to_string()))?;
        if let Some(document) = reply.json() {
            self.trace.set_response(reply.trace_index, document);
        }
        if !(200..300).contains(&reply.status) {
            return Err(fail(format!("the server answered {}", reply.status)));
        }
        crate::holders::parse_config(&url, &reply.body)
    }

    pub async fn send(&self, out: Outgoing<'_>, max_bytes: usize) -> Result<Reply, SendError> {
        self.send_traced(out, max_bytes, true).await
    }

    /// As `send`; with `show_body` false the caller fills in the trace's view of
    /// the answer (`Trace::set_response`) after parsing it once itself.
    pub async fn send_traced(
        &self,
        out: Outgoing<'_>,
        max_bytes: usize,
        show_body: bool,
    ) -> Result<Reply, SendError> {
        self.send_via(self.http.protocol_client(), out, max_bytes, show_body)
            .await
    }

    /// As `send_traced`, on `client`: the protocol's own (no redirect
    /// followed) for everything that carries a secret.
    async fn send_via(
        &self,
        client: &reqwest::Client,
        out: Outgoing<'_>,
        max_bytes: usize,
        show_body: bool,
    ) -> Result<Reply, SendError> {
        let parsed = url::Url::parse(&out.url)
            .map_err(|e| SendError::Refused(format!("{}: {e}", out.url)))?;
        crate::http::check_url(&parsed).map_err(SendError::Refused)?;
        let mut jwts = Vec::new();
        // What reqwest adds is shown too, so a copied curl command sends the same.
        let content_type = if out.form.is_some() {
            Some("application/x-www-form-urlencoded")
        } else if out.json.is_some() {
            Some("application/json")
        } else {
            None
        };
        let shown_headers: Vec<_> = std::iter::once(("accept".into(), "application/json".into()))
            .chain(content_type.map(|c| ("content-type".into(), c.into())))
            .chain(
                out.headers
                    .iter()
                    .map(|(k, v)| self.trace.header(k, v, &mut jwts)),
            )
            .collect();
        let shown_form = out
            .form
            .as_ref()
            .map(|f| self.trace.form(f, &mut jwts))
            .or_else(|| out.json.clone());
        let mut req = client
            .request(out.method.clone(), parsed)
            .header("accept", "application/json");
        for (k, v) in &out.headers {
            req = req.header(*k, v);
        }
        if let Some(form) = &out.form {
            req = req.form(form);
        }
        if let Some(json) = &out.json {
            req = req.json(json);
        }
        let started_ms = crate::trace::now_ms();
        let started = Instant::now();
        let result = read(req, max_bytes).await;
        let millis = started.elapsed().as_millis() as u64;
        let mut entry = TraceEntry {
            holder: out.holder.to_string(),
            step: out.step,
            started_ms,
            method: out.method.to_string(),
            url: self.trace.url(&out.url),
            status: None,
            millis,
            request_headers: shown_headers,
            request_body: shown_form,
            response_headers: Vec::new(),
            response: None,
            jwts,
            error: None,
            redacted: !self.trace.tester_mode,
        };
        match &result {
            Ok(r) => {
                entry.status = Some(r.status);
                entry.response_headers = r
                    .headers
                    .iter()
                    .filter(|(k, _)| {
                        [
                            "content-type",
                            "www-authenticate",
                            "dpop-nonce",
                            "retry-after",
                        ]
                        .contains(&k.as_str())
                    })
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
                    .collect();
                if show_body {
                    entry.response = self.trace.response(&r.body);
                    entry.jwts.extend(self.trace.issued_tokens(&r.body));
                }
            }
            Err(e) => entry.error = Some(e.to_string().replace(&out.url, &entry.url)),
        }
        let index = self.trace.push(entry);
        result.map(|r| Reply {
            trace_index: index,
            ..r
        })
    }
}

async fn read(req: reqwest::RequestBuilder, max_bytes: usize) -> Result<Reply, SendError> {
    let mut resp = req
        .send()
        .await
        .map_err(|e| SendError::Network(crate::http::describe(&e)))?;
    if resp.content_length().is_some_and(|n| n > max_bytes as u64) {
        return Err(SendError::TooLarge(max_bytes));
    }
    let status = resp.status().as_u16();
    if resp.status().is_redirection() {
        let to = resp
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or("nowhere");
        return Err(SendError::Refused(format!(
            "the server answered {status}, redirecting to {to}: not followed, so what this wallet sent goes nowhere else"
        )));
    }
    let headers = resp.headers().clone();
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > max_bytes {
                    return Err(SendError::TooLarge(max_bytes));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => {
                return Err(SendError::Network(format!(
                    "the answer broke off: {}",
                    crate::http::describe(&e)
                )));
            }
        }
    }
    Ok(Reply {
        trace_index: usize::MAX,
        status,
        headers,
        body,
    })
}

/// How long to wait before retry number `attempt` (from 0): 250 ms doubling, at most 4 s.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((250u64 << attempt.min(4)).min(4000))
}

/// How long to wait after a 429 or 5xx: the holder's `Retry-After` (seconds) when
/// it gives one, capped at `max`; otherwise the backoff.
pub fn retry_wait(reply: &Reply, attempt: u32, max: Duration) -> Duration {
    reply
        .header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or_else(|| backoff(attempt))
        .min(max)
}
