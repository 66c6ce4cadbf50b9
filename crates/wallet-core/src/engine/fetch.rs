//! Downloading a patient's records from one holder: the Patient, then every
//! resource type the grant allows, following `next` links to the end, with
//! retries, `Retry-After`, DPoP nonces, a new token when one expires, and
//! limits so a hostile holder cannot exhaust memory or loop forever.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::sync::Mutex;

use super::exchange::{ExchangeError, Session, exchange};
use super::{Engine, Outgoing, Reply, SendError, backoff, retry_wait};
use crate::holders::{HolderRecord, SmartConfig};
use crate::proofs::dpop_proof;
pub use record_store::{Record, record_digest};

#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest page (or resource) accepted.
    pub max_page_bytes: usize,
    /// Most pages followed per resource type.
    pub max_pages: usize,
    /// Tries per request (network errors, 5xx, 429).
    pub max_attempts: u32,
    /// Longest `Retry-After` honoured.
    pub max_retry_after: Duration,
    /// Resource types fetched at once from one holder.
    pub type_concurrency: usize,
    /// `_count` asked for.
    pub page_size: usize,
    /// Most bytes one holder may send in one sync, all answers together.
    pub max_holder_bytes: u64,
    /// Most resources one holder may send in one sync.
    pub max_holder_records: usize,
}

/// The environment variables that raise or lower the per-holder budget.
pub const BUDGET_MIB_VAR: &str = "TW_MAX_HOLDER_MIB";
pub const BUDGET_RECORDS_VAR: &str = "TW_MAX_HOLDER_RECORDS";

impl Limits {
    /// The defaults, with the per-holder budget from the environment when set.
    pub fn from_env() -> Result<Self, String> {
        Ok(Self::default()
            .with_budget(env_number(BUDGET_MIB_VAR)?, env_number(BUDGET_RECORDS_VAR)?))
    }

    /// These limits with the per-holder budget changed where given: MiB and records.
    pub fn with_budget(mut self, mib: Option<u64>, records: Option<u64>) -> Self {
        if let Some(mib) = mib {
            self.max_holder_bytes = mib.saturating_mul(1024 * 1024);
        }
        if let Some(records) = records {
            self.max_holder_records = usize::try_from(records).unwrap_or(usize::MAX);
        }
        self
    }
}

fn env_number(name: &str) -> Result<Option<u64>, String> {
    match std::env::var(name) {
        Err(_) => Ok(None),
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| format!("{name}={v} is not a whole number above zero")),
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_page_bytes: 16 * 1024 * 1024,
            max_pages: 2000,
            max_attempts: 5,
            max_retry_after: Duration::from_secs(30),
            type_concurrency: 4,
            page_size: 200,
            // A large record is tens of thousands of resources of a few KiB:
            // these leave it room many times over and still bound what a
            // hostile holder can make the wallet hold.
            max_holder_bytes: 512 * 1024 * 1024,
            max_holder_records: 250_000,
        }
    }
}

#[derive(Debug, Clone)]
pub enum FetchError {
    /// The holder cannot be synced now; the message says why.
    Stopped(String),
    /// The ticket itself stopped working (expired, revoked...).
    Exchange(ExchangeError),
    /// The holder would not give this resource type (403/404); the rest goes on.
    Withheld(u16),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stopped(m) => write!(f, "{m}"),
            Self::Exchange(e) => write!(f, "{e}"),
            Self::Withheld(status) => write!(f, "the holder withheld it ({status})"),
        }
    }
}

/// What is needed to present the ticket again when a token expires mid-sync.
pub struct Reauth<'a> {
    pub holder: &'a HolderRecord,
    pub config: &'a SmartConfig,
    pub ticket: &'a str,
    pub bound_jkt: Option<String>,
    pub scope: Option<String>,
}

/// A resource answer read as a `Record`, or why it is not one.
pub(crate) fn parse_record(body: &[u8]) -> Result<Record, FetchError> {
    let bad = |e: serde_json::Error| {
        FetchError::Stopped(format!(
            "the holder answered with something that is not a FHIR resource: {e}"
        ))
    };
    let json: Box<RawValue> = serde_json::from_slice(body).map_err(bad)?;
    let head: Head = serde_json::from_str(json.get()).map_err(bad)?;
    Ok(Record::new(head.resource_type, head.id, json))
}

