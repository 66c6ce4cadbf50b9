//! Printing results as text for people or JSON for scripts.

use std::collections::HashMap;
use std::process::ExitCode;

use serde::Serialize;
use wallet_core::holders::HolderView;
use wallet_core::onboard::OnboardReport;
use wallet_core::store::{Copy, Item, PersonRecords, SeriesPoint, SourceCount};
use wallet_core::trace::TraceEntry;
use wallet_core::view::{TicketSummary, TicketView};
use wallet_core::{ImportResult, KeyInfo, SyncEvent, SyncReport, WalletError};

/// A line for a person: text from holders, issuers and tickets is printed
/// without its control characters, so none can move the cursor, rewrite
/// the terminal's title or hide what follows (JSON output escapes them).
macro_rules! say {
    ($($arg:tt)*) => { println!("{}", crate::output::printable(&format!($($arg)*))) };
}
macro_rules! say_err {
    ($($arg:tt)*) => { eprintln!("{}", crate::output::printable(&format!($($arg)*))) };
}

/// `text` without control characters (line breaks and tabs stay) and without
/// the bidirectional overrides that make text read in another order than it is.
pub fn printable(text: &str) -> String {
    text.chars()
        .filter(|&c| {
            c == '\n'
                || c == '\t'
                || !(c.is_control()
                    || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
        })
        .collect()
}

/// One progress line on standard error.
pub fn progress(e: &SyncEvent) {
    match (e.stage.as_str(), &e.resource_type) {
        ("download", Some(t)) => say_err!(
            "{}: {} pages, {} records (now {t})",
            e.holder,
            e.pages,
            e.resources
        ),
        ("storing", _) => say_err!("{}: storing {} records", e.holder, e.resources),
        (stage, _) => say_err!("{}: {stage}", e.holder),
    }
}

pub struct Out {
    pub json: bool,
    /// Holder names by FHIR base, for lines that name where a record came from.
    names: HashMap<String, String>,
}

impl Out {
    pub fn new(json: bool) -> Self {
        Self {
            json,
            names: HashMap::new(),
        }
    }

    pub fn with_holder_names(&self, names: HashMap<String, String>) -> Self {
        Self {
            json: self.json,
            names,
        }
    }

    pub fn holder_names(&self) -> &HashMap<String, String> {
        &self.names
    }

    /// A holder as people know it: its name, or its URL when it has none.
    fn holder<'a>(&'a self, base: &'a str) -> &'a str {
        self.names.get(base).map_or(base, String::as_str)
    }

    /// Holders in a line, by name, without repeats.
    fn sources<'a>(&'a self, holders: impl Iterator<Item = &'a str>) -> String {
        let mut seen: Vec<&str> = Vec::new();
        for h in holders.map(|h| self.holder(h)) {
            if !seen.contains(&h) {
                seen.push(h);
            }
        }
        seen.join(", ")
    }
}

fn print_json(value: &impl Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => say_err!("error: cannot write JSON: {e}"),
    }
}

fn mark(status: &str) -> &'static str {
    match status {
        "pass" => "✓",
        "fail" => "✗",
        "warn" => "!",
        _ => "-",
    }
}

impl Out {
    pub fn error(&self, e: &WalletError) -> ExitCode {
        if self.json {
            print_json(&serde_json::json!({ "error": e.to_payload() }));
        } else {
            say_err!("error: {e}");
        }
        ExitCode::FAILURE
    }

    pub fn key(&self, k: &KeyInfo) {
        if self.json {
            // The QR code is for screens.
            print_json(&serde_json::json!({
                "profile": k.profile, "jkt": k.jkt, "public_jwk": k.public_jwk, "store": k.store,
            }));
            return;
        }
        say!("profile:  {}", k.profile);
        say!("jkt:      {}", k.jkt);
        say!("keyring:  {}", k.store.name);
        if let Some(n) = &k.store.notice {
            say!("notice:   {n}");
        }
        say!(
            "public key (JWK):\n{}",
            serde_json::to_string_pretty(&k.public_jwk).unwrap_or_default()
        );
    }

