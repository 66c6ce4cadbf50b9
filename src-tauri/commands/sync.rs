//! Sync: start (everything, one holder, or resume), cancel, and the current state.

use tauri::{AppHandle, State};
use wallet_core::progress::SyncSnapshot;

use super::{Res, fail};
use crate::state::AppState;

/// Starts a sync in the app process and returns at once; progress arrives
/// as `sync-progress` events.
#[tauri::command]
pub fn start_sync(
    app: AppHandle,
    state: State<'_, AppState>,
    holder: Option<String>,
    resume: bool,
) -> Res<SyncSnapshot> {
    let wallet = state.wallet()?;
    state.sync.start(app, wallet, holder, resume)
}

#[tauri::command]
pub fn cancel_sync(state: State<'_, AppState>) -> bool {
    state.sync.cancel()
}

/// The sync as it stands, and whether an interrupted one can be resumed.
#[tauri::command]
pub fn sync_state(state: State<'_, AppState>) -> Res<SyncState> {
    let snapshot = state.sync.snapshot();
    let resumable = !state.sync.running()
        && match state.wallet()?.existing_record_store().map_err(fail)? {
            Some(store) => store.interrupted_run().map_err(fail)?.is_some(),
            None => false,
        };
    Ok(SyncState {
        snapshot,
        resumable,
    })
}

#[derive(serde::Serialize, ts_rs::TS)]
#[ts(export)]
pub struct SyncState {
    pub snapshot: SyncSnapshot,
    /// An earlier sync was interrupted (cancelled, the app closed, the
    /// computer slept) and can be carried on.
    pub resumable: bool,
}
