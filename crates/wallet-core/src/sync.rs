//! A sync: every kept ticket presented to every known holder it may be used
//! at, all holders at once (bounded), each reporting progress and ending with
//! an outcome a person can act on. One failing holder never stops the others.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::{Semaphore, mpsc};
use ts_rs::TS;

use crate::engine::interaction::Interactor;
use crate::engine::{Basis, ChangesSince};
use crate::engine::{
    Engine, ExchangeError, FetchError, Limits, PageSink, Reauth, download, exchange,
};
use crate::holders::{HolderRecord, SmartConfig, ticket_problems};
use crate::store::{ChangeMark, ChangeMarks, LastOutcome, Person, PreparedSet, SetFetch};
use crate::trace::Trace;
use crate::wallet::now;
use crate::writer::{
    PageQueue, SharedStore, Staged, Stager, Writer, discard, give_back_freed_memory, on_writer,
};
use crate::{Wallet, WalletError};

/// Types searched when a grant covers every type (`patient/*.rs`).
pub const DEFAULT_TYPES: [&str; 9] = [
    "Condition",
    "Observation",
    "MedicationRequest",
    "AllergyIntolerance",
    "Immunization",
    "Procedure",
    "Encounter",
    "DiagnosticReport",
    "DocumentReference",
];

#[derive(Default)]
pub struct SyncOptions {
    /// Only this ticket (`jti`).
    pub ticket: Option<String>,
    /// Only this holder (FHIR base URL).
    pub holder: Option<String>,
    /// Runs the one interactive step; without it, `interaction_required` is reported and skipped.
    pub interactor: Option<Arc<dyn Interactor>>,
    /// Holders synced at once (default 16).
    pub concurrency: Option<usize>,
    pub limits: Limits,
    /// Show secrets in the trace.
    pub tester_mode: bool,
    /// Fetch everything but leave the record store as it is (a tester's dry run).
    pub dry_run: bool,
    /// Carry on an interrupted sync: only the holders it had not stored yet.
    pub resume: bool,
    /// Set to `true` to stop: holders still working are dropped (what they
    /// stored stays, as after a crash) and the run can be resumed.
    pub cancel: Option<tokio::sync::watch::Receiver<bool>>,
}

/// Progress for the UI and the command line.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SyncEvent {
    pub holder: String,
    /// `discovery`, `registration`, `exchange`, `interaction`, `download`,
    /// `storing` (the records arrived and are being written), `done`.
    pub stage: String,
    pub resource_type: Option<String>,
    #[ts(type = "number")]
    pub pages: usize,
    #[ts(type = "number")]
    pub resources: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct TypeCount {
    pub resource_type: String,
    #[ts(type = "number")]
    pub count: usize,
}

/// How one holder (for one ticket) went.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct HolderOutcome {
    pub fhir_base: String,
    pub name: Option<String>,
    pub ticket_jti: Option<String>,
    /// `synced`, `skipped`, `needs_interaction`, `failed`.
    pub status: String,
    pub message: String,
    pub patient_id: Option<String>,
    #[ts(type = "number")]
    pub resources: usize,
    #[ts(type = "number")]
    pub pages: usize,
    pub by_type: Vec<TypeCount>,
    /// Records this holder had sent before and no longer returns (they are gone from the store).
    #[ts(type = "number")]
    pub removed: usize,
    /// Records written to the store: new or changed since the last sync (none
    /// when the holder sent what was stored, or in a dry run).
    #[ts(type = "number")]
    pub written: usize,
    /// Records the holder sent in this sync: fewer than `resources` when it
    /// was asked only for what changed since the last one.
    #[ts(type = "number")]
    pub fetched: usize,
}

/// One downloaded resource and where it came from.
#[derive(Debug, Clone)]
pub struct SyncedRecord {
    pub holder: String,
    pub ticket_jti: String,
    pub fetched_at: i64,
    /// The resource exactly as the holder sent it.
    pub resource: crate::engine::Record,
}

#[derive(Debug, Default)]
pub struct SyncReport {
    pub outcomes: Vec<HolderOutcome>,
    /// What was fetched and not stored: everything in a dry run, and a
    /// holder's records if writing them failed. Stored records are read back
    /// from the record store, so a sync never holds them all at once.
    pub records: Vec<SyncedRecord>,
    pub trace: Vec<crate::trace::TraceEntry>,
    /// It was cancelled before every holder finished.
    pub cancelled: bool,
}