/// The parts of a search page the wallet reads; resources stay unparsed.
#[derive(Deserialize)]
struct Page {
    #[serde(rename = "resourceType")]
    resource_type: String,
    #[serde(default)]
    meta: PageMeta,
    total: Option<u64>,
    #[serde(default)]
    entry: Vec<PageEntry>,
    #[serde(default)]
    link: Vec<PageLink>,
}

#[derive(Deserialize, Default)]
struct PageMeta {
    #[serde(rename = "lastUpdated")]
    last_updated: Option<String>,
}

#[derive(Deserialize)]
struct PageEntry {
    resource: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
struct PageLink {
    relation: String,
    url: String,
}

#[derive(Deserialize)]
struct Head {
    #[serde(rename = "resourceType")]
    resource_type: String,
    id: Option<String>,
}

/// What an earlier sync left for asking a holder only what changed in one
/// resource type (`_lastUpdated`).
#[derive(Debug, Clone, Default)]
pub struct ChangesSince {
    /// A FHIR instant on the holder's own clock.
    pub since: String,
    /// The ids of the type's records as stored.
    pub ids: HashSet<String>,
}

/// Per resource type, where it may be asked only for what changed.
pub type Basis = HashMap<String, ChangesSince>;

/// How far before the holder's own time of a search the next one starts:
/// a record changed while the pages were read, or stamped by another of the
/// holder's servers whose clock is behind, is asked for again. What comes
/// twice is matched by its digest and written once.
pub const SINCE_MARGIN_SECS: i64 = 300;

#[derive(Debug, Default)]
pub struct Downloaded {
    pub patient: Option<Record>,
    pub resources: Vec<Record>,
    pub pages: usize,
    /// Per type, the records the holder has (for a type asked only for
    /// what changed, its total, not the few that came).
    pub by_type: BTreeMap<String, usize>,
    /// Types asked only for what changed, each with the holder's total:
    /// `resources` holds only their changed records, the rest are as stored.
    pub changed_only: BTreeMap<String, u64>,
    /// Per type, where the next sync's search for changes starts (types
    /// whose holder did not say when it searched have none).
    pub since: BTreeMap<String, String>,
    /// Types asked for what changed whose holder's count had no total: it
    /// cannot say whether anything was deleted, so they were fetched whole.
    pub uncounted: BTreeSet<String>,
    /// Types the holder would not give (403/404), with its reason.
    pub skipped: Vec<String>,
    /// The token in use at the end (it may have been replaced on the way).
    pub session: Option<Session>,
}

/// One resource type as fetched.
struct TypeFetched {
    records: Vec<Record>,
    pages: usize,
    /// The holder's own time of its first page (`Bundle.meta.lastUpdated`).
    stamp: Option<String>,
    /// The holder's total, when only what changed was asked for.
    changed_of: Option<u64>,
    /// Fetched whole because the holder's count of the type had no total.
    uncounted: bool,
}

/// What asking a type only for what changed came to.
enum Changes {
    /// The changed records, and the holder's count bears them out.
    Only(TypeFetched),
    /// The counts disagree (a deletion, an old record newly granted): fetch whole.
    Whole,
    /// The holder's count has no total: fetch whole, and say so.
    Uncounted,
}

type TypeResult = Result<TypeFetched, FetchError>;

/// Progress: (resource type, pages so far, resources so far) across the holder.
pub type Progress<'a> = &'a (dyn Fn(&str, usize, usize) + Send + Sync);

/// Where each page of a type fetched whole goes while the next downloads
/// (the store writes it, for a set not stored before), and comes back from:
/// the download ends with every record it lent, or fails.
pub trait PageSink: Send + Sync {
    fn lend(&self, records: Vec<Record>) -> tokio::sync::oneshot::Receiver<Vec<Record>>;
}

struct Shared<'a> {
    engine: &'a Engine,
    reauth: &'a Reauth<'a>,
    sink: Option<&'a dyn PageSink>,
    session: Mutex<Session>,
    pages: std::sync::atomic::AtomicUsize,
    resources: std::sync::atomic::AtomicUsize,
    bytes: std::sync::atomic::AtomicU64,
}

