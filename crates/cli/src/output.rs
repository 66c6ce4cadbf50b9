//! Printing results as text for people or JSON for scripts.

use std::process::ExitCode;

use serde::Serialize;
use wallet_core::view::{TicketSummary, TicketView};
use wallet_core::{ImportResult, KeyInfo, WalletError};

pub struct Out {
    pub json: bool,
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

    pub fn removed(&self, jti: &str) {
        if self.json {
            print_json(&serde_json::json!({ "removed": jti }));
        } else {
            println!("removed {jti}");
        }
    }
}