fn outcome(
    holder: &HolderRecord,
    jti: Option<&str>,
    status: &str,
    message: impl Into<String>,
) -> HolderOutcome {
    HolderOutcome {
        fhir_base: holder.fhir_base.clone(),
        name: holder.name.clone(),
        ticket_jti: jti.map(str::to_string),
        status: status.into(),
        message: message.into(),
        patient_id: None,
        resources: 0,
        pages: 0,
        by_type: Vec::new(),
        removed: 0,
        written: 0,
        fetched: 0,
    }
}

/// The scopes in `scope` that allow searching (`s`); others are skipped.
fn search_scopes(scope: &str) -> impl Iterator<Item = permission_ticket::SmartScope> + '_ {
    scope
        .split_whitespace()
        .filter_map(|s| permission_ticket::SmartScope::parse(s).ok())
        .filter(|s| s.permissions.contains('s'))
}

/// Resource types a grant lets the wallet search.
pub fn searchable_types(scope: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in search_scopes(scope) {
        let types: Vec<String> = if s.resource_type == "*" {
            DEFAULT_TYPES.iter().map(|t| t.to_string()).collect()
        } else {
            vec![s.resource_type.clone()]
        };
        for t in types {
            if t != "Patient" && !out.contains(&t) {
                out.push(t);
            }
        }
    }
    out
}

/// The types asked for that the holder also granted: a holder that grants
/// itself more than the ticket asked for does not get the wallet to fetch it.
pub fn types_to_fetch(asked: Option<&str>, granted: Option<&str>) -> Vec<String> {
    let asked = searchable_types(asked.unwrap_or("patient/*.rs"));
    match granted {
        None => asked,
        Some(granted) => {
            let granted: Vec<_> = search_scopes(granted).collect();
            asked
                .into_iter()
                .filter(|t| {
                    granted
                        .iter()
                        .any(|g| g.resource_type == "*" || g.resource_type == *t)
                })
                .collect()
        }
    }
}

/// A type is fetched whole at least this often, even where the holder
/// offers a search for changes: a holder that changes a record without
/// stamping it anew is caught within a week.
pub const WHOLE_FETCH_EVERY_SECS: i64 = 7 * 24 * 3600;

/// What the last sync left for asking only for what changed
/// (`RecordStore::change_marks`), once read (`None` until then).
type MarksReady = tokio::sync::watch::Receiver<Option<Arc<ChangeMarks>>>;

struct Job {
    holder: HolderRecord,
    config: SmartConfig,
    ticket: String,
    jti: String,
    bound_jkt: Option<String>,
    scope: Option<String>,
    /// Every set's marks, once read.
    marks: MarksReady,
    /// For a set not stored before, where its pages are written as they arrive.
    stage: Option<Stager>,
}

/// One ticket at one holder: how it went, what came, and how it was fetched.
struct TicketResult {
    outcome: HolderOutcome,
    records: Vec<SyncedRecord>,
    fetch: SetFetch,
}

impl TicketResult {
    fn only(outcome: HolderOutcome) -> Self {
        Self {
            outcome,
            records: Vec::new(),
            fetch: SetFetch::default(),
        }
    }
}

