//! Calendar dates from unix time, in UTC, without a date library: the analytics series and the
//! UI (on the server and in the browser, so hydration never disagrees) format days the same way.

/// Milliseconds in one day.
pub const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day) — Howard Hinnant's
/// `civil_from_days`.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `YYYY-MM-DD` of a day number (days since 1970-01-01).
pub fn date_of_day(day: i64) -> String {
    let (year, month, day) = civil_from_days(day);
    format!("{year:04}-{month:02}-{day:02}")
}

/// `YYYY-MM-DD` (UTC) of unix milliseconds.
pub fn date_of_millis(millis: i64) -> String {
    date_of_day(millis.div_euclid(DAY_MS))
}

/// Days since 1970-01-01 of a proleptic Gregorian date — Howard Hinnant's `days_from_civil`,
/// the inverse of [`civil_from_days`].
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `(year, month, day)` of exactly `YYYY-MM-DD`, a real calendar date; `None` otherwise.
///
/// Written out rather than chrono's `parse_from_str`: its format-string parser is ~25 KB of
/// the browser bundle on each page that checks a date (settings' holidays, billing's filters).
pub fn parse_ymd(raw: &str) -> Option<(i32, u32, u32)> {
    let bytes = raw.as_bytes();
    let shaped = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes.iter().enumerate().all(|(index, byte)| index == 4 || index == 7 || byte.is_ascii_digit());
    if !shaped {
        return None;
    }
    let number = |range: std::ops::Range<usize>| {
        bytes[range].iter().fold(0u32, |value, digit| value * 10 + u32::from(digit - b'0'))
    };
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (1..=days_in_month).contains(&day).then_some((i32::try_from(year).ok()?, month, day))
}

/// The first millisecond (00:00 UTC) of a `YYYY-MM-DD` date; `None` unless it is a real
/// calendar date written that way.
pub fn start_of_date(raw: &str) -> Option<i64> {
    let (year, month, day) = parse_ymd(raw.trim())?;
    Some(days_from_civil(i64::from(year), i64::from(month), i64::from(day)) * DAY_MS)
}

/// Unix milliseconds as ISO 8601 in UTC, to the second: `2026-12-01T09:30:05Z`.
pub fn iso_utc(millis: i64) -> String {
    let seconds = millis.div_euclid(1000).rem_euclid(86_400);
    format!("{}T{:02}:{:02}:{:02}Z", date_of_millis(millis), seconds / 3600, seconds / 60 % 60, seconds % 60)
}

/// Unix milliseconds as `2026-11-22 13:45 UTC`.
pub fn utc_minute(millis: i64) -> String {
    let seconds = millis.div_euclid(1000);
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", of_day / 3600, of_day / 60 % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_become_dates() {
        assert_eq!(date_of_day(0), "1970-01-01");
        assert_eq!(date_of_day(20_779), "2026-11-22");
        assert_eq!(date_of_day(11_016), "2000-02-29");
        assert_eq!(date_of_millis(-1), "1969-12-31");
        assert_eq!(utc_minute(1_795_355_100_000), "2026-11-22 13:45 UTC");
        assert_eq!(utc_minute(-1), "1969-12-31 23:59 UTC");
        assert_eq!(iso_utc(1_795_355_105_000), "2026-11-22T13:45:05Z");
        assert_eq!(iso_utc(-1), "1969-12-31T23:59:59Z");
        assert_eq!(start_of_date("2026-11-22"), Some(20_779 * DAY_MS));
        assert_eq!(start_of_date("2000-02-29"), Some(11_016 * DAY_MS));
        assert_eq!(start_of_date("2026-02-31"), None);
        assert_eq!(start_of_date("yesterday"), None);
    }

    #[test]
    fn dates_parse_to_their_first_millisecond() {
        assert_eq!(start_of_date("1970-01-02"), Some(DAY_MS));
        assert_eq!(start_of_date(" 2000-02-29 "), Some(11_016 * DAY_MS));
        for bad in
            ["", "2001-02-29", "2026-1-2", "02/01/2026", "2026-11-22T00:00", "2026-00-10", "2026-13-01"]
        {
            assert_eq!(start_of_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_parse_as_chrono_reads_them() {
        use chrono::Datelike;
        // Every day of four centuries (leap years of every kind) and every impossible day of
        // month in them: the hand-written parser and chrono's agree, and the day numbers
        // round-trip.
        for day in days_from_civil(1900, 1, 1)..days_from_civil(2300, 1, 1) {
            let text = date_of_day(day);
            let ours = parse_ymd(&text).expect("a real date parses");
            let theirs = chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d").expect("chrono reads it");
            assert_eq!(ours, (theirs.year(), theirs.month(), theirs.day()), "{text}");
            assert_eq!(days_from_civil(i64::from(ours.0), i64::from(ours.1), i64::from(ours.2)), day);
        }
        for year in [1900, 2000, 2024, 2026, 2100] {
            for month in 1..=12 {
                for day in 28..=32 {
                    let text = format!("{year:04}-{month:02}-{day:02}");
                    let theirs = chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d").is_ok();
                    assert_eq!(parse_ymd(&text).is_some(), theirs, "{text}");
                }
            }
        }
        for bad in ["2026-+1-01", "2026-01-0a", "-026-01-01", "2026/01/01", " 2026-01-01"] {
            assert_eq!(parse_ymd(bad), None, "{bad}");
        }
    }
}