    pub fn ticket(&self, t: &TicketView) {
        if self.json {
            print_json(t);
            return;
        }
        say!(
            "{} — {}",
            t.type_label,
            if t.usable { "usable" } else { "NOT usable" }
        );
        if let Some(p) = &t.problem {
            say!("  problem:   {p}");
        }
        say!("  jti:       {}", t.jti);
        say!("  issuer:    {}", t.issuer);
        say!(
            "  audience:  {} ({})",
            t.audience.join(", "),
            t.audience_type
        );
        say!("  expires:   {}", t.expires_text);
        let p = &t.patient;
        say!(
            "  patient:   {}{}",
            p.name.as_deref().unwrap_or("(no name)"),
            p.birth_date
                .as_deref()
                .map(|b| format!(", born {b}"))
                .unwrap_or_default()
        );
        if let Some(r) = &t.requester {
            say!(
                "  requester: {} ({}{})",
                r.name.as_deref().unwrap_or("(no name)"),
                r.resource_type,
                if r.relationship.is_empty() {
                    String::new()
                } else {
                    format!(": {}", r.relationship.join(", "))
                }
            );
        }
        for s in &t.access.scopes {
            say!(
                "  access:    {} — {}{}",
                s.resource_type,
                s.permissions,
                s.narrowed_by
                    .as_deref()
                    .map(|n| format!(" where {n}"))
                    .unwrap_or_default()
            );
        }
        if let Some(period) = &t.access.period {
            say!("  period:    {period}");
        }
        for f in &t.access.holder_filter {
            say!("  holders:   {f}");
        }
        for f in &t.facts {
            say!("  {}: {}", f.name, f.display);
        }
        say!("  binding:   {}", t.binding.detail);
        say!("checks:");
        for c in &t.checks {
            say!("  {} {:<24} {}", mark(&c.status), c.label, c.detail);
        }
    }

    pub fn imported(&self, r: &ImportResult) {
        if self.json {
            print_json(r);
            return;
        }
        match r.outcome.as_str() {
            "added" => say!("added {} ({})", r.ticket.jti, r.ticket.type_label),
            _ => say!(
                "already in the wallet: {} ({})",
                r.ticket.jti,
                r.ticket.type_label
            ),
        }
        if let Some(n) = &r.notice {
            say!("notice: {n}");
        }
    }

    pub fn list(&self, tickets: &[TicketSummary]) {
        if self.json {
            print_json(&tickets);
            return;
        }
        if tickets.is_empty() {
            say!("no tickets yet: add one with `tw ticket import`");
        }
        for t in tickets {
            say!(
                "{}  {}  {}  {}{}{}",
                t.jti,
                t.type_label,
                t.issuer,
                t.expires_text,
                if t.expired { " (expired)" } else { "" },
                if t.source == wallet_core::check::workbench::TEST_SOURCE {
                    "  [test ticket: presented only where named]"
                } else {
                    ""
                }
            );
        }
    }

    pub fn holders(&self, holders: &[HolderView]) {
        if self.json {
            print_json(&holders);
            return;
        }
        if holders.is_empty() {
            say!("no holders yet: add one with `tw holder add <fhir-base>`");
        }
        for h in holders {
            say!(
                "{}{}",
                h.fhir_base,
                h.name
                    .as_deref()
                    .map(|n| format!("  ({n})"))
                    .unwrap_or_default()
            );
            say!(
                "  token exchange: {}   DPoP: {}   interaction page: {}   client id: {}",
                yes(h.token_exchange),
                yes(h.dpop),
                yes(h.authorize),
                h.client_id.as_deref().unwrap_or("none")
            );
            if !h.ticket_types.is_empty() {
                let short: Vec<&str> = h
                    .ticket_types
                    .iter()
                    .map(|t| t.rsplit('/').next().unwrap_or(t))
                    .collect();
                say!("  ticket types: {}", short.join(", "));
            }
            for p in &h.problems {
                say!("  ! {p}");
            }
        }
    }

