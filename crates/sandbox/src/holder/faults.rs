//! Knobs that make a holder misbehave on purpose, per holder, at run time:
//! from Rust (`Holder::set_faults`) or over HTTP (`POST /holders/{slug}/_faults`).

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State as AxState};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{Shared, lock};

/// Every field off (0 / false) by default. "Every N" counts requests to this holder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Added before every response.
    pub latency_ms: u64,
    /// Every Nth request answers 503.
    pub fail_every: u64,
    /// Every Nth request answers 429 with `Retry-After: 1`.
    pub rate_limit_every: u64,
    /// Every Nth request's connection is cut before the body.
    pub drop_every: u64,
    /// Every Nth response body stops halfway and the connection is cut.
    pub truncate_every: u64,
    /// Response bodies are sent in 1 KiB pieces this many ms apart.
    pub slow_body_ms: u64,
    /// Every FHIR call must carry the nonce from the previous answer (DPoP profile).
    pub nonce_every_call: bool,
    /// Access tokens stop working after this many FHIR calls, as if expired.
    pub expire_tokens_after: u32,
    /// Every search page links to a further page, forever (new URLs, no loop).
    pub endless_next: bool,
    /// Searches answer with a JSON body this many bytes long, streamed without a length.
    pub huge_body_bytes: u64,
    /// Searches ignore `_lastUpdated` and `_summary=count`, as servers that
    /// do not support them do: every match comes back, whatever was asked.
    pub ignore_change_searches: bool,
    /// Searchsets carry no `total` (FHIR makes it optional), so a
    /// `_summary=count` answer says nothing, as at servers that do not count.
    pub omit_total: bool,
    /// Token responses claim `patient/*.rs`, whatever was granted.
    pub claim_wider_scope: bool,
    /// Token responses say `Bearer` even when the token is bound to a DPoP key.
    pub bearer_token_type: bool,
    /// Every token request is answered with this OAuth error (and
    /// `token_error_description`), as a server that refuses for its own reasons.
    pub token_error: String,
    pub token_error_description: String,
    /// Access tokens live this many seconds (0: the usual 300).
    pub token_lifetime_secs: u64,
    /// Deliberate defects, for the conformance check to find: tickets past
    /// `exp` are accepted,
    pub accept_expired_tickets: bool,
    /// tickets for any audience are accepted,
    pub ignore_ticket_aud: bool,
    /// DPoP is advertised but proofs are not checked (any proof, or none, passes),
    pub skip_dpop_checks: bool,
    /// searches return data outside the ticket's `data_period`,
    pub ignore_data_period: bool,
    /// access tokens keep working after they expire,
    pub accept_expired_tokens: bool,
    /// and revoked tickets are exchanged (the status list is not checked).
    pub ignore_revocation: bool,
}

pub async fn set(AxState(state): AxState<Shared>, Json(faults): Json<Faults>) -> impl IntoResponse {
    lock(&state).faults = faults.clone();
    Json(faults)
}

fn every(n: u64, count: u64) -> bool {
    n > 0 && count.is_multiple_of(n)
}

pub async fn apply(AxState(state): AxState<Shared>, req: Request, next: Next) -> Response {
    if req.uri().path().ends_with("/_faults") {
        return next.run(req).await;
    }
    let (faults, count, huge_sent) = {
        let mut s = lock(&state);
        s.requests += 1;
        (s.faults.clone(), s.requests, s.huge_sent.clone())
    };
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    if every(faults.fail_every, count) {
        return (StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable").into_response();
    }
    if every(faults.rate_limit_every, count) {
        let mut r = (StatusCode::TOO_MANY_REQUESTS, "slow down").into_response();
        r.headers_mut()
            .insert("retry-after", HeaderValue::from_static("1"));
        return r;
    }
    if faults.huge_body_bytes > 0 && is_search(req.uri().path()) {
        return huge_body(faults.huge_body_bytes, huge_sent);
    }
    let response = next.run(req).await;
    let drop = every(faults.drop_every, count);
    let truncate = every(faults.truncate_every, count);
    if !drop && !truncate && faults.slow_body_ms == 0 {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let keep = if drop {
        0
    } else if truncate {
        bytes.len() / 2
    } else {
        bytes.len()
    };
    let cut = drop || truncate;
    let delay = faults.slow_body_ms;
    let stream = async_stream(bytes, keep, cut, delay);
    let mut parts = parts;
    // The length would be a lie once the body is cut short.
    parts.headers.remove("content-length");
    Response::from_parts(parts, Body::from_stream(stream))
}

/// `/holders/hN/fhir/{Type}` with a type other than Patient.
fn is_search(path: &str) -> bool {
    let mut parts = path.rsplit('/');
    let last = parts.next().unwrap_or_default();
    parts.next() == Some("fhir") && last.starts_with(char::is_uppercase) && last != "Patient"
}

/// A Bundle that never seems to end: generated piece by piece so the sandbox
/// itself holds only one 64 KiB piece, whatever the size.
/// `size` bytes of a Bundle that never ends, streamed as the client reads;
/// `most_sent` keeps the largest amount one answer got out.
fn huge_body(size: u64, most_sent: std::sync::Arc<std::sync::atomic::AtomicU64>) -> Response {
    const PIECE: usize = 64 * 1024;
    let head = axum::body::Bytes::from_static(
        b"{\"resourceType\":\"Bundle\",\"type\":\"searchset\",\"entry\":[",
    );
    let filler = axum::body::Bytes::from(vec![b' '; PIECE]);
    let mut sent = 0u64;
    let stream = futures_util::stream::iter(std::iter::from_fn(move || {
        if sent >= size {
            return None;
        }
        let piece = if sent == 0 {
            head.clone()
        } else {
            filler.slice(..PIECE.min((size - sent) as usize))
        };
        sent += piece.len() as u64;
        most_sent.fetch_max(sent, std::sync::atomic::Ordering::Relaxed);
        Some(Ok::<_, std::io::Error>(piece))
    }));
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/fhir+json"),
    );
    r
}

fn async_stream(
    bytes: axum::body::Bytes,
    keep: usize,
    cut: bool,
    delay_ms: u64,
) -> impl futures_util::Stream<Item = Result<axum::body::Bytes, std::io::Error>> {
    let chunks: Vec<axum::body::Bytes> = (0..keep)
        .step_by(1024)
        .map(|i| bytes.slice(i..(i + 1024).min(keep)))
        .collect();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        for c in chunks {
            if delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            }
            if tx.send(Ok(c)).await.is_err() {
                return;
            }
        }
        if cut {
            let _ = tx
                .send(Err(std::io::Error::other(
                    "connection cut by fault injection",
                )))
                .await;
        }
    });
    tokio_stream_from(rx)
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
