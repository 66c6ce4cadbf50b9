//! Human-readable times for messages ("expired on 2026-07-15 18:33:33 UTC").

use time::OffsetDateTime;
use time::macros::format_description;

pub fn human(unix: i64) -> String {
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| format!("unix time {unix}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_utc() {
        assert_eq!(super::human(1_784_140_413), "2026-07-15 18:33:33 UTC");
    }
}
