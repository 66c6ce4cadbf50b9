//! A sync as a person watches it: one row per holder with its live state,
//! built from the engine's progress events and, at the end, its outcomes.
//! The app keeps one board per sync and sends snapshots of it to the window;
//! a snapshot has one small row per holder however many records arrive.

use serde::Serialize;
use ts_rs::TS;

use crate::ErrorPayload;
use crate::holders::HolderRecord;
use crate::sync::{HolderOutcome, SyncEvent};

/// One holder's row.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct SyncRow {
    pub holder: String,
    pub name: Option<String>,
    /// The engine's stage: `waiting`, `discovery`, `registration`, `exchange`,
    /// `interaction`, `download`, `storing`, `done`.
    pub stage: String,
    /// What is happening, in words.
    pub activity: String,
    #[ts(type = "number")]
    pub pages: usize,
    #[ts(type = "number")]
    pub resources: usize,
    /// Once done: `synced`, `skipped`, `needs_interaction`, `failed`, or
    /// `stopped` (cancelled, or the sync ended before this holder did).
    pub status: Option<String>,
    /// How each ticket went here.
    pub outcomes: Vec<HolderOutcome>,
}

/// The whole sync, as the window shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct SyncSnapshot {
    pub running: bool,
    #[ts(type = "number | null")]
    pub started_at: Option<i64>,
    #[ts(type = "number | null")]
    pub finished_at: Option<i64>,
    pub rows: Vec<SyncRow>,
    /// Why the sync could not run at all (no ticket, the store cannot open).
    pub error: Option<ErrorPayload>,
    /// It was cancelled; what finished is kept, and it can be resumed.
    pub cancelled: bool,
}

/// Builds snapshots from events.
#[derive(Debug, Default)]
pub struct SyncBoard {
    snapshot: SyncSnapshot,
}

fn activity(e: &SyncEvent) -> String {
    match e.stage.as_str() {
        "discovery" => "Reading its SMART configuration".into(),
        "registration" => "Registering this wallet".into(),
        "exchange" => "Presenting the ticket".into(),
        "interaction" => {
            "Waiting for you: confirm which patient record is yours in the browser window that opened"
                .into()
        }
        "download" => format!(
            "Downloading {}: {} records in {} pages",
            e.resource_type.as_deref().unwrap_or("records"),
            e.resources,
            e.pages
        ),
        "storing" => format!("Storing {} records", e.resources),
        "done" => "Finished".into(),
        other => other.to_string(),
    }
}

impl SyncBoard {
    /// A board for a sync of `holders`, each waiting its turn.
    pub fn start(holders: &[HolderRecord], started_at: i64) -> Self {
        Self {
            snapshot: SyncSnapshot {
                running: true,
                started_at: Some(started_at),
                rows: holders
                    .iter()
                    .map(|h| SyncRow {
                        holder: h.fhir_base.clone(),
                        name: h.name.clone(),
                        stage: "waiting".into(),
                        activity: "Waiting its turn".into(),
                        pages: 0,
                        resources: 0,
                        status: None,
                        outcomes: Vec::new(),
                    })
                    .collect(),
                ..Default::default()
            },
        }
    }

    /// Takes in one event. A holder the board did not list (a resumed sync
    /// lists none up front) gets a row of its own.
    pub fn apply(&mut self, e: &SyncEvent) {
        let rows = &mut self.snapshot.rows;
        let at = match rows.iter().position(|r| r.holder == e.holder) {
            Some(i) => i,
            None => {
                rows.push(SyncRow {
                    holder: e.holder.clone(),
                    name: None,
                    stage: String::new(),
                    activity: String::new(),
                    pages: 0,
                    resources: 0,
                    status: None,
                    outcomes: Vec::new(),
                });
                rows.len() - 1
            }
        };
        let row = &mut rows[at];
        row.stage = e.stage.clone();
        row.activity = activity(e);
        if matches!(e.stage.as_str(), "download" | "storing") {
            row.pages = e.pages;
            row.resources = e.resources;
        }
    }

    /// The sync ended: each row takes its outcomes, and a row with none was
    /// stopped before it finished.
    pub fn finish(&mut self, outcomes: &[HolderOutcome], finished_at: i64, cancelled: bool) {
        let s = &mut self.snapshot;
        s.running = false;
        s.finished_at = Some(finished_at);
        s.cancelled = cancelled;
        for row in &mut s.rows {
            row.outcomes = outcomes
                .iter()
                .filter(|o| o.fhir_base == row.holder)
                .cloned()
                .collect();
            row.status = Some(overall(&row.outcomes).into());
            row.stage = "done".into();
            row.activity = match row.status.as_deref() {
                Some("stopped") if cancelled => "Cancelled before it finished".into(),
                Some("stopped") => "Stopped before it finished".into(),
                _ => summary(&row.outcomes),
            };
            if !row.outcomes.is_empty() {
                row.resources = row.outcomes.iter().map(|o| o.resources).sum();
            }
        }
    }

