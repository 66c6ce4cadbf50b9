//! The merged record: people, the timeline, categories, series for charts,
//! search, and one record with every holder's copy. All read the encrypted
//! store; before the first sync there is nothing, not an error.

use tauri::State;
use wallet_core::store::{
    CategoryCount, Copy, Item, LatestValue, PersonRecords, Query, RecordStore, SeriesPoint,
};

use super::{Res, fail, invalid};
use crate::state::AppState;

/// The most a page may ask for: the timeline is read in pages as it scrolls.
const MAX_PAGE: usize = 500;

/// Runs a read on a blocking thread, opening the store there too (SQLite and
/// the keyring's answer are blocking work), with nothing to read before the
/// first sync.
async fn read<T: Send + Default + 'static>(
    state: &AppState,
    f: impl FnOnce(&RecordStore) -> Result<T, wallet_core::store::StoreError> + Send + 'static,
) -> Res<T> {
    let wallet = state.wallet()?;
    tauri::async_runtime::spawn_blocking(move || match wallet.existing_record_store() {
        Ok(Some(store)) => f(&store).map_err(fail),
        Ok(None) => Ok(T::default()),
        Err(e) => Err(fail(e)),
    })
    .await
    .map_err(|e| invalid("internal", e.to_string()))?
}

#[tauri::command]
pub async fn people(state: State<'_, AppState>) -> Res<Vec<PersonRecords>> {
    read(&state, |s| s.people()).await
}

/// What the record screen opens on: the people, and the first page of the
/// first one's timeline. Read together, so a window opening on the record
/// waits for one round trip to the app rather than two in a row.
#[derive(serde::Serialize, ts_rs::TS, Default)]
#[ts(export)]
pub struct RecordOpening {
    pub people: Vec<PersonRecords>,
    pub timeline: Vec<Item>,
}

#[tauri::command]
pub async fn record_opening(state: State<'_, AppState>, limit: usize) -> Res<RecordOpening> {
    read(&state, move |s| {
        let people = s.people()?;
        let timeline = match people.first() {
            Some(first) => s.timeline(&Query {
                person: Some(first.id),
                limit: limit.clamp(1, MAX_PAGE),
                ..Query::default()
            })?,
            None => Vec::new(),
        };
        Ok(RecordOpening { people, timeline })
    })
    .await
}

#[tauri::command]
pub async fn categories(
    state: State<'_, AppState>,
    person: Option<i64>,
) -> Res<Vec<CategoryCount>> {
    read(&state, move |s| s.category_counts(person)).await
}

/// A page of the timeline, newest first; `before` is the last item's cursor.
#[tauri::command]
pub async fn timeline(
    state: State<'_, AppState>,
    person: Option<i64>,
    category: Option<String>,
    before: Option<String>,
    limit: usize,
) -> Res<Vec<Item>> {
    read(&state, move |s| {
        s.timeline(&Query {
            person,
            category: category.as_deref(),
            before: before.as_deref(),
            limit: limit.clamp(1, MAX_PAGE),
        })
    })
    .await
}

#[tauri::command]
pub async fn search_records(
    state: State<'_, AppState>,
    text: String,
    person: Option<i64>,
    limit: usize,
) -> Res<Vec<Item>> {
    read(&state, move |s| {
        s.search(
            &text,
            &Query {
                person,
                limit: limit.clamp(1, MAX_PAGE),
                ..Query::default()
            },
        )
    })
    .await
}

/// Each test or measurement of a category with its latest value (what can be charted).
#[tauri::command]
pub async fn latest_values(
    state: State<'_, AppState>,
    category: String,
    person: Option<i64>,
) -> Res<Vec<LatestValue>> {
    read(&state, move |s| s.latest_values(&category, person)).await
}

#[tauri::command]
pub async fn series(
    state: State<'_, AppState>,
    code: String,
    person: Option<i64>,
) -> Res<Vec<SeriesPoint>> {
    read(&state, move |s| s.series(&code, person)).await
}

/// One record and every holder's copy of it, as received.
#[derive(serde::Serialize, ts_rs::TS, Default)]
#[ts(export)]
pub struct RecordDetail {
    pub item: Option<Item>,
    pub copies: Vec<Copy>,
}

#[tauri::command]
pub async fn record_detail(state: State<'_, AppState>, id: i64) -> Res<RecordDetail> {
    read(&state, move |s| {
        Ok(RecordDetail {
            item: s.item(id)?,
            copies: s.copies(id)?,
        })
    })
    .await
}
