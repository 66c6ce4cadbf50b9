//! One exchange as a curl command, to send it again by hand. It sends what
//! the trace shows: in a saved trace secrets read `[redacted]` and must be
//! filled in; a tester-mode trace (`tw sync --tester`) holds them whole.

use serde_json::Value;

use super::TraceEntry;
use super::har::text;

pub fn command(e: &TraceEntry) -> String {
    let mut parts = vec![format!("curl -X {} {}", e.method, quote(&e.url))];
    for (name, value) in &e.request_headers {
        parts.push(format!("-H {}", quote(&format!("{name}: {value}"))));
    }
    let form = e.request_headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("content-type") && v.starts_with("application/x-www-form-urlencoded")
    });
    match (&e.request_body, form) {
        (Some(Value::Object(fields)), true) => {
            for (k, v) in fields {
                parts.push(format!(
                    "--data-urlencode {}",
                    quote(&format!("{k}={}", text(v)))
                ));
            }
        }
        (Some(body), _) => parts.push(format!("--data-raw {}", quote(&body.to_string()))),
        (None, _) => {}
    }
    parts.join(" \\\n  ")
}

/// A POSIX shell single-quoted word: nothing inside is expanded.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Step;
    use serde_json::json;

    #[test]
    fn a_form_post_becomes_a_command_the_shell_reads_back_unchanged() {
        let e = TraceEntry {
            holder: "https://h.example/fhir".into(),
            step: Step::Exchange,
            started_ms: 0,
            method: "POST".into(),
            url: "https://h.example/token".into(),
            status: Some(200),
            millis: 5,
            request_headers: vec![
                (
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
                ("DPoP".into(), "[DPoP proof, decoded below]".into()),
            ],
            request_body: Some(json!({ "grant_type": "a b", "scope": "it's" })),
            response_headers: vec![],
            response: None,
            jwts: vec![],
            error: None,
            redacted: true,
        };
        let cmd = command(&e);
        // The shell itself is the judge of the quoting.
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "printf '%s\\n' {}",
                cmd.trim_start_matches("curl ")
            ))
            .output()
            .expect("sh runs");
        let words = String::from_utf8_lossy(&out.stdout);
        let words: Vec<&str> = words.lines().collect();
        assert_eq!(
            words,
            [
                "-X",
                "POST",
                "https://h.example/token",
                "-H",
                "content-type: application/x-www-form-urlencoded",
                "-H",
                "DPoP: [DPoP proof, decoded below]",
                "--data-urlencode",
                "grant_type=a b",
                "--data-urlencode",
                "scope=it's",
            ]
        );
    }
}