pub async fn download(
    engine: &Engine,
    reauth: &Reauth<'_>,
    session: Session,
    types: &[String],
    basis: &Basis,
    progress: Progress<'_>,
    sink: Option<&dyn PageSink>,
) -> Result<Downloaded, FetchError> {
    let base = reauth.holder.fhir_base.clone();
    let shared = Arc::new(Shared {
        engine,
        reauth,
        sink,
        session: Mutex::new(session),
        pages: 0.into(),
        resources: 0.into(),
        bytes: 0.into(),
    });
    let mut out = Downloaded::default();
    let patient_id = shared.session.lock().await.patient.clone();
    let patient_id = match patient_id {
        Some(id) => id,
        None => {
            // No `patient` in the token response: ask the holder who it is.
            let reply = get(&shared, &format!("{base}/Patient")).await?;
            let bundle = parse(&reply)?;
            bundle["entry"][0]["resource"]["id"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| {
                    FetchError::Stopped(
                        "the holder did not say which patient the token is for".into(),
                    )
                })?
        }
    };
    let patient_url = format!("{base}/Patient/{patient_id}");
    // The Patient and the searches at once: each search chain is as long as its pages.
    let (patient, results): (_, Vec<(String, TypeResult)>) = tokio::join!(
        get(&shared, &patient_url),
        futures_util::stream::iter(types.iter().cloned())
            .map(|t| {
                let shared = shared.clone();
                let search = format!("{base}/{t}?patient={patient_id}");
                let since = basis.get(&t);
                async move {
                    let r = fetch_type(&shared, &search, &t, since, progress).await;
                    (t, r)
                }
            })
            .buffer_unordered(engine.limits.type_concurrency.max(1))
            .collect::<Vec<_>>()
    );
    match patient? {
        reply if reply.status == 200 => {
            let record = parse_record(&reply.body)?;
            engine.trace.set_response(
                reply.trace_index,
                engine
                    .trace
                    .resource_summary(&record.resource_type, record.id.clone().into()),
            );
            out.patient = Some(record);
        }
        reply => out.skipped.push(format!("Patient ({})", reply.status)),
    }
    for (t, r) in results {
        match r {
            Ok(f) => {
                out.pages += f.pages;
                let held = f.changed_of.map_or(f.records.len(), |n| n as usize);
                if let Some(n) = f.changed_of {
                    out.changed_only.insert(t.clone(), n);
                }
                if f.uncounted {
                    out.uncounted.insert(t.clone());
                }
                if let Some(since) = f.stamp.as_deref().and_then(since_before) {
                    out.since.insert(t.clone(), since);
                }
                out.by_type.insert(t, held);
                out.resources.extend(f.records);
            }
            Err(FetchError::Withheld(status)) => out.skipped.push(format!("{t} ({status})")),
            Err(e) => return Err(e),
        }
    }
    out.session = Some(shared.session.lock().await.clone());
    Ok(out)
}

/// `stamp` less `SINCE_MARGIN_SECS`, as a UTC instant; `None` when the
/// holder's stamp is not an instant.
fn since_before(stamp: &str) -> Option<String> {
    use time::format_description::well_known::Rfc3339;
    let at = time::OffsetDateTime::parse(stamp, &Rfc3339).ok()?;
    (at - time::Duration::seconds(SINCE_MARGIN_SECS))
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .ok()?
        .format(&Rfc3339)
        .ok()
}

