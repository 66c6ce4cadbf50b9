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

/// One progress line on standard error.
pub fn progress(e: &SyncEvent) {
    match (e.stage.as_str(), &e.resource_type) {
        ("download", Some(t)) => eprintln!(
            "{}: {} pages, {} records (now {t})",
            e.holder, e.pages, e.resources
        ),
        ("storing", _) => eprintln!("{}: storing {} records", e.holder, e.resources),
        (stage, _) => eprintln!("{}: {stage}", e.holder),
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
        Err(e) => eprintln!("error: cannot write JSON: {e}"),
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
            eprintln!("error: {e}");
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
        println!("profile:  {}", k.profile);
        println!("jkt:      {}", k.jkt);
        println!("keyring:  {}", k.store.name);
        if let Some(n) = &k.store.notice {
            println!("notice:   {n}");
        }
        println!(
            "public key (JWK):\n{}",
            serde_json::to_string_pretty(&k.public_jwk).unwrap_or_default()
        );
    }

    pub fn ticket(&self, t: &TicketView) {
        if self.json {
            print_json(t);
            return;
        }
        println!(
            "{} — {}",
            t.type_label,
            if t.usable { "usable" } else { "NOT usable" }
        );
        if let Some(p) = &t.problem {
            println!("  problem:   {p}");
        }
        println!("  jti:       {}", t.jti);
        println!("  issuer:    {}", t.issuer);
        println!(
            "  audience:  {} ({})",
            t.audience.join(", "),
            t.audience_type
        );
        println!("  expires:   {}", t.expires_text);
        let p = &t.patient;
        println!(
            "  patient:   {}{}",
            p.name.as_deref().unwrap_or("(no name)"),
            p.birth_date
                .as_deref()
                .map(|b| format!(", born {b}"))
                .unwrap_or_default()
        );
        if let Some(r) = &t.requester {
            println!(
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
            println!(
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
            println!("  period:    {period}");
        }
        for f in &t.access.holder_filter {
            println!("  holders:   {f}");
        }
        for f in &t.facts {
            println!("  {}: {}", f.name, f.display);
        }
        println!("  binding:   {}", t.binding.detail);
        println!("checks:");
        for c in &t.checks {
            println!("  {} {:<24} {}", mark(&c.status), c.label, c.detail);
        }
    }

    pub fn imported(&self, r: &ImportResult) {
        if self.json {
            print_json(r);
            return;
        }
        match r.outcome.as_str() {
            "added" => println!("added {} ({})", r.ticket.jti, r.ticket.type_label),
            _ => println!(
                "already in the wallet: {} ({})",
                r.ticket.jti, r.ticket.type_label
            ),
        }
        if let Some(n) = &r.notice {
            println!("notice: {n}");
        }
    }

    pub fn list(&self, tickets: &[TicketSummary]) {
        if self.json {
            print_json(&tickets);
            return;
        }
        if tickets.is_empty() {
            println!("no tickets yet: add one with `tw ticket import`");
        }
        for t in tickets {
            println!(
                "{}  {}  {}  {}{}",
                t.jti,
                t.type_label,
                t.issuer,
                t.expires_text,
                if t.expired { " (expired)" } else { "" }
            );
        }
    }

    pub fn holders(&self, holders: &[HolderView]) {
        if self.json {
            print_json(&holders);
            return;
        }
        if holders.is_empty() {
            println!("no holders yet: add one with `tw holder add <fhir-base>`");
        }
        for h in holders {
            println!(
                "{}{}",
                h.fhir_base,
                h.name
                    .as_deref()
                    .map(|n| format!("  ({n})"))
                    .unwrap_or_default()
            );
            println!(
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
                println!("  ticket types: {}", short.join(", "));
            }
            for p in &h.problems {
                println!("  ! {p}");
            }
        }
    }

    pub fn sync(&self, report: &SyncReport) {
        if self.json {
            print_json(&report.outcomes);
            return;
        }
        for o in &report.outcomes {
            println!("{:<17} {}  {}", o.status, o.fhir_base, o.message);
            for t in &o.by_type {
                println!("                    {:>6}  {}", t.count, t.resource_type);
            }
        }
    }

    pub fn trace(&self, entries: &[TraceEntry]) {
        if self.json {
            print_json(&entries);
            return;
        }
        if entries.is_empty() {
            println!("no exchanges recorded: run `tw sync` first");
        }
        for e in entries {
            let status = e
                .status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "---".into());
            println!("{status} {:>5} ms  {} {}", e.millis, e.method, e.url);
            if let Some(err) = &e.error {
                println!("        error: {err}");
            }
            for j in &e.jwts {
                println!(
                    "        {}: {}",
                    j["role"].as_str().unwrap_or("jwt"),
                    j["claims"]
                );
            }
            if let Some(body) = &e.request_body {
                println!("        sent: {body}");
            }
            if let Some(r) = &e.response {
                println!("        got:  {r}");
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
            println!("! {p}");
        }
    }

    pub fn record_counts(&self, counts: &[SourceCount]) {
        if self.json {
            print_json(&counts);
            return;
        }
        if counts.is_empty() {
            println!("no records yet: run `tw sync`");
        }
        let mut last = None;
        for c in counts {
            if last != Some((&c.holder, &c.ticket_jti)) {
                println!("{}  (ticket {})", c.holder, c.ticket_jti);
                last = Some((&c.holder, &c.ticket_jti));
            }
            println!("  {:>6}  {}", c.count, c.resource_type);
        }
    }

    pub fn items(&self, items: &[Item]) {
        if self.json {
            print_json(&items);
            return;
        }
        if items.is_empty() {
            println!("nothing found");
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
            println!(
                "{:>7}  {:<10}  {:<13} {}{value}{flag}  ({})",
                i.id,
                i.date.as_deref().unwrap_or("undated"),
                i.category,
                i.display.as_deref().unwrap_or(&i.resource_type),
                self.sources(i.sources.iter().map(|s| s.holder.as_str()))
            );
        }
        if let Some(last) = items.last() {
            println!("next page: --before '{}'", last.cursor);
        }
    }

    pub fn series(&self, points: &[SeriesPoint]) {
        if self.json {
            print_json(&points);
            return;
        }
        if points.is_empty() {
            println!("no values for this code");
        }
        for p in points {
            println!(
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
            println!("no records yet: run `tw sync`");
        }
        for p in people {
            println!(
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
                println!(
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
            println!(
                "The holders disagree on the {}; every version is kept.",
                item.differs.join(" and ")
            );
        }
        for c in copies {
            println!(
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
            println!("{pretty}");
        }
    }

    pub fn removed(&self, jti: &str) {
        if self.json {
            print_json(&serde_json::json!({ "removed": jti }));
        } else {
            println!("removed {jti}");
        }
    }
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}
