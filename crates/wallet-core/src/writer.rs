//! The sync's one writer thread, and the pages it writes while their set
//! downloads.
//!
//! Every write of a sync (a page staged, a holder's set, how it went) runs
//! on one thread, in the order sent, so SQLite's page cache and what a write
//! allocates stay in one allocator arena (two storing threads took a storing
//! sync's peak from 148 to 205 MiB), and a set's pages are always written
//! before the set's own transaction takes them in.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use crate::engine::{PageSink, Record};
use crate::store::RecordStore;
use crate::wallet::now;

pub(crate) type WriteJob = Box<dyn FnOnce() + Send>;
pub(crate) type Writer = std::sync::mpsc::Sender<WriteJob>;
pub(crate) type SharedStore = Arc<Mutex<RecordStore>>;

/// Starts the thread that runs each write sent to it, until every sender is
/// gone; kept in `settling` until then.
pub(crate) fn start(settling: &Mutex<Vec<std::thread::JoinHandle<()>>>) -> std::io::Result<Writer> {
    let (tx, rx) = std::sync::mpsc::channel::<WriteJob>();
    let thread = std::thread::Builder::new()
        .name("store-writer".into())
        .spawn(move || {
            for job in rx {
                job();
            }
        })?;
    let mut running = settling.lock().unwrap_or_else(|p| p.into_inner());
    running.retain(|t| !t.is_finished());
    running.push(thread);
    Ok(tx)
}

/// Runs `write` on the writer thread and waits for what it returns (`None`
/// when the writer has stopped).
pub(crate) async fn on_writer<T: Send + 'static>(
    writer: &Writer,
    write: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    writer
        .send(Box::new(move || {
            let _ = tx.send(write());
        }))
        .ok()?;
    rx.await.ok()
}

/// The (holder, ticket) sets a sync has lent pages of to the store, until
/// their set is written or discarded.
pub(crate) type Staged = Arc<Mutex<HashSet<(String, String)>>>;

/// A page lent to the writer, to be handed back once staged.
struct Lent {
    set: (String, String),
    records: Vec<Record>,
    back: tokio::sync::oneshot::Sender<Vec<Record>>,
}

/// The most pages staged in one transaction: enough to spare a commit per
/// page, few enough that a transaction's pages stay a few MiB.
const PAGES_PER_TRANSACTION: usize = 32;

/// Pages waiting for the writer. The writer stages those that wait together,
/// in one transaction: a commit per page cost as much again as the rows.
#[derive(Default)]
pub(crate) struct PageQueue(Mutex<Vec<Lent>>);

impl PageQueue {
    /// Adds a page; the first page to wait sends the writer a job that
    /// stages pages until none waits.
    fn push(queue: &Arc<Self>, store: &SharedStore, writer: &Writer, page: Lent) {
        let first = {
            let mut waiting = queue.0.lock().unwrap_or_else(|p| p.into_inner());
            waiting.push(page);
            waiting.len() == 1
        };
        if !first {
            return;
        }
        let (waiting, store) = (queue.clone(), store.clone());
        let job = Box::new(move || {
            let queue = waiting;
            loop {
                let pages: Vec<Lent> = {
                    let mut waiting = queue.0.lock().unwrap_or_else(|p| p.into_inner());
                    let n = waiting.len().min(PAGES_PER_TRANSACTION);
                    waiting.drain(..n).collect()
                };
                if pages.is_empty() {
                    break;
                }
                let mut store = store.lock().unwrap_or_else(|p| p.into_inner());
                // A page not staged is written with its set instead.
                if let Err(e) = stage_all(&mut store, &pages) {
                    tracing::warn!("could not write pages before their sets: {e}");
                }
                drop(store);
                for page in pages {
                    let _ = page.back.send(page.records);
                }
            }
        });
        // A writer that has stopped: the pages are dropped, so each download
        // fails rather than waits, and the sets stored before stay.
        if writer.send(job).is_err() {
            queue.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
    }
}

fn stage_all(store: &mut RecordStore, pages: &[Lent]) -> Result<(), crate::store::StoreError> {
    let at = now();
    let mut staging = store.staging()?;
    for page in pages {
        let mine: Vec<&Record> = page.records.iter().collect();
        staging.page(&page.set.0, &page.set.1, at, &mine)?;
    }
    staging.commit()
}

/// A set not stored before: each page goes to the writer as it arrives
/// (`store::Staging`), out of sight until the set's own transaction,
/// and comes back for that transaction to match.
pub(crate) struct Stager {
    pub store: SharedStore,
    pub writer: Writer,
    pub queue: Arc<PageQueue>,
    pub holder: String,
    pub ticket_jti: String,
    pub staged: Staged,
}

impl PageSink for Stager {
    fn lend(&self, records: Vec<Record>) -> tokio::sync::oneshot::Receiver<Vec<Record>> {
        let (back, rx) = tokio::sync::oneshot::channel();
        let set = (self.holder.clone(), self.ticket_jti.clone());
        self.staged
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(set.clone());
        let page = Lent { set, records, back };
        PageQueue::push(&self.queue, &self.store, &self.writer, page);
        rx
    }
}

/// Hands the memory a stored set's records held back to the system, off the
/// async workers. The records were allocated by the threads that downloaded
/// them and are freed there, in glibc arenas the writer's page cache does not
/// draw from; a storing sync peaked at 145–157 MiB without this and at
/// 101–119 MiB with it (docs/BENCHMARKS.md).
pub(crate) fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    tokio::task::spawn_blocking(|| {
        // SAFETY: malloc_trim takes no pointer and only returns free pages;
        // glibc takes each arena's lock while it trims it.
        #[allow(unsafe_code)]
        unsafe {
            libc::malloc_trim(0);
        }
    });
}