/// One type: only what changed since the last sync where that is known
/// and the holder's counts bear it out, otherwise every record.
async fn fetch_type(
    shared: &Shared<'_>,
    search: &str,
    resource_type: &str,
    since: Option<&ChangesSince>,
    progress: Progress<'_>,
) -> TypeResult {
    let mut uncounted = false;
    if let Some(since) = since {
        match changed_only(shared, search, resource_type, since, progress).await {
            Ok(Changes::Only(f)) => return Ok(f),
            Ok(Changes::Whole) => {}
            Ok(Changes::Uncounted) => uncounted = true,
            Err(e @ (FetchError::Exchange(_) | FetchError::Withheld(_))) => return Err(e),
            // A holder that refuses the search for changes may still give everything.
            Err(e) => tracing::debug!("{resource_type}: asking only for changes failed ({e})"),
        }
    }
    let size = shared.engine.limits.page_size;
    let whole = search_all(
        shared,
        &format!("{search}&_count={size}"),
        resource_type,
        progress,
        shared.sink,
    )
    .await?;
    Ok(TypeFetched { uncounted, ..whole })
}

/// The records of one type changed since `since`, when the holder's count
/// of all its records equals what is stored and not changed plus what came:
/// a record deleted, or one that came into the grant with an older stamp,
/// makes them differ.
async fn changed_only(
    shared: &Shared<'_>,
    search: &str,
    resource_type: &str,
    since: &ChangesSince,
    progress: Progress<'_>,
) -> Result<Changes, FetchError> {
    let size = shared.engine.limits.page_size;
    let at: String = url::form_urlencoded::byte_serialize(since.since.as_bytes()).collect();
    let changed = format!("{search}&_lastUpdated=ge{at}&_count={size}");
    let count = format!("{search}&_summary=count");
    let (changed, count) = tokio::join!(
        // Not lent: a type whose counts disagree is fetched again, whole.
        search_all(shared, &changed, resource_type, progress, None),
        get(shared, &count)
    );
    let (changed, count) = (changed?, count?);
    if count.status == 403 || count.status == 404 {
        return Err(FetchError::Withheld(count.status));
    }
    let counted = read_page(&count.body, resource_type)?;
    // Shown as a search page is: the total is what the decision rests on.
    show_page(shared, &count, &counted);
    let Some(total) = counted.total else {
        return Ok(Changes::Uncounted);
    };
    let mut ids = HashSet::new();
    for r in &changed.records {
        match r.id.as_deref() {
            Some(id) if ids.insert(id) => {}
            // No id, or one twice: the stored rows cannot be matched to it.
            _ => return Ok(Changes::Whole),
        }
    }
    let kept = since
        .ids
        .iter()
        .filter(|id| !ids.contains(id.as_str()))
        .count();
    if (kept + changed.records.len()) as u64 != total {
        tracing::debug!(
            "{resource_type}: the holder holds {total}, {kept} kept and {} changed: fetching all",
            changed.records.len()
        );
        return Ok(Changes::Whole);
    }
    Ok(Changes::Only(TypeFetched {
        pages: changed.pages + 1,
        changed_of: Some(total),
        ..changed
    }))
}

/// A search page as the trace shows it: its size, total and next link,
/// never its resources.
fn show_page(shared: &Shared<'_>, reply: &Reply, page: &PageRead) {
    let trace = &shared.engine.trace;
    trace.set_response(
        reply.trace_index,
        trace.bundle_summary(page.total.map(Value::from), page.entries, page.next.clone()),
    );
}

