//! IANA time zones, as call hours need them: whether a zone name exists, and the wall-clock
//! date and time in a zone at an instant.
//!
//! Two sources of the tz database, one behaviour: natively (the server, the CLI, the tests) it
//! is chrono-tz's compiled copy; in the browser it is the browser's own, through
//! `Intl.DateTimeFormat`. The browser already carries the database, and chrono-tz's tables were
//! most of the settings page's WASM (about 1 MB raw). The server checks everything again with
//! chrono-tz before anything is saved or sent to Meta, so a browser with an older database can
//! at worst show a stale hint, never store a wrong setting.

use chrono::NaiveDate;

/// The wall clock somewhere at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalTime {
    pub date: NaiveDate,
    /// Minutes after local midnight, 0..1440.
    pub minute_of_day: u32,
    /// 0 = Monday … 6 = Sunday.
    pub weekday_from_monday: u32,
}

/// A time zone known to the tz database (see [`TimeZone::parse`]).
#[derive(Clone, Debug)]
pub struct TimeZone(imp::Zone);

impl TimeZone {
    /// The zone called `id` (`"Europe/Berlin"`, `"UTC"`), or `None` when there is no such zone.
    pub fn parse(id: &str) -> Option<Self> {
        imp::Zone::parse(id).map(Self)
    }

    pub fn utc() -> Self {
        Self::parse("UTC").expect("every tz database has UTC")
    }

    /// The local date and time at `at` (unix milliseconds); `None` outside chrono's range.
    pub fn local_time(&self, at: i64) -> Option<LocalTime> {
        self.0.local_time(at)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use std::str::FromStr;

    use chrono::{DateTime, Datelike, Timelike};

    use super::LocalTime;

    #[derive(Clone, Debug)]
    pub struct Zone(chrono_tz::Tz);

    impl Zone {
        pub fn parse(id: &str) -> Option<Self> {
            chrono_tz::Tz::from_str(id).ok().map(Self)
        }

        pub fn local_time(&self, at: i64) -> Option<LocalTime> {
            let local = DateTime::from_timestamp_millis(at)?.with_timezone(&self.0);
            Some(LocalTime {
                date: local.date_naive(),
                minute_of_day: local.hour() * 60 + local.minute(),
                weekday_from_monday: local.weekday().num_days_from_monday(),
            })
        }
    }
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use chrono::NaiveDate;
    use js_sys::{Array, Date, Function, Intl, Object, Reflect};
    use wasm_bindgen::{JsCast, JsValue};

    use super::LocalTime;

    /// An `Intl.DateTimeFormat` for the zone that writes every field as a number (and the
    /// weekday in English), so its parts can be read back.
    #[derive(Clone, Debug)]
    pub struct Zone(Intl::DateTimeFormat);

    impl Zone {
        pub fn parse(id: &str) -> Option<Self> {
            let options = Object::new();
            let fields = [
                ("timeZone", id),
                ("hourCycle", "h23"),
                ("year", "numeric"),
                ("month", "numeric"),
                ("day", "numeric"),
                ("hour", "numeric"),
                ("minute", "numeric"),
                ("weekday", "short"),
            ];
            for (key, value) in fields {
                Reflect::set(&options, &key.into(), &value.into()).ok()?;
            }
            // Built through `Reflect::construct`: the constructor throws a RangeError for an
            // unknown zone, and js-sys' stable `DateTimeFormat::new` cannot catch it.
            let intl = Reflect::get(&js_sys::global(), &"Intl".into()).ok()?;
            let constructor: Function =
                Reflect::get(&intl, &"DateTimeFormat".into()).ok()?.dyn_into().ok()?;
            let arguments = Array::of2(&Array::of1(&"en-US".into()), &options);
            let format = Reflect::construct(&constructor, &arguments).ok()?;
            Some(Self(format.unchecked_into()))
        }

        pub fn local_time(&self, at: i64) -> Option<LocalTime> {
            let parts = self.0.format_to_parts(&Date::new(&JsValue::from_f64(at as f64)));
            let (mut year, mut month, mut day, mut hour, mut minute, mut weekday) =
                (None, None, None, None, None, None);
            for part in parts.iter() {
                let kind = Reflect::get(&part, &"type".into()).ok()?.as_string()?;
                let value = Reflect::get(&part, &"value".into()).ok()?.as_string()?;
                match kind.as_str() {
                    "year" => year = value.parse::<i32>().ok(),
                    "month" => month = value.parse::<u32>().ok(),
                    "day" => day = value.parse::<u32>().ok(),
                    "hour" => hour = value.parse::<u32>().ok(),
                    "minute" => minute = value.parse::<u32>().ok(),
                    "weekday" => {
                        weekday = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
                            .iter()
                            .position(|name| *name == value)
                            .map(|index| index as u32)
                    }
                    _ => {}
                }
            }
            Some(LocalTime {
                date: NaiveDate::from_ymd_opt(year?, month?, day?)?,
                // Some engines still write midnight as 24 despite `h23`.
                minute_of_day: (hour? % 24) * 60 + minute?,
                weekday_from_monday: weekday?,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_real_zones_only() {
        assert!(TimeZone::parse("America/Sao_Paulo").is_some());
        assert!(TimeZone::parse("UTC").is_some());
        assert!(TimeZone::parse("Mars/Olympus_Mons").is_none());
        assert!(TimeZone::parse("").is_none());
    }

    #[test]
    fn local_time_follows_the_zone() {
        // 2026-03-02 02:30 UTC, a Monday: still Sunday evening in São Paulo (UTC−3).
        let at = 1_772_418_600_000;
        let utc = TimeZone::utc().local_time(at).unwrap();
        assert_eq!(utc.date, NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
        assert_eq!((utc.minute_of_day, utc.weekday_from_monday), (2 * 60 + 30, 0));
        let sao_paulo = TimeZone::parse("America/Sao_Paulo").unwrap().local_time(at).unwrap();
        assert_eq!(sao_paulo.date, NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
        assert_eq!((sao_paulo.minute_of_day, sao_paulo.weekday_from_monday), (23 * 60 + 30, 6));
    }
}
