//! How numbers, durations, money and times read in the UI. Pure functions, same result on the
//! server and in the browser (so hydration never disagrees).

/// `0:07`, `1:31`, `1:02:03` — a call's length.
pub fn duration(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if h > 0 { format!("{h}:{m:02}:{s:02}") } else { format!("{m}:{s:02}") }
}

/// Micro-units as money with two decimals, rounded half up: `12_345_678` → `$12.35`.
pub fn money(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let cents = (micros.unsigned_abs() + 5_000) / 10_000;
    format!("{sign}${}.{:02}", cents / 100, cents % 100)
}

/// Unix milliseconds as `2026-11-22 13:45 UTC`.
pub fn utc_timestamp(millis: i64) -> String {
    calling::dates::utc_minute(millis)
}

/// Unix milliseconds as `2026-11-22`.
pub fn utc_date(millis: i64) -> String {
    calling::dates::date_of_millis(millis)
}

/// A file size: `812 B`, `14.2 KB`, `3.4 MB` (powers of 1024, one decimal).
pub fn bytes(size: i64) -> String {
    let size = size.max(0) as f64;
    if size < 1024.0 {
        format!("{size} B")
    } else if size < 1024.0 * 1024.0 {
        format!("{:.1} KB", size / 1024.0)
    } else {
        format!("{:.1} MB", size / (1024.0 * 1024.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_sizes() {
        assert_eq!(bytes(812), "812 B");
        assert_eq!(bytes(14_540), "14.2 KB");
        assert_eq!(bytes(25 * 1024 * 1024), "25.0 MB");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(0), "0:00");
        assert_eq!(duration(91), "1:31");
        assert_eq!(duration(3723), "1:02:03");
        assert_eq!(duration(-4), "0:00");
    }

    #[test]
    fn money_rounds_half_up_to_cents() {
        assert_eq!(money(0), "$0.00");
        assert_eq!(money(12_345_678), "$12.35");
        assert_eq!(money(4_999), "$0.00");
        assert_eq!(money(5_000), "$0.01");
        assert_eq!(money(-1_250_000), "-$1.25");
    }

    #[test]
    fn timestamps_in_utc() {
        assert_eq!(utc_timestamp(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_timestamp(1_795_355_100_000), "2026-11-22 13:45 UTC");
        assert_eq!(utc_date(951_782_400_000), "2000-02-29");
        assert_eq!(utc_timestamp(-1), "1969-12-31 23:59 UTC");
    }
}
