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

/// A set not stored before: each page is written on the writer as it
/// arrives (`RecordStore::stage`), out of sight until the set's own
/// transaction, and handed back for that transaction to match.
pub(crate) struct Stager {
    pub store: SharedStore,
    pub writer: Writer,
    pub holder: String,
    pub ticket_jti: String,
    pub staged: Staged,
}

impl PageSink for Stager {
    fn lend(&self, records: Vec<Record>) -> tokio::sync::oneshot::Receiver<Vec<Record>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let set = (self.holder.clone(), self.ticket_jti.clone());
        self.staged
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(set.clone());
        let store = self.store.clone();
        // A writer that has stopped drops the page: the download fails, and
        // the set stored before stays.
        let _ = self.writer.send(Box::new(move || {
            let mine: Vec<&Record> = records.iter().collect();
            let mut store = store.lock().unwrap_or_else(|p| p.into_inner());
            // A page not staged is written with its set instead.
            if let Err(e) = store.stage(&set.0, &set.1, now(), &mine) {
                tracing::warn!("could not write a page before its set: {e}");
            }
            drop(mine);
            let _ = tx.send(records);
        }));
        rx
    }
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
