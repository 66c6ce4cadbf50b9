//! The sync the window watches: one at a time, in the app process, its
//! progress sent to the window as snapshots of a `SyncBoard`, at most one per
//! `EVERY` unless a holder reaches a new stage, so fifty thousand records
//! arriving never flood the webview.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tauri::{AppHandle, Emitter};
use tokio::sync::{mpsc, watch};
use wallet_core::engine::Limits;
use wallet_core::engine::interaction::Interactor;
use wallet_core::progress::{SyncBoard, SyncSnapshot};
use wallet_core::{SyncEvent, SyncOptions, Wallet, now};

use crate::commands::{Res, fail, invalid};

/// The event carrying a `SyncSnapshot` to the window.
pub const EVENT: &str = "sync-progress";
const EVERY: Duration = Duration::from_millis(150);

#[derive(Default)]
pub struct SyncRunner {
    board: Arc<Mutex<SyncBoard>>,
    /// Present while a sync runs; sending `true` cancels it.
    stop: Arc<Mutex<Option<watch::Sender<bool>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn emit(app: &AppHandle, board: &Mutex<SyncBoard>) {
    let snapshot = lock(board).snapshot().clone();
    if let Err(e) = app.emit(EVENT, snapshot) {
        tracing::warn!("could not send sync progress to the window: {e}");
    }
}

impl SyncRunner {
    pub fn snapshot(&self) -> SyncSnapshot {
        lock(&self.board).snapshot().clone()
    }

    pub fn running(&self) -> bool {
        lock(&self.stop).is_some()
    }

    /// Clears the last sync's rows (another profile is opened, or this one was deleted).
    pub fn forget(&self) {
        *lock(&self.board) = SyncBoard::default();
    }

    /// Asks the running sync to stop; what finished is kept.
    pub fn cancel(&self) -> bool {
        lock(&self.stop)
            .as_ref()
            .is_some_and(|tx| tx.send(true).is_ok())
    }

    /// Starts a sync of every holder (or one), or resumes an interrupted one.
    pub fn start(
        &self,
        app: AppHandle,
        wallet: Arc<Wallet>,
        holder: Option<String>,
        resume: bool,
    ) -> Res<SyncSnapshot> {
        let mut stop = lock(&self.stop);
        if stop.is_some() {
            return Err(invalid("sync_running", "a sync is already running"));
        }
        let limits = Limits::from_env().map_err(|e| invalid("invalid_input", &e))?;
        let holders = if resume {
            Vec::new()
        } else {
            let mut all = wallet.holder_records().map_err(fail)?;
            if let Some(only) = &holder {
                all.retain(|h| &h.fhir_base == only);
            }
            all
        };
        *lock(&self.board) = SyncBoard::start(&holders, now());
        let (tx, cancel) = watch::channel(false);
        *stop = Some(tx);
        drop(stop);
        let (board, stop) = (self.board.clone(), self.stop.clone());
        tauri::async_runtime::spawn(async move {
            emit(&app, &board);
            let interactor: Option<Arc<dyn Interactor>> =
                match crate::browser::interactor(app.clone()).await {
                    Ok(i) => Some(Arc::new(i)),
                    Err(e) => {
                        tracing::warn!("{}", e.message);
                        None
                    }
                };
            let (events, rx) = mpsc::unbounded_channel();
            let forwarder = tauri::async_runtime::spawn(forward(app.clone(), board.clone(), rx));
            let opts = SyncOptions {
                holder,
                resume,
                interactor,
                cancel: Some(cancel),
                limits,
                ..Default::default()
            };
            let result = wallet.sync(opts, Some(events)).await;
            let _ = forwarder.await;
            match result {
                Ok(report) => lock(&board).finish(&report.outcomes, now(), report.cancelled),
                Err(e) => lock(&board).fail(e.to_payload(), now()),
            }
            *lock(&stop) = None;
            emit(&app, &board);
        });
        Ok(self.snapshot())
    }
}

/// Applies events to the board and sends snapshots: at once when a holder
/// reaches a new stage, otherwise at most once per `EVERY`.
async fn forward(
    app: AppHandle,
    board: Arc<Mutex<SyncBoard>>,
    mut rx: mpsc::UnboundedReceiver<SyncEvent>,
) {
    let mut tick = tokio::time::interval(EVERY);
    let mut last = Instant::now();
    let mut dirty = false;
    loop {
        tokio::select! {
            event = rx.recv() => {
                let Some(e) = event else { break };
                let milestone = {
                    let mut b = lock(&board);
                    let m = b.is_milestone(&e);
                    b.apply(&e);
                    m
                };
                if milestone || last.elapsed() >= EVERY {
                    emit(&app, &board);
                    last = Instant::now();
                    dirty = false;
                } else {
                    dirty = true;
                }
            }
            _ = tick.tick(), if dirty => {
                emit(&app, &board);
                last = Instant::now();
                dirty = false;
            }
        }
    }
}
