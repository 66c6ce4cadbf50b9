//! The report as one self-contained HTML page a tester attaches to a bug:
//! a line per case with its outcome, requirement and detail, and the
//! exchanges that show it (already redacted) folded under it.

use super::{CheckReport, Outcome};
use crate::summary::esc;

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;max-width:1000px;margin:24px auto;padding:0 16px;color:#1b2733}
table{border-collapse:collapse;width:100%}td,th{text-align:left;vertical-align:top;padding:6px 8px;border-bottom:1px solid #d9e1e8}
.o{font-weight:700;white-space:nowrap}.pass{color:#1d7a46}.fail{color:#b3261e}.warning{color:#9a6700}.info{color:#1f5f8b}.not_applicable{color:#5b6b7a}
.req{color:#5b6b7a;font-size:13px}pre{background:#f5f7f9;padding:8px;overflow:auto;font-size:12px}
@media (prefers-color-scheme: dark){body{background:#121a22;color:#e3e9ef}pre{background:#1a242e}td,th{border-color:#34424f}.req{color:#9fb0c0}}";

pub fn label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "pass",
        Outcome::Fail => "fail",
        Outcome::Warning => "warning",
        Outcome::NotApplicable => "not applicable",
        Outcome::Info => "information",
    }
}

fn class(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::NotApplicable => "not_applicable",
        o => label(o),
    }
}

pub fn html(report: &CheckReport) -> String {
    let mut out = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Conformance check: {base}</title><style>{STYLE}</style></head><body>\
         <h1>Conformance check</h1><p><code>{base}</code>, checked at {at} with ticket <code>{jti}</code>.</p>\
         <p>{pass} pass, {fail} fail, {warn} warning, {info} information, {na} not applicable.</p>\
         <table><thead><tr><th>Outcome</th><th>Case</th></tr></thead><tbody>",
        base = esc(&report.fhir_base),
        at = esc(&permission_ticket::human_time(report.checked_at)),
        jti = esc(report.ticket_jti.as_deref().unwrap_or("none")),
        pass = report.count(Outcome::Pass),
        fail = report.count(Outcome::Fail),
        warn = report.count(Outcome::Warning),
        info = report.count(Outcome::Info),
        na = report.count(Outcome::NotApplicable),
    );
    for c in &report.cases {
        out.push_str(&format!(
            "<tr id=\"{id}\"><td class=\"o {class}\">{label}</td><td><strong>{title}</strong> <code>{id}</code><div>{detail}</div><div class=\"req\">{req}</div>",
            id = esc(&c.id),
            class = class(c.outcome),
            label = label(c.outcome),
            title = esc(&c.title),
            detail = esc(&c.detail),
            req = esc(&c.requirement),
        ));
        if !c.evidence.is_empty() {
            let shown = serde_json::to_string_pretty(&c.evidence).unwrap_or_default();
            out.push_str(&format!(
                "<details><summary>{} {}</summary><pre>{}</pre></details>",
                c.evidence.len(),
                if c.evidence.len() == 1 {
                    "exchange"
                } else {
                    "exchanges"
                },
                esc(&shown)
            ));
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table></body></html>\n");
    out
}
