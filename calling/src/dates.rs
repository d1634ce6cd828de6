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

/// `YYYY-MM-DD` (a date input's value) as the unix milliseconds of its 00:00 UTC; `None` when
/// it is not a real date.
pub fn millis_of_date(text: &str) -> Option<i64> {
    let mut parts = text.trim().splitn(3, '-');
    let (year, month, day): (i64, i64, i64) =
        (parts.next()?.parse().ok()?, parts.next()?.parse().ok()?, parts.next()?.parse().ok()?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm), the inverse of `civil_from_days`.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    // 2026-02-31 would land in March: only dates that read back the same are real.
    (date_of_day(days) == format!("{year:04}-{month:02}-{day:02}")).then_some(days * DAY_MS)
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
        assert_eq!(millis_of_date("2026-11-22"), Some(20_779 * DAY_MS));
        assert_eq!(millis_of_date("2000-02-29"), Some(11_016 * DAY_MS));
        assert_eq!(millis_of_date("1970-01-01"), Some(0));
        assert_eq!(millis_of_date("2026-02-31"), None);
        assert_eq!(millis_of_date("2026-13-01"), None);
        assert_eq!(millis_of_date("yesterday"), None);
    }
}
