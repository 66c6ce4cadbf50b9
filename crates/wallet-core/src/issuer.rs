//! What the wallet needs from a ticket's issuer: its published keys and the
//! revocation status list the ticket points at.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use permission_ticket::{IssuerKeys, Jwks, RevocationInput, StatusList};

use crate::http::Http;

const MAX_JWKS_BYTES: usize = 64 * 1024;
pub(crate) const MAX_STATUS_LIST_BYTES: usize = 2 * 1024 * 1024;
const KEY_CACHE_TTL: Duration = Duration::from_secs(300);

/// `{iss}/.well-known/jwks.json`, as the spec places it.
pub fn jwks_url(iss: &str) -> String {
    format!("{}/.well-known/jwks.json", iss.trim_end_matches('/'))
}

#[derive(Debug, Default)]
pub struct IssuerDirectory {
    keys: Mutex<HashMap<String, (Instant, Jwks)>>,
}

impl IssuerDirectory {
    /// The issuer's key set; a short cache spares repeated fetches during one
    /// session. With it, whether a failure may pass (the network, a server
    /// that is down) rather than stay (a refused address, a 4xx, a malformed set).
    pub async fn keys(&self, http: &Http, iss: &str) -> (IssuerKeys, bool) {
        if let Some(jwks) = self.cached(iss) {
            return (IssuerKeys::Keys(jwks), false);
        }
        let url = jwks_url(iss);
        let fetched = http.fetch(&url, MAX_JWKS_BYTES).await;
        match fetched.map(|body| Jwks::from_json(&String::from_utf8_lossy(&body))) {
            Ok(Ok(jwks)) => {
                if let Ok(mut cache) = self.keys.lock() {
                    cache.insert(iss.to_string(), (Instant::now(), jwks.clone()));
                }
                (IssuerKeys::Keys(jwks), false)
            }
            Ok(Err(e)) => (IssuerKeys::Unavailable(format!("{url}: {e}")), false),
            Err(f) => (IssuerKeys::Unavailable(f.error.to_string()), f.transient),
        }
    }

    fn cached(&self, iss: &str) -> Option<Jwks> {
        let cache = self.keys.lock().ok()?;
        let (at, jwks) = cache.get(iss)?;
        (at.elapsed() < KEY_CACHE_TTL).then(|| jwks.clone())
    }
}

/// Fetches a revocation status list. Failure is "indeterminate", never "revoked".
pub async fn status_list(http: &Http, url: &str) -> RevocationInput {
    match http.get_bytes(url, MAX_STATUS_LIST_BYTES).await {
        Ok(body) => match StatusList::from_json(&body) {
            Ok(list) => RevocationInput::List(list),
            Err(e) => RevocationInput::Unavailable(format!("{url}: {e}")),
        },
        Err(e) => RevocationInput::Unavailable(e.to_string()),
    }
}