async fn search_all(
    shared: &Shared<'_>,
    first: &str,
    resource_type: &str,
    progress: Progress<'_>,
    sink: Option<&dyn PageSink>,
) -> TypeResult {
    let base = &shared.reauth.holder.fhir_base;
    let origin = url::Url::parse(base)
        .map(|u| u.origin())
        .map_err(|e| FetchError::Stopped(e.to_string()))?;
    let mut url = first.to_string();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    // Pages lent to the sink, in order, each to come back.
    let mut lent = Vec::new();
    let mut pages = 0;
    let mut stamp = None;
    loop {
        if !seen.insert(url.clone()) {
            return Err(FetchError::Stopped(format!(
                "the holder's {resource_type} pages loop back on themselves"
            )));
        }
        if pages >= shared.engine.limits.max_pages {
            return Err(FetchError::Stopped(format!(
                "the holder sent more than {} pages of {resource_type}",
                shared.engine.limits.max_pages
            )));
        }
        let reply = get(shared, &url).await?;
        if reply.status == 403 || reply.status == 404 {
            return Err(FetchError::Withheld(reply.status));
        }
        let page = read_page(&reply.body, resource_type)?;
        if pages == 0 {
            stamp = page.stamp.clone();
        }
        pages += 1;
        show_page(shared, &reply, &page);
        let next = page.next;
        let came = page.records.len();
        match sink {
            Some(sink) => lent.push(sink.lend(page.records)),
            None => out.extend(page.records),
        }
        let total_pages = shared
            .pages
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let total_resources = shared
            .resources
            .fetch_add(came, std::sync::atomic::Ordering::Relaxed)
            + came;
        progress(resource_type, total_pages, total_resources);
        let budget = shared.engine.limits.max_holder_records;
        if total_resources > budget {
            return Err(FetchError::Stopped(format!(
                "the holder sent more than {budget} records in this sync, the most one holder may send; stopped (set {BUDGET_RECORDS_VAR} to allow more)"
            )));
        }

        match next {
            None => {
                for page in lent {
                    out.extend(page.await.map_err(|_| {
                        FetchError::Stopped(
                            "the store stopped before this holder's records were written".into(),
                        )
                    })?);
                }
                return Ok(TypeFetched {
                    records: out,
                    pages,
                    stamp,
                    changed_of: None,
                    uncounted: false,
                });
            }
            Some(n) => {
                // Never send this holder's token anywhere else.
                let parsed = url::Url::parse(&n)
                    .map_err(|_| FetchError::Stopped(format!("bad next link: {n}")))?;
                if parsed.origin() != origin {
                    return Err(FetchError::Stopped(format!(
                        "the holder's next link leaves it ({n}); not followed"
                    )));
                }
                url = n;
            }
        }
    }
}

/// One search page, read: its records of the type searched for, kept as the
/// holder sent them (only the type and id are looked at), and where the next
/// page is.
pub struct PageRead {
    pub records: Vec<Record>,
    pub next: Option<String>,
    pub total: Option<u64>,
    /// Entries on the page, whatever their type.
    pub entries: usize,
    /// The holder's own time of the search (`Bundle.meta.lastUpdated`).
    pub stamp: Option<String>,
}

pub fn read_page(body: &[u8], resource_type: &str) -> Result<PageRead, FetchError> {
    let bundle: Page = serde_json::from_slice(body).map_err(|e| {
        FetchError::Stopped(format!(
            "the holder's {resource_type} page is not a FHIR Bundle: {e}"
        ))
    })?;
    if bundle.resource_type != "Bundle" {
        return Err(FetchError::Stopped(format!(
            "the holder answered a {resource_type} search with something other than a Bundle"
        )));
    }
    let next = bundle
        .link
        .iter()
        .find(|l| l.relation == "next")
        .map(|l| l.url.clone());
    let entries = bundle.entry.len();
    let records = bundle
        .entry
        .into_iter()
        .filter_map(|e| e.resource)
        .filter_map(|raw| {
            let head = serde_json::from_str::<Head>(raw.get()).ok()?;
            (head.resource_type == resource_type)
                .then(|| Record::new(head.resource_type, head.id, raw))
        })
        .collect();
    Ok(PageRead {
        records,
        next,
        total: bundle.total,
        entries,
        stamp: bundle.meta.last_updated,
    })
}

fn mib(bytes: u64) -> String {
    match bytes / (1024 * 1024) {
        0 => format!("{bytes} bytes"),
        n => format!("{n} MiB"),
    }
}

fn parse(reply: &Reply) -> Result<Value, FetchError> {
    serde_json::from_slice(&reply.body).map_err(|e| {
        FetchError::Stopped(format!(
            "the holder answered with something that is not JSON: {e}"
        ))
    })
}