    /// The sync could not run at all.
    pub fn fail(&mut self, error: ErrorPayload, finished_at: i64) {
        self.finish(&[], finished_at, false);
        self.snapshot.error = Some(error);
    }

    pub fn snapshot(&self) -> &SyncSnapshot {
        &self.snapshot
    }

    /// Whether `e` changes what a person should see at once (a new stage),
    /// rather than a count that can wait for the next update.
    pub fn is_milestone(&self, e: &SyncEvent) -> bool {
        self.snapshot
            .rows
            .iter()
            .find(|r| r.holder == e.holder)
            .is_none_or(|r| r.stage != e.stage)
    }
}

/// A holder's status from its tickets' outcomes: the one that most needs the
/// person's attention.
fn overall(outcomes: &[HolderOutcome]) -> &'static str {
    let has = |s: &str| outcomes.iter().any(|o| o.status == s);
    if outcomes.is_empty() {
        "stopped"
    } else if has("failed") {
        "failed"
    } else if has("needs_interaction") {
        "needs_interaction"
    } else if has("synced") {
        "synced"
    } else {
        "skipped"
    }
}

/// One ticket: what happened. Several: how many went which way (each is listed apart).
fn summary(outcomes: &[HolderOutcome]) -> String {
    if let [one] = outcomes {
        return one.message.clone();
    }
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for o in outcomes {
        let word = match o.status.as_str() {
            "synced" => "synced",
            "skipped" => "skipped",
            "needs_interaction" => "waiting for you",
            _ => "failed",
        };
        match counts.iter_mut().find(|(w, _)| *w == word) {
            Some((_, n)) => *n += 1,
            None => counts.push((word, 1)),
        }
    }
    let parts: Vec<String> = counts.iter().map(|(w, n)| format!("{n} {w}")).collect();
    format!("{} tickets: {}", outcomes.len(), parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(holder: &str, stage: &str, resources: usize) -> SyncEvent {
        SyncEvent {
            holder: holder.into(),
            stage: stage.into(),
            resource_type: (stage == "download").then(|| "Observation".into()),
            pages: 2,
            resources,
        }
    }

    fn outcome(holder: &str, status: &str, resources: usize) -> HolderOutcome {
        HolderOutcome {
            fhir_base: holder.into(),
            name: None,
            ticket_jti: Some("t".into()),
            status: status.into(),
            message: format!("{status} here"),
            patient_id: None,
            resources,
            pages: 1,
            by_type: Vec::new(),
            removed: 0,
            written: 0,
            fetched: 0,
        }
    }

    #[test]
    fn rows_follow_events_then_take_their_outcomes() {
        let holders = ["a", "b", "c"].map(|h| HolderRecord::new(h.into()));
        let mut board = SyncBoard::start(&holders, 1);
        assert!(board.snapshot().rows.iter().all(|r| r.stage == "waiting"));
        let e = event("a", "download", 40);
        assert!(board.is_milestone(&e));
        board.apply(&e);
        assert!(
            !board.is_milestone(&event("a", "download", 80)),
            "only a count changed"
        );
        board.apply(&event("a", "download", 80));
        board.apply(&event("b", "interaction", 0));
        let rows = &board.snapshot().rows;
        assert_eq!(
            (rows[0].stage.as_str(), rows[0].resources),
            ("download", 80)
        );
        assert!(
            rows[0].activity.contains("Observation: 80 records"),
            "{}",
            rows[0].activity
        );
        assert!(
            rows[1].activity.starts_with("Waiting for you"),
            "{}",
            rows[1].activity
        );

        board.finish(
            &[outcome("a", "synced", 81), outcome("b", "failed", 0)],
            2,
            true,
        );
        let s = board.snapshot();
        assert!(!s.running && s.cancelled);
        let status: Vec<_> = s
            .rows
            .iter()
            .map(|r| r.status.clone().unwrap_or_default())
            .collect();
        assert_eq!(status, ["synced", "failed", "stopped"]);
        assert_eq!(s.rows[0].resources, 81);
        assert_eq!(s.rows[1].activity, "failed here");
        let mut two = SyncBoard::start(&holders[..1], 1);
        two.finish(
            &[outcome("a", "synced", 3), outcome("a", "skipped", 0)],
            2,
            false,
        );
        assert_eq!(
            two.snapshot().rows[0].activity,
            "2 tickets: 1 synced, 1 skipped"
        );
        assert_eq!(s.rows[2].activity, "Cancelled before it finished");
    }
}