impl Wallet {
    pub async fn sync(
        &self,
        opts: SyncOptions,
        events: Option<mpsc::UnboundedSender<SyncEvent>>,
    ) -> Result<SyncReport, WalletError> {
        let engine = Engine {
            http: self.http().clone(),
            key: Arc::new(self.vault().signing_key()?),
            trace: Trace::new(opts.tester_mode),
            limits: opts.limits.clone(),
            tokens: self.tokens().clone(),
        };
        let mut report = SyncReport::default();
        let mut holders = self.holder_records()?;
        if let Some(only) = &opts.holder {
            let only = crate::holders::normalise_base(only)?;
            holders.retain(|h| h.fhir_base == only);
            if holders.is_empty() {
                return Err(WalletError::Invalid(format!(
                    "{only} is not one of this wallet's holders: add it first"
                )));
            }
        }
        let mut tickets = Vec::new();
        for record in self.vault().list_tickets()? {
            if opts.ticket.as_deref().is_some_and(|j| j != record.jti) {
                continue;
            }
            // A test ticket (the workbench's) goes only where a tester names it.
            if record.source == crate::check::workbench::TEST_SOURCE
                && opts.ticket.as_deref() != Some(record.jti.as_str())
            {
                continue;
            }
            // Kept while its issuer's keys could not be fetched: checked again
            // first, and presented nowhere until its signature verifies.
            if !record.verified
                && let Err(why) = self.verify_kept(&record.jti).await
            {
                for h in &holders {
                    report
                        .outcomes
                        .push(outcome(h, Some(&record.jti), "skipped", why.clone()));
                }
                continue;
            }
            let text = self.vault().load_ticket(&record.jti)?;
            if let Ok(d) = permission_ticket::decode(&text) {
                tickets.push(d);
            }
        }
        if tickets.is_empty() && report.outcomes.is_empty() {
            return Err(WalletError::Invalid(
                "no ticket to present: add one first".into(),
            ));
        }

        let started = std::time::Instant::now();
        tracing::info!(
            holders = holders.len(),
            tickets = tickets.len(),
            dry_run = opts.dry_run,
            resume = opts.resume,
            "sync started"
        );
        // Opened first: a store that cannot be opened stops the sync before anything is fetched.
        let mut store = self.record_store()?;
        if !opts.dry_run
            && let Err(e) = store.hold_checkpoints()
        {
            tracing::warn!("could not hold the store's checkpoints: {e}");
        }
        let run = if opts.dry_run {
            None
        } else if opts.resume {
            let run = store.interrupted_run()?.ok_or_else(|| {
                WalletError::Invalid("there is no interrupted sync to resume".into())
            })?;
            let mut left = Vec::new();
            for h in holders {
                if run.holders.contains(&h.fhir_base)
                    && !store.holder_finished(run.id, &h.fhir_base)?
                {
                    left.push(h);
                }
            }
            holders = left;
            Some(run.id)
        } else {
            let bases: Vec<String> = holders.iter().map(|h| h.fhir_base.clone()).collect();
            Some(store.begin_run(now(), &bases)?)
        };
        let stored_sets = if opts.dry_run {
            HashSet::new()
        } else {
            store.stored_sets()?
        };
        let store = Arc::new(std::sync::Mutex::new(store));
        let writer = crate::writer::start(&self.settling).map_err(|e| {
            WalletError::Invalid(format!("could not start the store's writer: {e}"))
        })?;
        let stored_sets = Arc::new(stored_sets);
        let staged = Staged::default();
        // A set not stored before is written page by page while it downloads.
        let staging = (!opts.dry_run).then(|| Stagers {
            store: store.clone(),
            writer: writer.clone(),
            queue: Default::default(),
            stored: stored_sets.clone(),
            staged: staged.clone(),
        });
        // Read while holders are discovered and tickets exchanged; each holder
        // waits for them only before its first search. A dry run fetches
        // everything: it is what a tester measures a holder by.
        let (marks_tx, marks) = tokio::sync::watch::channel(None);
        if opts.dry_run {
            marks_tx.send_replace(Some(Arc::new(ChangeMarks::new())));
        } else {
            let store = store.clone();
            tokio::task::spawn_blocking(move || {
                let mut store = store.lock().unwrap_or_else(|p| p.into_inner());
                // Before any set is written: holders wait for the marks.
                match store.defer_indexes() {
                    Ok(deferred) => tracing::debug!(deferred, "store indexes"),
                    Err(e) => tracing::warn!("could not prepare the store's indexes: {e}"),
                }
                let read = store.change_marks().unwrap_or_else(|e| {
                    tracing::warn!("could not read where to ask for changes: {e}; fetching all");
                    ChangeMarks::new()
                });
                marks_tx.send_replace(Some(Arc::new(read)));
            });
        }
        let concurrency = opts.concurrency.unwrap_or(16).max(1);
        let redirect_uri = opts
            .interactor
            .as_ref()
            .map(|i| i.registered_redirect_uri())
            .unwrap_or_else(|| crate::engine::interaction::LOOPBACK_REDIRECT.into());
        // One task per holder, from discovery to its last page: a slow or
        // silent holder holds up nobody else.
        let limit = Arc::new(Semaphore::new(concurrency));
        let tickets = Arc::new(tickets);
        let mut set = tokio::task::JoinSet::new();
        for holder in holders {
            let (engine, limit, events, tickets) = (
                engine.clone(),
                limit.clone(),
                events.clone(),
                tickets.clone(),
            );
            let sets = Sets {
                marks: marks.clone(),
                staging: staging.clone(),
            };
            let (interactor, redirect_uri) = (opts.interactor.clone(), redirect_uri.clone());
            set.spawn(async move {
                let _permit = limit.acquire_owned().await;
                holder_sync(
                    &engine,
                    holder,
                    &tickets,
                    &sets,
                    &redirect_uri,
                    interactor.as_deref(),
                    events,
                )
                .await
            });
        }
        // Each holder's records are stored as soon as it finishes, in a
        // transaction of their own: an interrupted sync keeps every holder
        // either as it was or as it is now. Storing runs beside the loop, two
        // holders at a time, so the next holder's index entries are worked
        // out while one holder's set is written.
        let storing_ctx = Storing {
            store: store.clone(),
            tickets: tickets.clone(),
            events: events.clone(),
            dry_run: opts.dry_run,
            run,
            stored: stored_sets,
            permits: Arc::new(Semaphore::new(2)),
            writer,
            staged,
        };
        let mut storing = tokio::task::JoinSet::new();
        let mut cancel = opts.cancel.clone();
        loop {
            let downloading = !set.is_empty() && !report.cancelled;
            if !downloading && storing.is_empty() {
                break;
            }
            let cancelled = async {
                let asked = match cancel.as_mut() {
                    Some(rx) => rx.wait_for(|stop| *stop).await.is_ok(),
                    None => false,
                };
                if !asked {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                Some(done) = set.join_next(), if downloading => {
                    let done = match done {
                        Ok(d) => d,
                        Err(e) => {
                            tracing::error!("a holder's sync task failed: {e}");
                            continue;
                        }
                    };
                    if let Some(h) = done.registered
                        && let Err(e) = self.save_holder(h)
                    {
                        tracing::warn!("could not save a holder's registration: {e}");
                    }
                    storing.spawn(store_holder(storing_ctx.clone(), done.results));
                }
                Some(stored) = storing.join_next(), if !storing.is_empty() => {
                    match stored {
                        Ok((outcomes, records)) => {
                            report.outcomes.extend(outcomes);
                            report.records.extend(records);
                        }
                        Err(e) => tracing::error!("storing a holder's records failed: {e}"),
                    }
                }
                () = cancelled, if downloading => {
                    // Downloads stop; what is already being stored finishes.
                    set.abort_all();
                    report.cancelled = true;
                }
            }
        }
        // Pages of holders a cancel stopped: written with no set to take them.
        let left: Vec<(String, String)> = storing_ctx
            .staged
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .collect();
        for set in left {
            discard(&storing_ctx.writer, &store, set);
        }
        let finished = match (run, report.cancelled) {
            (Some(id), false) => store
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .finish_run(id, now()),
            _ => Ok(()),
        };
        // Done for the person; the indexes a first sync deferred are built
        // and the log is folded into the database after, on the writer
        // (`Wallet::settle` waits for it), even if the run could not be
        // noted as finished.
        if !opts.dry_run {
            let store = store.clone();
            let _ = storing_ctx.writer.send(Box::new(move || {
                let mut store = store.lock().unwrap_or_else(|p| p.into_inner());
                let started = std::time::Instant::now();
                match store.build_indexes() {
                    Ok(built) => tracing::debug!(
                        built,
                        millis = started.elapsed().as_millis() as u64,
                        "store indexes built"
                    ),
                    Err(e) => tracing::warn!("could not build the store's indexes: {e}"),
                }
                let started = std::time::Instant::now();
                match store.checkpoint() {
                    Ok(emptied) => tracing::debug!(
                        emptied,
                        millis = started.elapsed().as_millis() as u64,
                        "store log folded"
                    ),
                    Err(e) => tracing::warn!("could not fold the store's log: {e}"),
                }
            }));
        }
        finished?;
        report
            .outcomes
            .sort_by(|a, b| a.fhir_base.cmp(&b.fhir_base));
        report.trace = engine.trace.entries();
        tracing::info!(
            millis = started.elapsed().as_millis() as u64,
            requests = report.trace.len(),
            cancelled = report.cancelled,
            "sync finished"
        );
        // A tester-mode trace holds secrets: it is returned, never written to a file.
        if !opts.tester_mode {
            self.save_trace(&report.trace)?;
        }
        Ok(report)
    }
}

/// What each holder's sets take from the store: where to ask only for
/// changes, and where to write pages as they arrive (`None` in a dry run).
struct Sets {
    marks: MarksReady,
    staging: Option<Stagers>,
}

/// What writing a set's pages while it downloads needs, shared by every holder.
#[derive(Clone)]
struct Stagers {
    store: SharedStore,
    writer: Writer,
    queue: Arc<PageQueue>,
    stored: Arc<HashSet<(String, String)>>,
    staged: Staged,
}

impl Stagers {
    /// A stager for a set not stored when the sync began; `None` for one
    /// stored, whose records are matched against it in its transaction.
    fn stager(&self, holder: &str, ticket_jti: &str) -> Option<Stager> {
        let set = (holder.to_string(), ticket_jti.to_string());
        (!self.stored.contains(&set)).then(|| Stager {
            store: self.store.clone(),
            writer: self.writer.clone(),
            queue: self.queue.clone(),
            holder: set.0,
            ticket_jti: set.1,
            staged: self.staged.clone(),
        })
    }
}

/// What storing a holder's sets needs, shared by every holder.
#[derive(Clone)]
struct Storing {
    store: SharedStore,
    tickets: Arc<Vec<permission_ticket::DecodedTicket>>,
    events: Option<mpsc::UnboundedSender<SyncEvent>>,
    dry_run: bool,
    run: Option<i64>,
    /// The (holder, ticket) sets stored when the sync began: a set not
    /// among them is all new, so each record's entries are worked out
    /// before the store is taken.
    stored: Arc<HashSet<(String, String)>>,
    /// Holders being stored at once: one writing, the next preparing.
    permits: Arc<Semaphore>,
    /// Every write of the sync runs on one thread (`writer.rs`).
    writer: Writer,
    /// Sets with pages written before the set (see `Stager`).
    staged: Staged,
}

/// Stores a holder's downloaded sets and notes how it went; returns its
/// outcomes and the records the report keeps (a dry run's, or those that
/// could not be stored).
async fn store_holder(
    ctx: Storing,
    results: Vec<TicketResult>,
) -> (Vec<HolderOutcome>, Vec<SyncedRecord>) {
    let Storing {
        store,
        tickets,
        events,
        dry_run,
        run,
        stored,
        permits,
        writer,
        staged,
    } = ctx;
    let mut outcomes = Vec::new();
    let mut kept = Vec::new();
    let base = results.first().map(|r| r.outcome.fhir_base.clone());
    let mut finished = true;
    let mut last = Vec::new();
    for TicketResult {
        outcome: mut o,
        mut records,
        fetch,
    } in results
    {
        // Only these have not said `done` yet: their records are to be stored.
        let downloaded = o.status == "synced";
        if downloaded
            && !dry_run
            && let Some(jti) = o.ticket_jti.clone()
        {
            let _permit = permits.acquire().await;
            notify(&events, &o.fhir_base, "storing", None, o.pages, o.resources);
            let (store, base) = (store.clone(), o.fhir_base.clone());
            let first = !stored.contains(&(base.clone(), jti.clone()));
            let person = tickets
                .iter()
                .find(|d| d.ticket.jti == jti)
                .map(|d| Person::from_ticket(&d.ticket.subject.patient))
                .unwrap_or_default();
            // A set not stored before is all new: its records' index entries
            // are worked out on the blocking pool, before the store is taken,
            // while another holder's set may be being written.
            let prepared = tokio::task::spawn_blocking(move || {
                let prepared = if first {
                    let mine: Vec<&crate::engine::Record> =
                        records.iter().map(|r| &r.resource).collect();
                    PreparedSet::all(&mine)
                } else {
                    PreparedSet::none()
                };
                (records, prepared)
            })
            .await;
            let (result, back) = match prepared {
                Ok((records, prepared)) => on_writer(&writer, move || {
                    let fetched_at = records.first().map(|r| r.fetched_at).unwrap_or_else(now);
                    let mine: Vec<&crate::engine::Record> =
                        records.iter().map(|r| &r.resource).collect();
                    let mut store = store.lock().unwrap_or_else(|p| p.into_inner());
                    let result = store
                        .replace_prepared(&base, &jti, &person, fetched_at, &mine, prepared, &fetch)
                        .map_err(|e| e.to_string());
                    // Whatever went wrong, the next sync asks for everything.
                    if result.is_err()
                        && let Err(e) = store.forget_change_marks(&base, &jti)
                    {
                        tracing::warn!("could not forget a holder's change marks: {e}");
                    }
                    drop(mine);
                    (result, records)
                })
                .await
                .unwrap_or_else(|| (Err("the store's writer stopped".into()), Vec::new())),
                Err(e) => (Err(e.to_string()), Vec::new()),
            };
            records = back;
            match result {
                Ok(r) => {
                    records = Vec::new();
                    give_back_freed_memory();
                    o.removed = r.removed;
                    o.written = r.written;
                    // A re-sync says what it brought; a first one, its count only.
                    if r.unchanged {
                        o.message = format!("{}; nothing new since the last sync", o.message);
                    } else if r.written > 0 && r.written < r.stored {
                        o.message = format!("{}; {} new or changed", o.message, r.written);
                    }
                    if r.removed > 0 {
                        o.message = format!(
                            "{}; {} no longer returned by the holder, removed",
                            o.message, r.removed
                        );
                    }
                }
                Err(e) => {
                    o.status = "failed".into();
                    o.message = format!(
                        "downloaded {} records but could not store them: {e}",
                        o.resources
                    );
                }
            }
        }
        // Pages written before their set: taken in by its transaction, or
        // discarded when there is none (the download or the write failed).
        if let Some(jti) = o.ticket_jti.clone() {
            let set = (o.fhir_base.clone(), jti);
            let lent = staged
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&set);
            if lent && o.status != "synced" {
                discard(&writer, &store, set);
            }
        }
        if downloaded {
            notify(&events, &o.fhir_base, "done", None, o.pages, o.resources);
        }
        finished &= o.status == "synced" || o.status == "skipped";
        last.push(LastOutcome {
            holder: o.fhir_base.clone(),
            ticket_jti: o.ticket_jti.clone(),
            status: o.status.clone(),
            message: o.message.clone(),
            resources: o.resources,
            finished_at: now(),
        });
        // The outcome's message may quote the holder, and the holder the
        // patient: the log keeps the status and the counts only.
        tracing::info!(
            holder = %o.fhir_base,
            status = %o.status,
            records = o.resources,
            pages = o.pages,
            removed = o.removed,
            "holder finished"
        );
        outcomes.push(o);
        kept.extend(records);
    }
    // How it went, for the holder list; and a resumed sync skips
    // this holder only if all went through here.
    if let (Some(id), Some(base)) = (run, base) {
        let marked = on_writer(&writer, move || {
            let mut store = store.lock().unwrap_or_else(|p| p.into_inner());
            store.record_outcomes(&last)?;
            if finished {
                store.holder_done(id, &base)?;
            }
            Ok::<_, crate::store::StoreError>(())
        })
        .await;
        if !matches!(marked, Some(Ok(()))) {
            tracing::warn!("could not note how a holder went; a resumed sync would fetch it again");
        }
    }
    (outcomes, kept)
}