    pub fn sync(&self, report: &SyncReport) {
        if self.json {
            print_json(&report.outcomes);
            return;
        }
        for o in &report.outcomes {
            say!("{:<17} {}  {}", o.status, o.fhir_base, o.message);
            for t in &o.by_type {
                say!("                    {:>6}  {}", t.count, t.resource_type);
            }
        }
    }

    /// A conformance report: a line per case, then the counts.
    pub fn check(&self, report: &wallet_core::check::CheckReport) {
        use wallet_core::check::Outcome;
        if self.json {
            print_json(report);
            return;
        }
        say!("{}", report.fhir_base);
        for c in &report.cases {
            let mark = match c.outcome {
                Outcome::Pass => "pass",
                Outcome::Fail => "FAIL",
                Outcome::Warning => "warn",
                Outcome::Info => "info",
                Outcome::NotApplicable => "n/a ",
            };
            say!("{mark}  {:<24} {}", c.id, c.detail);
            if matches!(c.outcome, Outcome::Fail | Outcome::Warning) {
                say!("      {}", c.requirement);
            }
        }
        say!(
            "{} pass, {} fail, {} warning, {} information, {} not applicable",
            report.count(Outcome::Pass),
            report.count(Outcome::Fail),
            report.count(Outcome::Warning),
            report.count(Outcome::Info),
            report.count(Outcome::NotApplicable)
        );
    }

    /// What was written to a file, on stderr: stdout stays what was asked for.
    pub fn wrote(&self, what: &str, path: &std::path::Path) {
        say_err!("wrote {what} to {}", path.display());
    }

    /// Each exchange as a curl command, in the order requests left.
    pub fn curl(&self, entries: &[TraceEntry]) {
        let mut sorted: Vec<&TraceEntry> = entries.iter().collect();
        sorted.sort_by_key(|e| e.started_ms);
        for e in sorted {
            say!("# {} {}", e.holder, e.step);
            say!("{}\n", wallet_core::trace::curl::command(e));
        }
    }

