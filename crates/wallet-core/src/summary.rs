//! A summary of a person's merged record that a patient can hand to a
//! doctor: one self-contained HTML page (no scripts, no outside files) that
//! prints cleanly, so the browser's "Save as PDF" makes the PDF.

use std::collections::HashMap;
use std::fmt::Write;

use crate::store::{Item, LatestValue, PersonRecords, Query, RecordStore, SeriesPoint, StoreError};

/// How a section with one line per lasting state (a condition, an allergy, a
/// medication, however many times and on whatever dates holders recorded it)
/// dates that line.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dated {
    /// By its earliest record: since when (a condition, an allergy).
    Since,
    /// By its latest record: the last prescription of a medication.
    Last,
}

impl Dated {
    fn column(self) -> &'static str {
        match self {
            Dated::Since => "Since",
            Dated::Last => "Last",
        }
    }
}

/// Sections a doctor reads first, listed whole; lasting states one line each.
const LISTS: [(&str, &str, Option<Dated>); 5] = [
    ("conditions", "Conditions", Some(Dated::Since)),
    ("allergies", "Allergies", Some(Dated::Since)),
    ("medications", "Medications", Some(Dated::Last)),
    ("immunizations", "Immunizations", None),
    ("procedures", "Procedures", None),
];
/// Sections shown as their most recent entries only.
const RECENT: [(&str, &str); 2] = [
    ("encounters", "Recent visits"),
    ("documents", "Recent documents"),
];
const RECENT_COUNT: usize = 10;
/// More than this many entries in a list is cut, with a note saying so.
const LIST_LIMIT: usize = 500;

pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn value(v: Option<f64>, unit: Option<&str>) -> String {
    match (v, unit) {
        (Some(v), Some(u)) => format!("{v} {u}"),
        (Some(v), None) => v.to_string(),
        _ => String::new(),
    }
}

/// One line per state (by its name), dated as `dated` says, listing every
/// record's source and date; newest first.
fn collapse_states(items: Vec<Item>, dated: Dated) -> Vec<Item> {
    let mut out: Vec<Item> = Vec::new();
    for i in items {
        let name = i.display.as_deref().map(str::to_lowercase);
        match out
            .iter_mut()
            .find(|o| name.is_some() && o.display.as_deref().map(str::to_lowercase) == name)
        {
            Some(o) => {
                // Items come newest first: each later one is older.
                if dated == Dated::Since {
                    o.date = i.date.clone();
                }
                o.conflict |= i.conflict;
                o.differs.extend(i.differs);
                o.sources.extend(i.sources);
            }
            None => out.push(i),
        }
    }
    out.sort_by(|a, b| b.date.cmp(&a.date));
    out
}

/// Numbers each holder in order of appearance, for short source marks:
/// holder n is at index n - 1.
#[derive(Default)]
struct Legend(Vec<String>);

impl Legend {
    fn mark(&mut self, holder: &str) -> usize {
        match self.0.iter().position(|h| h == holder) {
            Some(i) => i + 1,
            None => {
                self.0.push(holder.to_string());
                self.0.len()
            }
        }
    }

    fn marks<'a>(&mut self, holders: impl Iterator<Item = &'a str>) -> String {
        let mut n: Vec<usize> = holders.map(|h| self.mark(h)).collect();
        n.sort_unstable();
        n.dedup();
        n.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The holders by their number, as the legend lists them.
    fn in_order(&self) -> impl Iterator<Item = (usize, &str)> {
        self.0.iter().enumerate().map(|(i, h)| (i + 1, h.as_str()))
    }
}