/// Sends one progress event, when anyone listens.
fn notify(
    events: &Option<mpsc::UnboundedSender<SyncEvent>>,
    holder: &str,
    stage: &str,
    resource_type: Option<&str>,
    pages: usize,
    resources: usize,
) {
    if let Some(tx) = events {
        let _ = tx.send(SyncEvent {
            holder: holder.into(),
            stage: stage.into(),
            resource_type: resource_type.map(str::to_string),
            pages,
            resources,
        });
    }
}

/// Says "waiting for the person" (stage `interaction`) when the holder's page
/// is shown, then lets `inner` show it.
struct Announcing<'a> {
    inner: &'a dyn Interactor,
    events: &'a Option<mpsc::UnboundedSender<SyncEvent>>,
    holder: &'a str,
}

impl Interactor for Announcing<'_> {
    fn redirect_uri(&self) -> String {
        self.inner.redirect_uri()
    }
    fn registered_redirect_uri(&self) -> String {
        self.inner.registered_redirect_uri()
    }

    fn authorize(
        &self,
        authorize_url: String,
    ) -> crate::engine::interaction::BoxFuture<'_, Result<String, String>> {
        notify(self.events, self.holder, "interaction", None, 0, 0);
        self.inner.authorize(authorize_url)
    }
}

/// What one holder's task brings back.
struct HolderDone {
    /// The holder with its new client id, when this sync registered there.
    registered: Option<HolderRecord>,
    results: Vec<TicketResult>,
}