/// Sends the discarding of what was staged for `set` to the writer.
pub(crate) fn discard(writer: &Writer, store: &SharedStore, set: (String, String)) {
    let store = store.clone();
    let _ = writer.send(Box::new(move || {
        let mut store = store.lock().unwrap_or_else(|p| p.into_inner());
        match store.discard_staged(&set.0, &set.1) {
            Ok(n) => tracing::debug!(rows = n, "staged records discarded"),
            Err(e) => tracing::warn!("could not discard staged records: {e}"),
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &tempfile::TempDir) -> SharedStore {
        let key = vault::DatabaseKey::from_bytes([3; 32]);
        let store = RecordStore::open(&dir.path().join("records.db"), &key)
            .unwrap_or_else(|e| panic!("{e}"));
        Arc::new(Mutex::new(store))
    }

    fn page(ids: std::ops::Range<u32>) -> Vec<Record> {
        ids.map(|i| {
            let json = format!(r#"{{"resourceType":"Condition","id":"c{i}"}}"#);
            let raw =
                serde_json::value::RawValue::from_string(json).unwrap_or_else(|e| panic!("{e}"));
            Record::new("Condition".into(), Some(format!("c{i}")), raw)
        })
        .collect()
    }

    fn stager(store: &SharedStore, writer: Writer) -> Stager {
        Stager {
            store: store.clone(),
            writer,
            queue: Default::default(),
            holder: "https://h/fhir".into(),
            ticket_jti: "t1".into(),
            staged: Default::default(),
        }
    }

    /// Every page lent comes back whole, in one piece each, once written,
    /// however many waited while the writer was busy.
    #[tokio::test]
    async fn pages_lent_come_back_once_written() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = store(&dir);
        let writer = start(&Mutex::default()).unwrap_or_else(|e| panic!("{e}"));
        // The writer busy until every page waits.
        let (open, gate) = std::sync::mpsc::channel::<()>();
        let _ = writer.send(Box::new(move || {
            let _ = gate.recv();
        }));
        let sink = stager(&store, writer);
        let lent: Vec<_> = (0..40u32)
            .map(|p| sink.lend(page(p * 5..p * 5 + 5)))
            .collect();
        let _ = open.send(());
        let mut back = 0;
        for (p, rx) in lent.into_iter().enumerate() {
            let answer = tokio::time::timeout(std::time::Duration::from_secs(10), rx).await;
            let records = answer
                .unwrap_or_else(|_| panic!("page {p} never came back"))
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                records[0].id.as_deref(),
                Some(format!("c{}", p * 5).as_str())
            );
            back += records.len();
        }
        assert_eq!(back, 200);
        let staged = store
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .staged_rows();
        assert_eq!(staged.unwrap_or_else(|e| panic!("{e}")), 200);
    }

    /// A writer that has stopped fails the pages at once, never leaves them waiting.
    #[tokio::test]
    async fn a_stopped_writer_fails_pages_rather_than_holds_them() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = store(&dir);
        let (writer, stopped) = std::sync::mpsc::channel::<WriteJob>();
        drop(stopped);
        let sink = stager(&store, writer);
        for p in 0..3u32 {
            let rx = sink.lend(page(p..p + 1));
            let answer = tokio::time::timeout(std::time::Duration::from_secs(5), rx).await;
            assert!(matches!(answer, Ok(Err(_))), "page {p}");
        }
    }
}