/// A small line chart of a series: what a trend looks like at a glance.
fn sparkline(points: &[SeriesPoint]) -> String {
    if points.len() < 2 {
        return String::new();
    }
    let (w, h, pad) = (160.0, 36.0, 3.0);
    let lo = points.iter().map(|p| p.value).fold(f64::INFINITY, f64::min);
    let hi = points
        .iter()
        .map(|p| p.value)
        .fold(f64::NEG_INFINITY, f64::max);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let step = (w - 2.0 * pad) / (points.len() - 1) as f64;
    let xy: Vec<(f64, f64)> = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                pad + i as f64 * step,
                h - pad - (p.value - lo) / span * (h - 2.0 * pad),
            )
        })
        .collect();
    let line = xy
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut svg = format!(
        r#"<svg class="spark" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="trend from {lo} to {hi}"><polyline points="{line}"/>"#
    );
    for ((x, y), p) in xy.iter().zip(points) {
        if p.conflict {
            let _ = write!(
                svg,
                r#"<circle class="conflict" cx="{x:.1}" cy="{y:.1}" r="2.5"/>"#
            );
        }
    }
    if let Some((x, y)) = xy.last() {
        let _ = write!(svg, r#"<circle cx="{x:.1}" cy="{y:.1}" r="2.5"/>"#);
    }
    svg.push_str("</svg>");
    svg
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;color:#1b1b1b;max-width:52rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.5rem;margin:0}h2{font-size:1.1rem;border-bottom:1px solid #bbb;margin-top:1.6rem;padding-bottom:.2rem}
.who{color:#444;margin:.2rem 0 1rem}table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:.25rem .4rem;vertical-align:top;border-bottom:1px solid #eee}th{font-weight:600;color:#444}
.date{white-space:nowrap;width:7rem}.src{color:#666;white-space:nowrap;font-size:.85em}
.flag{color:#a40000;font-weight:600}.note{color:#666;font-size:.9em}
.spark polyline{fill:none;stroke:#1f5fa8;stroke-width:1.5}.spark circle{fill:#1f5fa8}.spark circle.conflict{fill:#a40000}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}tr{break-inside:avoid}}";

/// A section's table; `dated` names its date column ("Date" when unset).
fn list(
    out: &mut String,
    legend: &mut Legend,
    title: &str,
    items: &[Item],
    cut: bool,
    dated: Option<Dated>,
) {
    let _ = write!(out, "<h2>{}</h2>", esc(title));
    if items.is_empty() {
        out.push_str(r#"<p class="note">None recorded.</p>"#);
        return;
    }
    let _ = write!(
        out,
        r#"<table><tr><th class="date">{}</th><th>Record</th><th class="src">From</th></tr>"#,
        dated.map_or("Date", Dated::column)
    );
    for i in items {
        let name = i.display.as_deref().unwrap_or(&i.resource_type);
        let v = value(i.value, i.unit.as_deref());
        let flag = if i.conflict {
            let what = if i.differs.is_empty() {
                "details".to_string()
            } else {
                i.differs.join(" and ")
            };
            let versions: Vec<String> = i
                .sources
                .iter()
                .map(|s| {
                    let parts = [
                        s.date.clone().unwrap_or_default(),
                        value(s.value, s.unit.as_deref()),
                    ];
                    parts
                        .into_iter()
                        .filter(|p| !p.is_empty())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            format!(
                r#"<div class="flag">Sources disagree on the {}: {}</div>"#,
                esc(&what),
                esc(&versions.join(" / "))
            )
        } else {
            let mut dates: Vec<&str> = i.sources.iter().filter_map(|s| s.date.as_deref()).collect();
            dates.sort_unstable();
            dates.dedup();
            if dates.len() > 1 {
                format!(
                    r#"<div class="note">recorded {}</div>"#,
                    esc(&dates.join(", "))
                )
            } else {
                String::new()
            }
        };
        let from = legend.marks(i.sources.iter().map(|s| s.holder.as_str()));
        let _ = write!(
            out,
            r#"<tr><td class="date">{}</td><td>{}{}{flag}</td><td class="src">{}</td></tr>"#,
            esc(i.date.as_deref().unwrap_or("undated")),
            esc(name),
            if v.is_empty() {
                String::new()
            } else {
                format!(" — {}", esc(&v))
            },
            esc(&from)
        );
    }
    out.push_str("</table>");
    if cut {
        let _ = write!(
            out,
            r#"<p class="note">Only the newest {LIST_LIMIT} are listed.</p>"#
        );
    }
}

fn results(
    out: &mut String,
    store: &RecordStore,
    legend: &mut Legend,
    title: &str,
    latest: &[LatestValue],
    person: Option<i64>,
) -> Result<(), StoreError> {
    let _ = write!(out, "<h2>{}</h2>", esc(title));
    if latest.is_empty() {
        out.push_str(r#"<p class="note">None recorded.</p>"#);
        return Ok(());
    }
    out.push_str(r#"<table><tr><th>Test</th><th class="date">Latest</th><th>Value</th><th>Trend</th><th class="src">From</th></tr>"#);
    for l in latest {
        let series = store.series(&l.code, person)?;
        let from = legend.marks(
            series
                .iter()
                .flat_map(|p| p.holders.iter().map(String::as_str)),
        );
        let _ = write!(
            out,
            r#"<tr><td>{}<div class="note">{} result{}</div></td><td class="date">{}</td><td>{}</td><td>{}</td><td class="src">{}</td></tr>"#,
            esc(l.display.as_deref().unwrap_or(&l.code)),
            l.count,
            if l.count == 1 { "" } else { "s" },
            esc(&l.date),
            esc(&value(Some(l.value), l.unit.as_deref())),
            sparkline(&series),
            esc(&from)
        );
    }
    out.push_str("</table>");
    Ok(())
}

/// The summary of `person` (or of everyone when `None`), as of `today`,
/// naming holders by `holder_names` (FHIR base to name) where known.
pub fn html(
    store: &RecordStore,
    person: Option<i64>,
    today: &str,
    holder_names: &HashMap<String, String>,
) -> Result<String, StoreError> {
    let people = store.people()?;
    let who: Vec<&PersonRecords> = people
        .iter()
        .filter(|p| person.is_none_or(|id| p.id == id))
        .collect();
    let mut legend = Legend::default();
    let mut body = String::new();
    for (category, title, dated) in LISTS {
        let items = store.timeline(&Query {
            person,
            category: Some(category),
            before: None,
            limit: LIST_LIMIT + 1,
        })?;
        let cut = items.len() > LIST_LIMIT;
        let mut items = items;
        items.truncate(LIST_LIMIT);
        if let Some(d) = dated {
            items = collapse_states(items, d);
        }
        list(&mut body, &mut legend, title, &items, cut, dated);
    }
    for (category, title) in [("labs", "Lab results"), ("vitals", "Vital signs")] {
        let latest = store.latest_values(category, person)?;
        results(&mut body, store, &mut legend, title, &latest, person)?;
    }
    for (category, title) in RECENT {
        let items = store.timeline(&Query {
            person,
            category: Some(category),
            before: None,
            limit: RECENT_COUNT,
        })?;
        list(&mut body, &mut legend, title, &items, false, None);
    }

    let mut out = String::from("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">");
    let names: Vec<String> = who
        .iter()
        .map(|p| p.name.clone().unwrap_or_else(|| "Unnamed person".into()))
        .collect();
    let _ = write!(
        out,
        "<title>Health summary: {}</title><style>{STYLE}</style></head><body><h1>Health summary</h1>",
        esc(&names.join(", "))
    );
    for p in &who {
        let _ = write!(
            out,
            r#"<p class="who"><strong>{}</strong>{}</p>"#,
            esc(p.name.as_deref().unwrap_or("Unnamed person")),
            p.birth_date
                .as_deref()
                .map(|b| format!(", born {}", esc(b)))
                .unwrap_or_default()
        );
    }
    let _ = write!(
        out,
        r#"<p class="note">Made by Ticket Wallet on {} from the records below. Each record appears once however many places sent it; the numbers under "From" say which.</p>"#,
        esc(today)
    );
    out.push_str(&body);
    out.push_str("<h2>Where these records come from</h2><table>");
    for (n, holder) in legend.in_order() {
        let at: Vec<String> = who
            .iter()
            .flat_map(|p| p.at.iter())
            .filter(|a| a.holder == holder)
            .map(|a| {
                let id = a.patient_id.as_deref().unwrap_or("?");
                if a.matches {
                    format!("patient {id}")
                } else {
                    format!("patient {id} (name or birth date differs from the ticket)")
                }
            })
            .collect();
        let shown = match holder_names.get(holder) {
            Some(name) => format!("{} ({})", esc(name), esc(holder)),
            None => esc(holder),
        };
        let _ = write!(
            out,
            r#"<tr><td class="src">{n}</td><td>{shown}</td><td class="note">{}</td></tr>"#,
            esc(&at.join("; "))
        );
    }
    out.push_str("</table></body></html>");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_legend_lists_holders_by_their_number() {
        let mut legend = Legend::default();
        assert_eq!(
            legend.marks(["https://z.test", "https://a.test"].into_iter()),
            "1, 2"
        );
        assert_eq!(legend.marks(["https://a.test"].into_iter()), "2");
        assert_eq!(
            legend.in_order().collect::<Vec<_>>(),
            vec![(1, "https://z.test"), (2, "https://a.test")]
        );
    }

    #[test]
    fn text_from_records_cannot_become_markup() {
        assert_eq!(
            esc(r#"<script>"x"&'y'"#),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;"
        );
    }

    #[test]
    fn a_condition_or_medication_recorded_several_times_is_one_line() {
        let item = |id: i64, name: &str, date: &str, holder: &str| Item {
            id,
            cursor: String::new(),
            person: 1,
            resource_type: "Condition".into(),
            category: "conditions".into(),
            date: Some(date.into()),
            display: Some(name.into()),
            value: None,
            unit: None,
            conflict: false,
            differs: Vec::new(),
            sources: vec![crate::store::ItemSource {
                holder: holder.into(),
                resource_id: None,
                date: Some(date.into()),
                code: None,
                value: None,
                unit: None,
            }],
        };
        let items = vec![
            item(3, "Hypertension", "2018-03-10", "a"),
            item(2, "Asthma", "2017-04-10", "b"),
            item(1, "hypertension", "2016-03-10", "b"),
        ];
        let got = collapse_states(items.clone(), Dated::Since);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].display.as_deref(), Some("Asthma"));
        assert_eq!(
            got[1].date.as_deref(),
            Some("2016-03-10"),
            "since the earliest"
        );
        assert_eq!(got[1].sources.len(), 2);
        let mut legend = Legend::default();
        let mut html = String::new();
        list(
            &mut html,
            &mut legend,
            "Conditions",
            &got,
            false,
            Some(Dated::Since),
        );
        assert!(html.contains("recorded 2016-03-10, 2018-03-10"), "{html}");
        assert!(html.contains(">Since</th>"), "{html}");

        // A medication prescribed twice: one line, dated by the last prescription.
        let got = collapse_states(items, Dated::Last);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].display.as_deref(), Some("Hypertension"));
        assert_eq!(got[0].date.as_deref(), Some("2018-03-10"), "the latest");
        assert_eq!(got[0].sources.len(), 2);
    }

    #[test]
    fn a_trend_is_drawn_with_its_disputed_points_marked() {
        let p = |date: &str, value: f64, conflict: bool| SeriesPoint {
            date: date.into(),
            value,
            unit: Some("%".into()),
            holders: vec!["h".into()],
            conflict,
            low: None,
            high: None,
        };
        assert_eq!(
            sparkline(&[p("2024-01-01", 7.0, false)]),
            "",
            "one point is no trend"
        );
        let svg = sparkline(&[
            p("2024-01-01", 7.0, false),
            p("2024-04-01", 6.5, true),
            p("2024-07-01", 6.0, false),
        ]);
        assert!(svg.starts_with("<svg") && svg.contains("<polyline"));
        assert_eq!(svg.matches("class=\"conflict\"").count(), 1);
        // Highest value at the top (smallest y), lowest at the bottom.
        assert!(
            svg.contains("points=\"3.0,3.0 80.0,18.0 157.0,33.0\""),
            "{svg}"
        );
    }
}
