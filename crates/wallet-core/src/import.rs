//! Finding the ticket in what a person pastes, drops or opens: the bare JWT,
//! a `web+ticket:` link, a `ticketwallet://import?ticket=` deep link, or any
//! URL carrying `ticket=` in its query or fragment.

use crate::WalletError;

/// Deep-link schemes the app registers.
pub const SCHEMES: [&str; 2] = ["web+ticket", "ticketwallet"];

pub fn extract_ticket(input: &str) -> Result<String, WalletError> {
    let text = input.trim();
    if let Some(rest) = strip_scheme(text, "web+ticket:") {
        let rest = rest.trim_start_matches("//");
        // `web+ticket:` handlers registered by browsers receive the link percent-encoded.
        let decoded = percent_decode(rest);
        return from_url_or_bare(&decoded);
    }
    from_url_or_bare(text)
}

fn from_url_or_bare(text: &str) -> Result<String, WalletError> {
    if let Ok(url) = url::Url::parse(text)
        && url.scheme() != "web+ticket"
        && !url.cannot_be_a_base()
    {
        let from_query = url
            .query_pairs()
            .find(|(k, _)| k == "ticket")
            .map(|(_, v)| v.into_owned());
        let from_fragment = url.fragment().and_then(|f| {
            url::form_urlencoded::parse(f.as_bytes())
                .find(|(k, _)| k == "ticket")
                .map(|(_, v)| v.into_owned())
        });
        return from_query
            .or(from_fragment)
            .and_then(|t| bare(&t))
            .ok_or(WalletError::NoTicketFound);
    }
    bare(text).ok_or(WalletError::NoTicketFound)
}

/// A compact JWS, with any whitespace (line-wrapped copies) removed.
fn bare(text: &str) -> Option<String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let parts: Vec<&str> = compact.split('.').collect();
    let b64url = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '=')
    };
    (parts.len() == 3
        && !parts[0].is_empty()
        && !parts[1].is_empty()
        && parts.iter().all(|p| b64url(p)))
    .then_some(compact)
}

fn strip_scheme<'a>(text: &'a str, scheme: &str) -> Option<&'a str> {
    // `get`, not slicing: the first bytes of pasted text may end inside a character.
    text.get(..scheme.len())
        .filter(|head| head.eq_ignore_ascii_case(scheme))
        .and_then(|_| text.get(scheme.len()..))
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJFUzI1NiJ9.eyJqdGkiOiIxIn0.c2ln";

    #[test]
    fn text_that_starts_inside_a_character_is_not_a_ticket() {
        // The 11th byte (the length of `web+ticket:`) falls inside `é`.
        for input in ["ééééééééééé", "web+tickeé:x", "€€€€"] {
            assert!(matches!(
                extract_ticket(input),
                Err(WalletError::NoTicketFound)
            ));
        }
    }

    #[test]
    fn finds_the_ticket_in_every_form() {
        for input in [
            JWT.to_string(),
            format!("  {JWT}\n"),
            format!("{}\n{}", &JWT[..20], &JWT[20..]),
            format!("web+ticket:{JWT}"),
            format!("web+ticket://{JWT}"),
            format!("WEB+TICKET:{}", JWT.replace('.', "%2E")),
            format!("ticketwallet://import?ticket={JWT}"),
            format!("https://issuer.example/handoff#ticket={JWT}"),
            format!("https://issuer.example/handoff?x=1&ticket={JWT}"),
        ] {
            assert_eq!(extract_ticket(&input).unwrap(), JWT, "{input}");
        }
    }

    #[test]
    fn says_when_there_is_none() {
        for input in [
            "",
            "hello",
            "https://issuer.example/?t=1",
            "a.b",
            "web+ticket:nothing",
        ] {
            assert!(
                matches!(extract_ticket(input), Err(WalletError::NoTicketFound)),
                "{input}"
            );
        }
    }
}