    pub fn trace(&self, entries: &[TraceEntry]) {
        if self.json {
            print_json(&entries);
            return;
        }
        if entries.is_empty() {
            say!("no exchanges recorded: run `tw sync` first");
        }
        for e in entries {
            let status = e
                .status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "---".into());
            say!("{status} {:>5} ms  {} {}", e.millis, e.method, e.url);
            if let Some(err) = &e.error {
                say!("        error: {err}");
            }
            for j in &e.jwts {
                say!(
                    "        {}: {}",
                    j["role"].as_str().unwrap_or("jwt"),
                    j["claims"]
                );
            }
            if let Some(body) = &e.request_body {
                say!("        sent: {body}");
            }
            if let Some(r) = &e.response {
                say!("        got:  {r}");
            }
        }
    }

    pub fn onboard(&self, report: &OnboardReport) {
        if self.json {
            print_json(report);
            return;
        }
        for r in &report.tickets {
            self.imported(r);
        }
        self.holders(&report.holders);
        for p in &report.problems {
            say!("! {p}");
        }
    }

    pub fn record_counts(&self, counts: &[SourceCount]) {
        if self.json {
            print_json(&counts);
            return;
        }
        if counts.is_empty() {
            say!("no records yet: run `tw sync`");
        }
        let mut last = None;
        for c in counts {
            if last != Some((&c.holder, &c.ticket_jti)) {
                say!("{}  (ticket {})", c.holder, c.ticket_jti);
                last = Some((&c.holder, &c.ticket_jti));
            }
            say!("  {:>6}  {}", c.count, c.resource_type);
        }
    }

    pub fn items(&self, items: &[Item]) {
        if self.json {
            print_json(&items);
            return;
        }
        if items.is_empty() {
            say!("nothing found");
        }
        for i in items {
            let value = match (i.value, &i.unit) {
                (Some(v), Some(u)) => format!("  {v} {u}"),
                (Some(v), None) => format!("  {v}"),
                _ => String::new(),
            };
            let flag = if i.conflict {
                format!("  [sources disagree: {}]", i.differs.join(", "))
            } else {
                String::new()
            };
            say!(
                "{:>7}  {:<10}  {:<13} {}{value}{flag}  ({})",
                i.id,
                i.date.as_deref().unwrap_or("undated"),
                i.category,
                i.display.as_deref().unwrap_or(&i.resource_type),
                self.sources(i.sources.iter().map(|s| s.holder.as_str()))
            );
        }
        if let Some(last) = items.last() {
            say!("next page: --before '{}'", last.cursor);
        }
    }

    pub fn series(&self, points: &[SeriesPoint]) {
        if self.json {
            print_json(&points);
            return;
        }
        if points.is_empty() {
            say!("no values for this code");
        }
        for p in points {
            say!(
                "{}  {} {}{}  ({})",
                p.date,
                p.value,
                p.unit.as_deref().unwrap_or(""),
                if p.conflict {
                    "  [sources disagree]"
                } else {
                    ""
                },
                self.sources(p.holders.iter().map(String::as_str))
            );
        }
    }

    pub fn people(&self, people: &[PersonRecords]) {
        if self.json {
            print_json(&people);
            return;
        }
        if people.is_empty() {
            say!("no records yet: run `tw sync`");
        }
        for p in people {
            say!(
                "{:>4}  {}{}  ({} records)",
                p.id,
                p.name.as_deref().unwrap_or("unnamed"),
                p.birth_date
                    .as_deref()
                    .map(|b| format!(", born {b}"))
                    .unwrap_or_default(),
                p.records
            );
            for a in &p.at {
                say!(
                    "        {}  Patient/{}{}",
                    self.holder(&a.holder),
                    a.patient_id.as_deref().unwrap_or("?"),
                    if a.matches {
                        String::new()
                    } else {
                        format!(
                            "  (the holder has {} born {}: not what the ticket says)",
                            a.name.as_deref().unwrap_or("no name"),
                            a.birth_date.as_deref().unwrap_or("?")
                        )
                    }
                );
            }
        }
    }

    pub fn show(&self, item: &Item, copies: &[Copy]) {
        if self.json {
            print_json(&serde_json::json!({ "item": item, "copies": copies }));
            return;
        }
        self.items(std::slice::from_ref(item));
        if item.conflict {
            say!(
                "The holders disagree on the {}; every version is kept.",
                item.differs.join(" and ")
            );
        }
        for c in copies {
            say!(
                "\n{}{}/{}/{} (ticket {}, fetched {})",
                self.names
                    .get(&c.holder)
                    .map(|n| format!("{n}: "))
                    .unwrap_or_default(),
                c.holder,
                c.resource_type,
                c.resource_id.as_deref().unwrap_or("?"),
                c.ticket_jti,
                wallet_core::permission_ticket::human_time(c.fetched_at)
            );
            let pretty = serde_json::from_str::<serde_json::Value>(&c.json)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or_else(|| c.json.clone());
            say!("{pretty}");
        }
    }

    pub fn about(&self, about: &wallet_core::about::About) {
        if self.json {
            print_json(about);
            return;
        }
        say!("tw {}", about.version);
        say!("speaks:");
        for spec in &about.specifications {
            say!("  {spec}");
        }
        say!("profile   {}", about.profile);
        say!("data      {}", about.data_dir);
        match &about.log_dir {
            Some(dir) => say!("logs      {dir}"),
            None => say!("logs      (no log folder is known for this user)"),
        }
    }

    pub fn removed(&self, jti: &str) {
        if self.json {
            print_json(&serde_json::json!({ "removed": jti }));
        } else {
            say!("removed {jti}");
        }
    }
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn control_characters_and_bidi_overrides_are_not_printed() {
        let hostile = "Good Clinic\u{1b}]0;pwned\u{7}\u{1b}[2J\r\u{9b}31m\u{202E}cod.exe";
        assert_eq!(printable(hostile), "Good Clinic]0;pwned[2J31mcod.exe");
        assert_eq!(
            printable("two\nlines\tand a tab, é ✓"),
            "two\nlines\tand a tab, é ✓"
        );
    }
}
