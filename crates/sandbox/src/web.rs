//! Small helpers for the HTML pages and redirects the servers produce.

/// Escapes text for HTML element content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Hidden form fields carrying `fields` through a page unchanged.
pub fn hidden_inputs(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!(r#"<input type="hidden" name="{k}" value="{}">"#, escape(v)))
        .collect()
}

/// The end of an authorization request: back to `redirect_uri` with `params`
/// (each percent-encoded) and the client's `state`.
pub fn redirect_back(
    redirect_uri: &str,
    params: &[(&str, &str)],
    state: &str,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    let query: Vec<String> = params
        .iter()
        .chain(std::iter::once(&("state", state)))
        .map(|(k, v)| format!("{k}={}", url_encode(v)))
        .collect();
    axum::response::Redirect::to(&format!("{redirect_uri}{sep}{}", query.join("&"))).into_response()
}

/// An `http` URL to this machine's loopback address (any port, no user
/// name or password), as RFC 8252 redirects are.
pub fn is_loopback_redirect(uri: &str) -> bool {
    url::Url::parse(uri).is_ok_and(|u| {
        u.scheme() == "http"
            && u.username().is_empty()
            && u.password().is_none()
            && match u.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                _ => false,
            }
    })
}

/// Answers only requests addressed to this machine by name or address: a
/// web page whose name the attacker re-points at 127.0.0.1 (DNS rebinding)
/// sends its own name in `Host`, and is refused.
pub async fn only_this_machine(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let host = request
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let name = url::Url::parse(&format!("http://{host}/"))
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
    match name.as_deref() {
        Some("127.0.0.1" | "localhost" | "[::1]") => next.run(request).await,
        _ => (
            axum::http::StatusCode::MISDIRECTED_REQUEST,
            "this server answers only requests addressed to this machine",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes() {
        assert_eq!(
            super::escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(super::url_encode("a b&c/é"), "a%20b%26c%2F%C3%A9");
    }

    #[test]
    fn redirects_back_keep_the_callers_query() {
        let r = super::redirect_back("http://127.0.0.1:9/cb?x=1", &[("code", "c d")], "s&t");
        assert_eq!(
            r.headers()["location"],
            "http://127.0.0.1:9/cb?x=1&code=c%20d&state=s%26t"
        );
        let r = super::redirect_back("http://127.0.0.1:9/cb", &[("error", "access_denied")], "s");
        assert_eq!(
            r.headers()["location"],
            "http://127.0.0.1:9/cb?error=access_denied&state=s"
        );
    }
}