/// Discovery, registration when needed, then every ticket that may be used here.
async fn holder_sync(
    engine: &Engine,
    mut holder: HolderRecord,
    tickets: &[permission_ticket::DecodedTicket],
    sets: &Sets,
    redirect_uri: &str,
    interactor: Option<&dyn Interactor>,
    events: Option<mpsc::UnboundedSender<SyncEvent>>,
) -> HolderDone {
    let emit = |stage: &str| notify(&events, &holder.fhir_base, stage, None, 0, 0);
    let mut done = HolderDone {
        registered: None,
        results: Vec::new(),
    };
    let finish = TicketResult::only;
    emit("discovery");
    let config = match engine.discover(&holder.fhir_base).await {
        Ok(c) => c,
        Err(e) => {
            emit("done");
            done.results.push(finish(outcome(
                &holder,
                None,
                "failed",
                format!("could not read its SMART configuration: {e}"),
            )));
            return done;
        }
    };
    if !config.token_exchange() {
        emit("done");
        done.results.push(finish(outcome(
            &holder,
            None,
            "skipped",
            "it does not accept Permission Tickets",
        )));
        return done;
    }
    if holder.client_id.is_none() {
        emit("registration");
        match crate::engine::register(engine, &holder, &config, redirect_uri).await {
            Ok(id) => {
                holder.client_id = Some(id);
                holder.client_id_source = Some("registered".into());
                holder.redirect_uri = Some(redirect_uri.to_string());
                done.registered = Some(holder.clone());
            }
            Err(e) => {
                emit("done");
                done.results
                    .push(finish(outcome(&holder, None, "failed", e.to_string())));
                return done;
            }
        }
    }
    for d in tickets {
        let t = &d.ticket;
        let skip = if t.exp <= now() {
            Some(format!(
                "the ticket expired on {}: get a new one from its issuer",
                permission_ticket::human_time(t.exp)
            ))
        } else {
            let problems = ticket_problems(t, &holder, &config);
            (!problems.is_empty()).then(|| problems.join("; "))
        };
        if let Some(why) = skip {
            done.results
                .push(finish(outcome(&holder, Some(&t.jti), "skipped", why)));
            continue;
        }
        let scopes: Vec<String> = t.access.scopes().iter().map(ToString::to_string).collect();
        let job = Job {
            holder: holder.clone(),
            config: config.clone(),
            ticket: d.compact.clone(),
            jti: t.jti.clone(),
            bound_jkt: match &t.presenter_binding {
                Some(permission_ticket::PresenterBinding::Jkt { jkt }) => Some(jkt.clone()),
                _ => None,
            },
            scope: (!scopes.is_empty()).then(|| scopes.join(" ")),
            marks: sets.marks.clone(),
            stage: sets
                .staging
                .as_ref()
                .and_then(|s| s.stager(&holder.fhir_base, &t.jti)),
        };
        done.results
            .push(run_job(engine, job, interactor, events.clone()).await);
    }
    if done.results.iter().all(|r| r.outcome.status == "skipped") {
        emit("done");
    }
    done
}

