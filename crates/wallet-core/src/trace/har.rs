//! A trace as an HTTP Archive (HAR 1.2), which browser devtools and API
//! clients open. One page per holder groups its exchanges the way the app's
//! lanes do; what HAR has no field for (the step, decoded JWTs, whether
//! secrets were left out) goes in `_`-prefixed fields, which HAR allows.
//! The trace's redaction carries over: a HAR of a saved trace holds no
//! secret and no patient detail either.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Step, TraceEntry};

/// The whole trace as a HAR document.
pub fn document(entries: &[TraceEntry]) -> Value {
    let mut pages: Vec<Value> = Vec::new();
    for e in entries {
        if !pages.iter().any(|p| p["id"] == e.holder.as_str()) {
            pages.push(json!({
                "startedDateTime": date(e.started_ms),
                "id": e.holder,
                "title": e.holder,
                "pageTimings": {},
            }));
        }
    }
    json!({
        "log": {
            "version": "1.2",
            "creator": { "name": "Ticket Wallet", "version": env!("CARGO_PKG_VERSION") },
            "pages": pages,
            "entries": entries.iter().map(entry).collect::<Vec<_>>(),
        }
    })
}

fn entry(e: &TraceEntry) -> Value {
    let millis = e.millis as f64;
    json!({
        "pageref": e.holder,
        "startedDateTime": date(e.started_ms),
        "time": millis,
        "request": request(e),
        "response": response(e),
        "cache": {},
        "timings": { "send": 0, "wait": millis, "receive": 0 },
        "_holder": e.holder,
        "_step": e.step,
        "_jwts": e.jwts,
        "_redacted": e.redacted,
        "_error": e.error,
    })
}

fn request(e: &TraceEntry) -> Value {
    let query: Vec<Value> = url::Url::parse(&e.url)
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| json!({ "name": k, "value": v }))
                .collect()
        })
        .unwrap_or_default();
    let mut request = json!({
        "method": e.method,
        "url": e.url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": headers(&e.request_headers),
        "queryString": query,
        "headersSize": -1,
        "bodySize": -1,
    });
    if let Some(body) = &e.request_body {
        let mime = header(&e.request_headers, "content-type").unwrap_or("application/json");
        request["postData"] = match (mime, body) {
            ("application/x-www-form-urlencoded", Value::Object(fields)) => {
                let pairs: Vec<(String, String)> =
                    fields.iter().map(|(k, v)| (k.clone(), text(v))).collect();
                json!({
                    "mimeType": mime,
                    "text": url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(&pairs)
                        .finish(),
                    "params": pairs
                        .iter()
                        .map(|(k, v)| json!({ "name": k, "value": v }))
                        .collect::<Vec<_>>(),
                })
            }
            _ => json!({ "mimeType": mime, "text": body.to_string(), "params": [] }),
        };
    }
    request
}

fn response(e: &TraceEntry) -> Value {
    let mime = header(&e.response_headers, "content-type").unwrap_or("");
    let mut content = json!({ "size": -1, "mimeType": mime });
    if let Some(shown) = &e.response {
        content["text"] = json!(shown.to_string());
        if e.step == Step::Fhir {
            content["comment"] = json!("summarised: the wallet never keeps FHIR bodies in a trace");
        }
    }
    json!({
        "status": e.status.unwrap_or(0),
        "statusText": e.status
            .and_then(|s| reqwest::StatusCode::from_u16(s).ok())
            .and_then(|s| s.canonical_reason())
            .unwrap_or(""),
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": headers(&e.response_headers),
        "content": content,
        "redirectURL": "",
        "headersSize": -1,
        "bodySize": -1,
    })
}

fn headers(list: &[(String, String)]) -> Vec<Value> {
    list.iter()
        .map(|(k, v)| json!({ "name": k, "value": v }))
        .collect()
}

fn header<'a>(list: &'a [(String, String)], name: &str) -> Option<&'a str> {
    list.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A form value as it was sent (strings without their JSON quotes).
pub(super) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn date(millis: u64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A trace saved before steps and start times were recorded.
    const OLD_ENTRY: &str = r#"[{"holder":"https://h.example/fhir","method":"POST",
        "url":"https://h.example/token","status":400,"millis":12,
        "request_headers":[["content-type","application/x-www-form-urlencoded"]],
        "request_body":{"grant_type":"urn:ietf:params:oauth:grant-type:token-exchange","subject_token":"[redacted]"},
        "response_headers":[["content-type","application/json"]],
        "response":{"error":"invalid_grant"},"jwts":[],"error":null}]"#;

    #[test]
    fn an_older_trace_file_still_opens_and_becomes_a_har_a_reader_accepts() {
        let entries = super::super::parse(OLD_ENTRY.as_bytes()).unwrap();
        assert_eq!(entries[0].step, Step::Other);
        assert!(entries[0].redacted, "an old saved trace was redacted");
        let text = serde_json::to_string(&document(&entries)).unwrap();
        let parsed = har::from_str(&text).unwrap();
        let har::Spec::V1_2(log) = parsed.log else {
            panic!("not HAR 1.2")
        };
        assert_eq!(log.entries.len(), 1);
        let e = &log.entries[0];
        assert_eq!(e.response.status, 400);
        assert_eq!(e.response.status_text, "Bad Request");
        let post = e.request.post_data.as_ref().unwrap();
        assert_eq!(post.mime_type, "application/x-www-form-urlencoded");
        let params = post.params.as_ref().unwrap();
        assert_eq!(params[0].name, "grant_type");
        assert_eq!(
            params[0].value.as_deref(),
            Some("urn:ietf:params:oauth:grant-type:token-exchange")
        );
    }

    #[test]
    fn a_sync_report_opens_as_its_trace() {
        let report = format!(r#"{{"outcomes":[],"trace":{OLD_ENTRY}}}"#);
        assert_eq!(super::super::parse(report.as_bytes()).unwrap().len(), 1);
    }

    #[test]
    fn a_file_that_is_not_a_trace_is_refused_with_a_reason() {
        for bad in [
            &b"{}"[..],
            b"[{\"holder\":1}]",
            b"{\"trace\":7}",
            b"not json",
            b"",
        ] {
            let e = super::super::parse(bad).unwrap_err();
            assert!(e.to_string().contains("not a Ticket Wallet trace"), "{e}");
        }
    }
}