/// One GET with the token, retried as the answer warrants.
async fn get(shared: &Shared<'_>, url: &str) -> Result<Reply, FetchError> {
    let engine = shared.engine;
    let limits = &engine.limits;
    let mut attempt = 0u32;
    let mut nonce_retries = 0;
    let mut renewed = false;
    loop {
        let session = shared.session.lock().await.clone();
        let mut headers = Vec::new();
        if session.dpop {
            headers.push(("Authorization", format!("DPoP {}", session.access_token)));
            headers.push((
                "DPoP",
                dpop_proof(
                    &engine.key,
                    "GET",
                    url,
                    session.nonce.as_deref(),
                    Some(&session.access_token),
                ),
            ));
        } else {
            headers.push(("Authorization", format!("Bearer {}", session.access_token)));
            if let Some(jkt) = &session.bound_jkt {
                headers.push(("x-client-jkt", jkt.clone()));
            }
        }
        let sent = engine
            .send_traced(
                Outgoing {
                    holder: &shared.reauth.holder.fhir_base,
                    step: crate::trace::Step::Fhir,
                    method: Method::GET,
                    url: url.to_string(),
                    headers,
                    form: None,
                    json: None,
                },
                limits.max_page_bytes,
                false,
            )
            .await;
        let retry = |attempt: u32| attempt + 1 < limits.max_attempts;
        let reply = match sent {
            Ok(r) => r,
            Err(SendError::Network(e)) if retry(attempt) => {
                tracing::debug!("{}: {e}; retrying", crate::trace::redact_url(url));
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
                continue;
            }
            Err(SendError::Network(e)) => {
                return Err(FetchError::Stopped(format!(
                    "the holder stopped answering: {e}"
                )));
            }
            Err(SendError::TooLarge(n)) => {
                return Err(FetchError::Stopped(format!(
                    "the holder sent a page larger than {n} bytes; not read"
                )));
            }
            Err(SendError::Refused(e)) => return Err(FetchError::Stopped(e)),
        };
        let received = shared.bytes.fetch_add(
            reply.body.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        ) + reply.body.len() as u64;
        if received > limits.max_holder_bytes {
            return Err(FetchError::Stopped(format!(
                "the holder sent more than {} in this sync, the most one holder may send; stopped (set {BUDGET_MIB_VAR} to allow more)",
                mib(limits.max_holder_bytes)
            )));
        }
        if !(200..300).contains(&reply.status) {
            // Small answers (errors, outcomes): shown as they are.
            if let Some(shown) = engine.trace.response(&reply.body) {
                engine.trace.set_response(reply.trace_index, shown);
            }
        }
        if let Some(n) = reply.header("dpop-nonce") {
            shared.session.lock().await.nonce = Some(n);
        }
        let www = reply.header("www-authenticate").unwrap_or_default();
        match reply.status {
            200..=299 | 403 | 404 => return Ok(reply),
            401 if www.contains("use_dpop_nonce") && nonce_retries < 3 => {
                nonce_retries += 1;
                continue;
            }
            // Expired token (401), or the reference style's 400: present the ticket again, once.
            401 | 400 if !renewed => {
                renewed = true;
                renew(shared, &session).await?;
                continue;
            }
            429 if retry(attempt) => {
                tokio::time::sleep(retry_wait(&reply, attempt, limits.max_retry_after)).await;
                attempt += 1;
            }
            500..=599 if retry(attempt) => {
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
            status => {
                let detail = reply
                    .json()
                    .map(|v| {
                        v["issue"][0]["diagnostics"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string()
                    })
                    .unwrap_or_default();
                return Err(FetchError::Stopped(
                    format!("the holder answered {status} {detail}")
                        .trim()
                        .to_string(),
                ));
            }
        }
    }
}

/// Replaces the token, unless another request already did.
async fn renew(shared: &Shared<'_>, used: &Session) -> Result<(), FetchError> {
    let mut session = shared.session.lock().await;
    if session.access_token != used.access_token {
        return Ok(());
    }
    let r = shared.reauth;
    let fresh = exchange(
        shared.engine,
        r.holder,
        r.config,
        r.ticket,
        r.bound_jkt.clone(),
        r.scope.clone(),
        None,
    )
    .await
    .map_err(FetchError::Exchange)?;
    *session = fresh;
    Ok(())
}