async fn run_job(
    engine: &Engine,
    job: Job,
    interactor: Option<&dyn Interactor>,
    events: Option<mpsc::UnboundedSender<SyncEvent>>,
) -> TicketResult {
    let base = job.holder.fhir_base.clone();
    let tokens = &engine.tokens;
    let send = |stage: &str, resource_type: Option<&str>, pages: usize, resources: usize| {
        notify(&events, &base, stage, resource_type, pages, resources);
    };
    send("exchange", None, 0, 0);
    let cached = tokens.get(&base, &job.jti);
    let announcing = interactor.map(|inner| Announcing {
        inner,
        events: &events,
        holder: &base,
    });
    let session = match cached {
        Some(s) => Ok(s),
        None => {
            exchange(
                engine,
                &job.holder,
                &job.config,
                &job.ticket,
                job.bound_jkt.clone(),
                job.scope.clone(),
                announcing.as_ref().map(|a| a as &dyn Interactor),
            )
            .await
        }
    };
    let session = match session {
        Ok(s) => s,
        Err(ExchangeError::InteractionRequired { .. }) => {
            send("done", None, 0, 0);
            return TicketResult::only(outcome(
                &job.holder,
                Some(&job.jti),
                "needs_interaction",
                "this holder needs you to confirm which patient record is yours, once: sync interactively",
            ));
        }
        Err(e) => {
            send("done", None, 0, 0);
            return TicketResult::only(outcome(
                &job.holder,
                Some(&job.jti),
                "failed",
                e.to_string(),
            ));
        }
    };
    let granted = session.scope.clone().unwrap_or_default();
    let types = types_to_fetch(job.scope.as_deref(), session.scope.as_deref());
    let reauth = Reauth {
        holder: &job.holder,
        config: &job.config,
        ticket: &job.ticket,
        bound_jkt: job.bound_jkt.clone(),
        scope: job.scope.clone(),
    };
    let progress =
        |t: &str, pages: usize, resources: usize| send("download", Some(t), pages, resources);
    let mut ready = job.marks;
    let marks = match ready.wait_for(Option::is_some).await {
        Ok(all) => all
            .as_ref()
            .and_then(|all| all.get(&(base.clone(), job.jti.clone())).cloned()),
        Err(_) => None,
    };
    let basis = changes_basis(marks.unwrap_or_default(), &types, &granted, now());
    let sink = job.stage.as_ref().map(|s| s as &dyn PageSink);
    let result = download(engine, &reauth, session, &types, &basis, &progress, sink).await;
    drop(basis);
    // A holder whose records arrived is done once they are stored (see `sync`).
    if result.is_err() {
        send("done", None, 0, 0);
    }
    match result {
        Ok(mut d) => {
            if let Some(s) = d.session.take() {
                tokens.put(&job.jti, s);
            }
            let fetched_at = now();
            let mut o = outcome(&job.holder, Some(&job.jti), "synced", "");
            o.patient_id = d.patient.as_ref().and_then(|p| p.id.clone());
            let patient = usize::from(d.patient.is_some());
            // A type asked only for what changed counts what the holder has.
            o.resources = d.by_type.values().sum::<usize>() + patient;
            let sent = d.resources.len() + patient;
            o.fetched = sent;
            o.pages = d.pages;
            o.by_type = d
                .by_type
                .iter()
                .map(|(t, c)| TypeCount {
                    resource_type: t.clone(),
                    count: *c,
                })
                .collect();
            o.message = format!("{} records", o.resources);
            if !d.changed_only.is_empty() {
                o.message = format!(
                    "{} ({sent} sent: the holder was asked only for what changed)",
                    o.message
                );
            }
            if !d.skipped.is_empty() {
                o.message = format!(
                    "{}; not shared by the holder: {}",
                    o.message,
                    d.skipped.join(", ")
                );
            }
            let fetch = SetFetch {
                changed_only: std::mem::take(&mut d.changed_only),
                since: std::mem::take(&mut d.since),
                uncounted: std::mem::take(&mut d.uncounted),
                scope: granted,
            };
            let records = d
                .patient
                .into_iter()
                .chain(d.resources)
                .map(|resource| SyncedRecord {
                    holder: job.holder.fhir_base.clone(),
                    ticket_jti: job.jti.clone(),
                    fetched_at,
                    resource,
                })
                .collect();
            TicketResult {
                outcome: o,
                records,
                fetch,
            }
        }
        Err(FetchError::Exchange(e)) => {
            tokens.forget(&base, &job.jti);
            TicketResult::only(outcome(
                &job.holder,
                Some(&job.jti),
                "failed",
                format!("presenting the ticket again failed: {e}"),
            ))
        }
        Err(e @ (FetchError::Stopped(_) | FetchError::Withheld(_))) => TicketResult::only(outcome(
            &job.holder,
            Some(&job.jti),
            "failed",
            e.to_string(),
        )),
    }
}

/// The types this sync may ask only for what changed: those marked under
/// the scope granted now, fetched whole within `WHOLE_FETCH_EVERY_SECS`,
/// and not counted without a total within it (asking such a holder for
/// changes costs a round trip and ends in a whole fetch anyway; a week on,
/// it is asked again, in case it has learnt to count).
fn changes_basis(
    marks: HashMap<String, ChangeMark>,
    types: &[String],
    granted: &str,
    now: i64,
) -> Basis {
    marks
        .into_iter()
        .filter(|(ty, m)| {
            types.contains(ty)
                && ty != "Patient"
                && m.scope == granted
                && now - m.whole_at < WHOLE_FETCH_EVERY_SECS
                && m.uncounted_at
                    .is_none_or(|at| now - at >= WHOLE_FETCH_EVERY_SECS)
        })
        .map(|(ty, m)| {
            let since = ChangesSince {
                since: m.since,
                ids: m.ids,
            };
            (ty, since)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_type_counted_without_a_total_is_not_asked_for_changes_for_a_week() {
        let now = 10 * WHOLE_FETCH_EVERY_SECS;
        let mark = |uncounted_at: Option<i64>| ChangeMark {
            since: "2026-07-01T00:00:00Z".into(),
            scope: "patient/*.rs".into(),
            whole_at: now - 60,
            uncounted_at,
            ids: Default::default(),
        };
        let types = vec!["Condition".to_string()];
        let asked = |m: ChangeMark| {
            let marks = HashMap::from([("Condition".to_string(), m)]);
            changes_basis(marks, &types, "patient/*.rs", now).contains_key("Condition")
        };
        assert!(asked(mark(None)));
        assert!(
            !asked(mark(Some(now - 60))),
            "counted without a total a minute ago"
        );
        assert!(!asked(mark(Some(now - WHOLE_FETCH_EVERY_SECS + 1))));
        assert!(
            asked(mark(Some(now - WHOLE_FETCH_EVERY_SECS))),
            "a week on: asked again"
        );
    }

    #[test]
    fn only_types_both_asked_for_and_granted_are_fetched() {
        let asked = Some("patient/Condition.rs patient/Coverage.rs");
        assert_eq!(
            types_to_fetch(asked, Some("patient/*.rs")),
            ["Condition", "Coverage"]
        );
        assert_eq!(
            types_to_fetch(asked, Some("patient/Condition.rs patient/Observation.rs")),
            ["Condition"]
        );
        assert_eq!(types_to_fetch(asked, None), ["Condition", "Coverage"]);
        // Read-only grants cannot be searched.
        assert!(types_to_fetch(asked, Some("patient/Condition.r")).is_empty());
        assert_eq!(types_to_fetch(None, None).len(), DEFAULT_TYPES.len());
    }
}
