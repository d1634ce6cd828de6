//! Call settings of a business number: types, Meta's validation rules, wire shapes, drift.
//!
//! Owns [`CallingSettings`] (the `calling` object of `POST|GET /{PHONE_NUMBER_ID}/settings`,
//! reference §5), its validation ([`CallingSettings::problems`] / [`CallingSettings::validate`],
//! with field paths such as `call_hours.weekly_operating_hours[2].close_time`), the POST body
//! ([`CallingSettings::post_body`]), parsing of the GET response
//! ([`CallingSettings::from_get_response`]), whether call hours are open at an instant
//! ([`CallHours::is_open_at`]) and [`drift`] between what we want and what Meta has.
//!
//! Plain types with no IO, available without the `server` feature so the browser validates
//! the settings form with the same rules.

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::Quoted;
use crate::time_zone::TimeZone;
use crate::{Error, Result};

/// Most holidays Meta accepts in `holiday_schedule`.
pub const MAX_HOLIDAYS: usize = 20;
/// Most opening slots per day of the week.
pub const MAX_SLOTS_PER_DAY: usize = 2;
/// Longest key or value in a SIP server's `request_uri_user_params`.
pub const MAX_SIP_PARAM_LENGTH: usize = 128;
/// Meta's default SIP port (TLS).
pub const DEFAULT_SIP_PORT: u16 = 5061;

/// An enum Meta spells in upper case, with a catch-all so a value Meta adds later is kept
/// (and reported by validation) instead of failing the whole settings response.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$variant_meta:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)+
            /// A value this version does not know, as Meta spelled it.
            Other(String),
        }

        impl $name {
            /// Meta's spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)+
                    $name::Other(raw) => raw,
                }
            }

            /// Parses Meta's spelling in any casing.
            pub fn parse(raw: &str) -> Self {
                let upper = raw.trim().to_ascii_uppercase();
                match upper.as_str() {
                    $($wire => $name::$variant,)+
                    _ => $name::Other(raw.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
                Ok($name::parse(&String::deserialize(deserializer)?))
            }
        }

        // A string naming Meta's known values; not an enum, since a value Meta adds later is
        // kept and echoed rather than refused.
        #[cfg(feature = "server")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some(concat!("Meta's spelling, one of:", $(" ", $wire),+)))
                    .examples([$($wire),+])
                    .into()
            }
        }

        #[cfg(feature = "server")]
        impl utoipa::ToSchema for $name {}
    };
}

wire_enum!(
    /// `ENABLED` / `DISABLED`; GET also says `NOT_SET` before the first change (§5.1).
    Toggle {
        Enabled => "ENABLED",
        Disabled => "DISABLED",
        /// GET only: never set on this number.
        NotSet => "NOT_SET",
    }
);

wire_enum!(
    /// Where WhatsApp shows the call icon (§5.2).
    CallIconVisibility {
        /// Icon in the chat bar and business info.
        Default => "DEFAULT",
        /// Icon hidden and external entry points disabled; call buttons still work.
        DisableAll => "DISABLE_ALL",
        /// Named only in Meta's FAQ; read from GET, never sent.
        HideInChat => "HIDE_IN_CHAT",
        NotSet => "NOT_SET",
    }
);

wire_enum!(
    /// `call_hours.weekly_operating_hours[].day_of_week`.
    DayOfWeek {
        Monday => "MONDAY",
        Tuesday => "TUESDAY",
        Wednesday => "WEDNESDAY",
        Thursday => "THURSDAY",
        Friday => "FRIDAY",
        Saturday => "SATURDAY",
        Sunday => "SUNDAY",
    }
);

wire_enum!(
    /// `srtp_key_exchange_protocol`: only `SDES` is documented; the default is DTLS, whose
    /// exact spelling Meta does not document (§5.2, §12.4).
    SrtpKeyExchange {
        Sdes => "SDES",
        Dtls => "DTLS",
    }
);

wire_enum!(
    /// `audio.additional_codecs[]`: G.711 on top of the always-on Opus.
    AudioCodec {
        Pcma => "PCMA",
        Pcmu => "PCMU",
    }
);

impl DayOfWeek {
    /// Monday = 0 … Sunday = 6; `None` for an unknown day.
    pub fn index(&self) -> Option<u32> {
        match self {
            DayOfWeek::Monday => Some(0),
            DayOfWeek::Tuesday => Some(1),
            DayOfWeek::Wednesday => Some(2),
            DayOfWeek::Thursday => Some(3),
            DayOfWeek::Friday => Some(4),
            DayOfWeek::Saturday => Some(5),
            DayOfWeek::Sunday => Some(6),
            DayOfWeek::Other(_) => None,
        }
    }
}

/// The `calling` object. Every field is optional: on POST an absent field is left as it is
/// at Meta (except inside `call_hours`, which is replaced whole); on GET absent means unset.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct CallingSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Toggle>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_icon_visibility: Option<CallIconVisibility>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_icons: Option<CallIcons>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_hours: Option<CallHours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_permission_status: Option<Toggle>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip: Option<SipSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub srtp_key_exchange_protocol: Option<SrtpKeyExchange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<AudioSettings>,
    /// GET only: active restrictions (e.g. a 7-day pause for low quality).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restrictions: Option<Restrictions>,
    /// Fields this version does not know (GET); never sent back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `call_icons`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct CallIcons {
    /// ISO 3166 alpha-2 codes of the users' phone-number countries that see the icon; empty
    /// means everyone.
    #[serde(default)]
    pub restrict_to_user_countries: Vec<String>,
}

/// `call_hours`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct CallHours {
    /// `DISABLED` means open around the clock. A GET without it reads as `NOT_SET`.
    #[serde(default = "not_set")]
    pub status: Toggle,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone_id: Option<String>,
    #[serde(default)]
    pub weekly_operating_hours: Vec<WeeklyHours>,
    /// Always sent (possibly empty): Meta deletes the schedule when it is omitted, so being
    /// explicit avoids surprises either way.
    #[serde(default)]
    pub holiday_schedule: Vec<Holiday>,
}

/// One opening slot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct WeeklyHours {
    pub day_of_week: DayOfWeek,
    /// `"HHMM"`, 24-hour.
    pub open_time: String,
    pub close_time: String,
}

/// One closed (or special-hours) day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Holiday {
    /// `"YYYY-MM-DD"`, not in the past.
    pub date: String,
    pub start_time: String,
    pub end_time: String,
}

/// `sip`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct SipSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Toggle>,
    /// `[]` deletes this app's servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers: Option<Vec<SipServer>>,
}

/// One SIP server.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct SipServer {
    pub hostname: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_uri_user_params: Option<BTreeMap<String, String>>,
    /// GET with `include_sip_credentials=true` only; never sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip_user_password: Option<String>,
    /// GET only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
}

/// `audio`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct AudioSettings {
    #[serde(default)]
    pub additional_codecs: Vec<AudioCodec>,
}

/// `restrictions` (GET only).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Restrictions {
    #[serde(default)]
    pub restrictions_list: Vec<Restriction>,
}

/// One restriction, e.g. `RESTRICTED_BUSINESS_INITIATED_CALLING` until `expiration`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Restriction {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub reason: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub expiration: Option<i64>,
}

/// One broken rule: the field path and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct SettingsProblem {
    pub field: String,
    pub message: String,
}

/// A field where what we want differs from what Meta has.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct SettingsDrift {
    pub field: String,
    pub local: Value,
    pub remote: Value,
}

impl CallingSettings {
    /// Reads the `calling` object of a GET `/settings` response (`{"calling": {…}, …}`), or a
    /// bare `calling` object (as in the `account_settings_update` webhook).
    pub fn from_get_response(response: &Value) -> Result<Self> {
        let calling = response.get("calling").unwrap_or(response);
        if !calling.is_object() {
            return Err(Error::validation("calling", "the settings response has no calling object"));
        }
        CallingSettings::deserialize(calling)
            .map_err(|err| Error::validation("calling", format!("unexpected calling settings: {err}")))
    }

    /// Every broken rule, in field order. `now` (unix ms) decides which holidays are in the
    /// past, on the calendar of the call hours' own time zone.
    pub fn problems(&self, now: i64) -> Vec<SettingsProblem> {
        let mut problems = Problems::default();
        if let Some(status) = &self.status {
            problems.check_toggle("status", status);
        }
        if let Some(visibility) = &self.call_icon_visibility
            && !matches!(visibility, CallIconVisibility::Default | CallIconVisibility::DisableAll)
        {
            problems.add("call_icon_visibility", format!("must be DEFAULT or DISABLE_ALL, not {visibility}"));
        }
        if let Some(icons) = &self.call_icons {
            check_countries(&icons.restrict_to_user_countries, &mut problems);
        }
        if let Some(hours) = &self.call_hours {
            hours.check(now, &mut problems);
        }
        if let Some(status) = &self.callback_permission_status {
            problems.check_toggle("callback_permission_status", status);
        }
        if let Some(sip) = &self.sip {
            check_sip(sip, &mut problems);
        }
        if let Some(SrtpKeyExchange::Other(raw)) = &self.srtp_key_exchange_protocol {
            problems.add("srtp_key_exchange_protocol", format!("must be SDES or DTLS, not {raw}"));
        }
        if let Some(audio) = &self.audio {
            let mut seen = Vec::new();
            for (index, codec) in audio.additional_codecs.iter().enumerate() {
                let field = format!("audio.additional_codecs[{index}]");
                if let AudioCodec::Other(raw) = codec {
                    problems.add(&field, format!("must be PCMA or PCMU, not {raw}"));
                } else if seen.contains(codec) {
                    problems.add(&field, format!("{codec} is listed twice"));
                }
                seen.push(codec.clone());
            }
        }
        problems.0
    }

    /// The first broken rule as a validation error naming its field path.
    pub fn validate(&self, now: i64) -> Result<()> {
        match self.problems(now).into_iter().next() {
            Some(problem) => Err(Error::validation(problem.field, problem.message)),
            None => Ok(()),
        }
    }

    /// The body of `POST /{PHONE_NUMBER_ID}/settings`: `{"calling": {…}}` with only the
    /// fields set here, and without what GET adds (restrictions, SIP passwords, app ids,
    /// unknown fields).
    pub fn post_body(&self) -> Value {
        let mut writable = self.clone();
        writable.restrictions = None;
        writable.extra.clear();
        if let Some(servers) = writable.sip.as_mut().and_then(|sip| sip.servers.as_mut()) {
            for server in servers {
                server.sip_user_password = None;
                server.app_id = None;
            }
        }
        serde_json::json!({ "calling": writable })
    }
}

impl CallHours {
    fn check(&self, now: i64, problems: &mut Problems) {
        problems.check_toggle("call_hours.status", &self.status);
        let enabled = self.status == Toggle::Enabled;
        let timezone = match self.timezone_id.as_deref() {
            Some(id) => match TimeZone::parse(id) {
                Some(timezone) => Some(timezone),
                None => {
                    problems.add(
                        "call_hours.timezone_id",
                        format!("{id} is not an IANA time zone", id = Quoted(id)),
                    );
                    None
                }
            },
            None => {
                if enabled {
                    problems.add("call_hours.timezone_id", "is required when call hours are enabled");
                }
                None
            }
        };
        if enabled && self.weekly_operating_hours.is_empty() {
            problems.add("call_hours.weekly_operating_hours", "must list at least one opening slot");
        }
        let mut slots_by_day: BTreeMap<u32, Vec<(usize, u32, u32)>> = BTreeMap::new();
        for (index, slot) in self.weekly_operating_hours.iter().enumerate() {
            let path = format!("call_hours.weekly_operating_hours[{index}]");
            if let DayOfWeek::Other(raw) = &slot.day_of_week {
                problems.add(
                    format!("{path}.day_of_week"),
                    format!("must be MONDAY … SUNDAY, not {raw}", raw = Quoted(raw)),
                );
            }
            let open = problems.check_time(&format!("{path}.open_time"), &slot.open_time);
            let close = problems.check_time(&format!("{path}.close_time"), &slot.close_time);
            if let (Some(open), Some(close)) = (open, close) {
                if open >= close {
                    problems.add(format!("{path}.close_time"), "must be after open_time");
                } else if let Some(day) = slot.day_of_week.index() {
                    slots_by_day.entry(day).or_default().push((index, open, close));
                }
            }
        }
        for slots in slots_by_day.values_mut() {
            if slots.len() > MAX_SLOTS_PER_DAY {
                let (index, ..) = slots[MAX_SLOTS_PER_DAY];
                problems.add(
                    format!("call_hours.weekly_operating_hours[{index}]"),
                    format!("at most {MAX_SLOTS_PER_DAY} slots per day"),
                );
            }
            slots.sort_by_key(|(_, open, _)| *open);
            for pair in slots.windows(2) {
                let ((_, _, earlier_close), (later_index, later_open, _)) = (pair[0], pair[1]);
                if later_open < earlier_close {
                    problems.add(
                        format!("call_hours.weekly_operating_hours[{later_index}].open_time"),
                        "overlaps another slot of the same day",
                    );
                }
            }
        }
        if self.holiday_schedule.len() > MAX_HOLIDAYS {
            problems.add("call_hours.holiday_schedule", format!("at most {MAX_HOLIDAYS} holidays"));
        }
        let today = timezone.as_ref().map(|timezone| local_date(now, timezone));
        for (index, holiday) in self.holiday_schedule.iter().enumerate() {
            let path = format!("call_hours.holiday_schedule[{index}]");
            match parse_date(&holiday.date) {
                Some(date) => {
                    // Without a valid zone, UTC's today is the best guess at "the past".
                    let today = today.unwrap_or_else(|| local_date(now, &TimeZone::utc()));
                    if date < today {
                        problems.add(format!("{path}.date"), format!("{} is in the past", holiday.date));
                    }
                }
                None => problems.add(
                    format!("{path}.date"),
                    format!("{} is not a YYYY-MM-DD date", Quoted(&holiday.date)),
                ),
            }
            let start = problems.check_time(&format!("{path}.start_time"), &holiday.start_time);
            let end = problems.check_time(&format!("{path}.end_time"), &holiday.end_time);
            if let (Some(start), Some(end)) = (start, end)
                && start >= end
            {
                problems.add(format!("{path}.end_time"), "must be after start_time");
            }
        }
    }

    /// Whether calls are welcome at `at` (unix ms): always when call hours are disabled;
    /// otherwise inside a weekly slot of the zone's local day and not inside a holiday. A
    /// holiday's times are when the business is *closed* that day; slots are half-open
    /// `[open, close)` minutes.
    pub fn is_open_at(&self, at: i64) -> bool {
        if self.status != Toggle::Enabled {
            return true;
        }
        let Some(timezone) = self.timezone_id.as_deref().and_then(TimeZone::parse) else {
            // Meta would have refused such settings; do not turn callers away on our bug.
            return true;
        };
        let Some(local) = timezone.local_time(at) else {
            return true;
        };
        let (minute, date) = (local.minute_of_day, local.date);
        let on_holiday = self.holiday_schedule.iter().any(|holiday| {
            parse_date(&holiday.date) == Some(date)
                && matches!(
                    (parse_time(&holiday.start_time), parse_time(&holiday.end_time)),
                    (Some(start), Some(end)) if (start..=end).contains(&minute)
                )
        });
        if on_holiday {
            return false;
        }
        let weekday = local.weekday_from_monday;
        self.weekly_operating_hours.iter().any(|slot| {
            slot.day_of_week.index() == Some(weekday)
                && matches!(
                    (parse_time(&slot.open_time), parse_time(&slot.close_time)),
                    (Some(open), Some(close)) if (open..close).contains(&minute)
                )
        })
    }
}

fn local_date(now: i64, timezone: &TimeZone) -> NaiveDate {
    timezone.local_time(now).map_or(NaiveDate::MIN, |local| local.date)
}

/// `"HHMM"` to minutes after midnight.
fn parse_time(raw: &str) -> Option<u32> {
    if raw.len() != 4 || !raw.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let hours: u32 = raw[..2].parse().ok()?;
    let minutes: u32 = raw[2..].parse().ok()?;
    (hours < 24 && minutes < 60).then_some(hours * 60 + minutes)
}

/// `"YYYY-MM-DD"`, a real calendar date.
fn parse_date(raw: &str) -> Option<NaiveDate> {
    let (year, month, day) = crate::dates::parse_ymd(raw)?;
    NaiveDate::from_ymd_opt(year, month, day)
}

fn check_countries(countries: &[String], problems: &mut Problems) {
    for (index, country) in countries.iter().enumerate() {
        let field = format!("call_icons.restrict_to_user_countries[{index}]");
        let well_formed = country.len() == 2 && country.bytes().all(|byte| byte.is_ascii_uppercase());
        if !well_formed || !crate::phone::is_country(country) {
            problems.add(
                &field,
                format!("{country} is not an ISO 3166 alpha-2 country code", country = Quoted(country)),
            );
        } else if countries[..index].contains(country) {
            problems.add(&field, format!("{country} is listed twice"));
        }
    }
}

fn check_sip(sip: &SipSettings, problems: &mut Problems) {
    if let Some(status) = &sip.status {
        problems.check_toggle("sip.status", status);
    }
    let Some(servers) = &sip.servers else {
        return;
    };
    if servers.len() > 1 {
        problems.add("sip.servers", "Meta uses only one SIP server per number; list one");
    }
    for (index, server) in servers.iter().enumerate() {
        let path = format!("sip.servers[{index}]");
        if !is_hostname(&server.hostname) {
            problems
                .add(format!("{path}.hostname"), format!("{} is not a host name", Quoted(&server.hostname)));
        }
        if server.port == Some(0) {
            problems.add(format!("{path}.port"), "must be between 1 and 65535");
        }
        for (key, value) in server.request_uri_user_params.iter().flatten() {
            let field = format!("{path}.request_uri_user_params.{key}");
            if key.is_empty() || key.chars().count() > MAX_SIP_PARAM_LENGTH {
                problems.add(&field, format!("keys must be 1 to {MAX_SIP_PARAM_LENGTH} characters"));
            }
            if value.chars().count() > MAX_SIP_PARAM_LENGTH {
                problems.add(&field, format!("values must be at most {MAX_SIP_PARAM_LENGTH} characters"));
            }
        }
    }
}

fn is_hostname(raw: &str) -> bool {
    !raw.is_empty()
        && raw.len() <= 253
        && raw.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
        })
}

/// Collects problems in the order rules run.
#[derive(Default)]
struct Problems(Vec<SettingsProblem>);

impl Problems {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(SettingsProblem { field: field.into(), message: message.into() });
    }

    /// POST only takes ENABLED or DISABLED; NOT_SET is what GET says before any change.
    fn check_toggle(&mut self, field: &str, toggle: &Toggle) {
        if !matches!(toggle, Toggle::Enabled | Toggle::Disabled) {
            self.add(field, format!("must be ENABLED or DISABLED, not {toggle}"));
        }
    }

    fn check_time(&mut self, field: &str, raw: &str) -> Option<u32> {
        let minutes = parse_time(raw);
        if minutes.is_none() {
            self.add(field, format!("{raw} is not a 24-hour HHMM time", raw = Quoted(raw)));
        }
        minutes
    }
}

/// Where `remote` (Meta's GET) differs from `local` (what we want). Only fields `local` sets
/// are compared: an unset local field means "whatever Meta has". Lists whose order carries no
/// meaning (countries, slots, holidays, codecs) are compared as sets; SIP passwords and app
/// ids, which only GET returns, are ignored.
pub fn drift(local: &CallingSettings, remote: &CallingSettings) -> Vec<SettingsDrift> {
    let mut drifts = Vec::new();
    let mut compare = |field: &str, local: Option<Value>, remote: Option<Value>| {
        if let Some(local) = local {
            let remote = remote.unwrap_or(Value::Null);
            if local != remote {
                drifts.push(SettingsDrift { field: field.to_owned(), local, remote });
            }
        }
    };
    compare("status", local.status.as_ref().map(to_json), remote.status.as_ref().map(to_json));
    compare(
        "call_icon_visibility",
        local.call_icon_visibility.as_ref().map(to_json),
        remote.call_icon_visibility.as_ref().map(to_json),
    );
    let countries = |icons: &CallIcons| {
        let mut countries: Vec<String> =
            icons.restrict_to_user_countries.iter().map(|country| country.to_ascii_uppercase()).collect();
        countries.sort();
        countries.dedup();
        Value::from(countries)
    };
    compare(
        "call_icons.restrict_to_user_countries",
        local.call_icons.as_ref().map(countries),
        Some(remote.call_icons.as_ref().map(countries).unwrap_or_else(|| Value::Array(Vec::new()))),
    );
    if let Some(local_hours) = &local.call_hours {
        let remote_hours = remote.call_hours.as_ref();
        compare(
            "call_hours.status",
            Some(to_json(&local_hours.status)),
            remote_hours.map(|hours| to_json(&hours.status)),
        );
        compare(
            "call_hours.timezone_id",
            local_hours.timezone_id.clone().map(Value::from),
            remote_hours.and_then(|hours| hours.timezone_id.clone()).map(Value::from),
        );
        let weekly = |hours: &CallHours| {
            let mut slots: Vec<(Option<u32>, String, String, String)> = hours
                .weekly_operating_hours
                .iter()
                .map(|slot| {
                    (
                        slot.day_of_week.index(),
                        slot.day_of_week.to_string(),
                        slot.open_time.clone(),
                        slot.close_time.clone(),
                    )
                })
                .collect();
            slots.sort();
            Value::from(
                slots
                    .into_iter()
                    .map(|(_, day, open, close)| serde_json::json!({ "day_of_week": day, "open_time": open, "close_time": close }))
                    .collect::<Vec<_>>(),
            )
        };
        compare(
            "call_hours.weekly_operating_hours",
            Some(weekly(local_hours)),
            Some(remote_hours.map(weekly).unwrap_or_else(|| Value::Array(Vec::new()))),
        );
        let holidays = |hours: &CallHours| {
            let mut days: Vec<&Holiday> = hours.holiday_schedule.iter().collect();
            days.sort_by(|a, b| {
                (&a.date, &a.start_time, &a.end_time).cmp(&(&b.date, &b.start_time, &b.end_time))
            });
            serde_json::to_value(days).unwrap_or(Value::Null)
        };
        compare(
            "call_hours.holiday_schedule",
            Some(holidays(local_hours)),
            Some(remote_hours.map(holidays).unwrap_or_else(|| Value::Array(Vec::new()))),
        );
    }
    compare(
        "callback_permission_status",
        local.callback_permission_status.as_ref().map(to_json),
        remote.callback_permission_status.as_ref().map(to_json),
    );
    if let Some(local_sip) = &local.sip {
        let remote_sip = remote.sip.as_ref();
        compare(
            "sip.status",
            local_sip.status.as_ref().map(to_json),
            remote_sip.and_then(|sip| sip.status.as_ref()).map(to_json),
        );
        let servers = |servers: &Vec<SipServer>| {
            let mut normalised: Vec<Value> = servers
                .iter()
                .map(|server| {
                    serde_json::json!({
                        "hostname": server.hostname.to_ascii_lowercase(),
                        "port": server.port.unwrap_or(DEFAULT_SIP_PORT),
                        "request_uri_user_params": server.request_uri_user_params.clone().unwrap_or_default(),
                    })
                })
                .collect();
            normalised.sort_by_key(|server| server.to_string());
            Value::from(normalised)
        };
        compare(
            "sip.servers",
            local_sip.servers.as_ref().map(servers),
            Some(
                remote_sip
                    .and_then(|sip| sip.servers.as_ref())
                    .map(servers)
                    .unwrap_or_else(|| Value::Array(Vec::new())),
            ),
        );
    }
    compare(
        "srtp_key_exchange_protocol",
        local.srtp_key_exchange_protocol.as_ref().map(to_json),
        remote.srtp_key_exchange_protocol.as_ref().map(to_json),
    );
    let codecs = |audio: &AudioSettings| {
        let mut codecs: Vec<String> = audio.additional_codecs.iter().map(|codec| codec.to_string()).collect();
        codecs.sort();
        codecs.dedup();
        Value::from(codecs)
    };
    compare(
        "audio.additional_codecs",
        local.audio.as_ref().map(codecs),
        Some(remote.audio.as_ref().map(codecs).unwrap_or_else(|| Value::Array(Vec::new()))),
    );
    drifts
}

fn not_set() -> Toggle {
    Toggle::NotSet
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Weekly hours written the short way (the CLI's `--hours`):
/// `{"mon":["09:00","18:00"], "sat":[["09:00","12:00"],["14:00","16:00"]]}` — day keys `mon`…`sun`
/// or full English names in any case, times `HH:MM` or `HHMM`, one range or a list of ranges a
/// day. Only the shape is checked here; Meta's rules (at most two ranges a day, no overlaps …)
/// are checked with the rest of the settings.
pub fn weekly_hours_from_shorthand(raw: &str) -> Result<Vec<WeeklyHours>> {
    let invalid = |message: String| Error::validation("hours", message);
    let days: Map<String, Value> = serde_json::from_str(raw)
        .map_err(|_| invalid(r#"expected a JSON object like {"mon":["09:00","18:00"]}"#.into()))?;
    let mut hours = Vec::new();
    for (key, ranges) in &days {
        let day = match key.trim().to_ascii_lowercase().as_str() {
            "mon" | "monday" => DayOfWeek::Monday,
            "tue" | "tuesday" => DayOfWeek::Tuesday,
            "wed" | "wednesday" => DayOfWeek::Wednesday,
            "thu" | "thursday" => DayOfWeek::Thursday,
            "fri" | "friday" => DayOfWeek::Friday,
            "sat" | "saturday" => DayOfWeek::Saturday,
            "sun" | "sunday" => DayOfWeek::Sunday,
            _ => return Err(invalid(format!("{key} is not a day (mon … sun)", key = Quoted(key)))),
        };
        let ranges: Vec<Vec<String>> = match serde_json::from_value::<Vec<String>>(ranges.clone()) {
            Ok(one) => vec![one],
            Err(_) => serde_json::from_value(ranges.clone())
                .map_err(|_| invalid(format!("{key}: expected [\"09:00\",\"18:00\"] or a list of them")))?,
        };
        for range in ranges {
            let [open, close] = range.as_slice() else {
                return Err(invalid(format!("{key}: a range is [open, close]")));
            };
            let time = |raw: &str| {
                let digits: String = raw.trim().chars().filter(|c| *c != ':').collect();
                let valid = digits.len() == 4
                    && digits.chars().all(|c| c.is_ascii_digit())
                    && digits[..2] <= *"23"
                    && digits[2..] <= *"59";
                valid
                    .then_some(digits)
                    .ok_or_else(|| invalid(format!("{key}: {raw} is not a time (HH:MM)", raw = Quoted(raw))))
            };
            hours.push(WeeklyHours {
                day_of_week: day.clone(),
                open_time: time(open)?,
                close_time: time(close)?,
            });
        }
    }
    hours.sort_by_key(|slot| (slot.day_of_week.index(), slot.open_time.clone()));
    Ok(hours)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// 2026-11-22T04:00:00Z, a Sunday.
    const NOW: i64 = 1_795_320_000_000;

    fn slot(day: DayOfWeek, open: &str, close: &str) -> WeeklyHours {
        WeeklyHours { day_of_week: day, open_time: open.to_owned(), close_time: close.to_owned() }
    }

    fn holiday(date: &str, start: &str, end: &str) -> Holiday {
        Holiday { date: date.to_owned(), start_time: start.to_owned(), end_time: end.to_owned() }
    }

    fn office_hours() -> CallHours {
        CallHours {
            status: Toggle::Enabled,
            timezone_id: Some("America/Manaus".to_owned()),
            weekly_operating_hours: vec![
                slot(DayOfWeek::Monday, "0900", "1200"),
                slot(DayOfWeek::Monday, "1300", "1800"),
                slot(DayOfWeek::Tuesday, "0900", "1800"),
            ],
            holiday_schedule: vec![holiday("2026-12-25", "0000", "2359")],
        }
    }

    fn full() -> CallingSettings {
        CallingSettings {
            status: Some(Toggle::Enabled),
            call_icon_visibility: Some(CallIconVisibility::Default),
            call_icons: Some(CallIcons { restrict_to_user_countries: vec!["US".into(), "BR".into()] }),
            call_hours: Some(office_hours()),
            callback_permission_status: Some(Toggle::Enabled),
            sip: None,
            srtp_key_exchange_protocol: None,
            audio: Some(AudioSettings { additional_codecs: vec![AudioCodec::Pcma] }),
            restrictions: None,
            extra: Map::new(),
        }
    }

    fn fields(settings: &CallingSettings) -> Vec<String> {
        settings.problems(NOW).into_iter().map(|problem| problem.field).collect()
    }

    #[test]
    fn valid_settings_pass() {
        assert_eq!(full().problems(NOW), vec![]);
        assert!(full().validate(NOW).is_ok());
        assert!(CallingSettings::default().validate(NOW).is_ok());
    }

    #[test]
    fn post_body_has_meta_shape() {
        let body = full().post_body();
        assert_eq!(
            body,
            json!({ "calling": {
                "status": "ENABLED",
                "call_icon_visibility": "DEFAULT",
                "call_icons": { "restrict_to_user_countries": ["US", "BR"] },
                "call_hours": {
                    "status": "ENABLED",
                    "timezone_id": "America/Manaus",
                    "weekly_operating_hours": [
                        { "day_of_week": "MONDAY", "open_time": "0900", "close_time": "1200" },
                        { "day_of_week": "MONDAY", "open_time": "1300", "close_time": "1800" },
                        { "day_of_week": "TUESDAY", "open_time": "0900", "close_time": "1800" }
                    ],
                    "holiday_schedule": [{ "date": "2026-12-25", "start_time": "0000", "end_time": "2359" }]
                },
                "callback_permission_status": "ENABLED",
                "audio": { "additional_codecs": ["PCMA"] }
            }})
        );
    }

    #[test]
    fn post_body_of_a_single_change_sends_only_that_field() {
        let settings = CallingSettings { status: Some(Toggle::Enabled), ..CallingSettings::default() };
        assert_eq!(settings.post_body(), json!({ "calling": { "status": "ENABLED" } }));
    }

    #[test]
    fn post_body_drops_get_only_fields() {
        let response = json!({ "calling": {
            "status": "ENABLED",
            "sip": { "status": "ENABLED", "servers": [{ "hostname": "sip.example.com", "port": 5061, "sip_user_password": "secret", "app_id": "123" }] },
            "restrictions": { "restrictions_list": [{ "type": "RESTRICTED_BUSINESS_INITIATED_CALLING", "reason": "quality", "expiration": 1754072386 }] },
            "something_new": 1
        }, "other_setting": true });
        let settings = CallingSettings::from_get_response(&response).unwrap();
        assert_eq!(
            settings.restrictions.as_ref().unwrap().restrictions_list[0].expiration,
            Some(1_754_072_386)
        );
        assert_eq!(settings.extra.get("something_new"), Some(&json!(1)));
        assert_eq!(
            settings.post_body(),
            json!({ "calling": { "status": "ENABLED", "sip": { "status": "ENABLED", "servers": [{ "hostname": "sip.example.com", "port": 5061 }] } } })
        );
    }

    #[test]
    fn parses_get_with_not_set_and_unknown_values() {
        let response = json!({ "calling": { "status": "ENABLED", "call_icon_visibility": "NOT_SET", "callback_permission_status": "NOT_SET", "srtp_key_exchange_protocol": "DTLS-SRTP" } });
        let settings = CallingSettings::from_get_response(&response).unwrap();
        assert_eq!(settings.call_icon_visibility, Some(CallIconVisibility::NotSet));
        assert_eq!(settings.callback_permission_status, Some(Toggle::NotSet));
        assert_eq!(settings.srtp_key_exchange_protocol, Some(SrtpKeyExchange::Other("DTLS-SRTP".into())));
        assert_eq!(
            CallingSettings::from_get_response(&json!({ "status": "disabled" })).unwrap().status,
            Some(Toggle::Disabled)
        );
        assert!(CallingSettings::from_get_response(&json!("nope")).is_err());
        let hours = CallingSettings::from_get_response(
            &json!({ "calling": { "call_hours": { "timezone_id": "UTC" } } }),
        )
        .unwrap();
        assert_eq!(hours.call_hours.unwrap().status, Toggle::NotSet);
    }

    #[test]
    fn toggles_must_be_enabled_or_disabled() {
        let settings = CallingSettings {
            status: Some(Toggle::NotSet),
            callback_permission_status: Some(Toggle::Other("MAYBE".into())),
            call_icon_visibility: Some(CallIconVisibility::HideInChat),
            ..CallingSettings::default()
        };
        assert_eq!(fields(&settings), vec!["status", "call_icon_visibility", "callback_permission_status"]);
        let error = settings.validate(NOW).unwrap_err();
        assert_eq!(error.details(), Some(json!({ "field": "status" })));
    }

    #[test]
    fn countries_must_be_iso_alpha_2_without_repeats() {
        let settings = CallingSettings {
            call_icons: Some(CallIcons {
                restrict_to_user_countries: vec![
                    "US".into(),
                    "us".into(),
                    "XX".into(),
                    "USA".into(),
                    "US".into(),
                ],
            }),
            ..CallingSettings::default()
        };
        assert_eq!(
            fields(&settings),
            vec![
                "call_icons.restrict_to_user_countries[1]",
                "call_icons.restrict_to_user_countries[2]",
                "call_icons.restrict_to_user_countries[3]",
                "call_icons.restrict_to_user_countries[4]"
            ]
        );
    }

    #[test]
    fn call_hours_times_must_be_hhmm_and_ordered() {
        let mut hours = office_hours();
        hours.weekly_operating_hours = vec![
            slot(DayOfWeek::Monday, "0900", "1200"),
            slot(DayOfWeek::Monday, "9:00", "1200"),
            slot(DayOfWeek::Tuesday, "1800", "0900"),
            slot(DayOfWeek::Wednesday, "2400", "2460"),
            slot(DayOfWeek::Other("FUNDAY".into()), "0900", "1000"),
        ];
        let settings = CallingSettings { call_hours: Some(hours), ..CallingSettings::default() };
        assert_eq!(
            fields(&settings),
            vec![
                "call_hours.weekly_operating_hours[1].open_time",
                "call_hours.weekly_operating_hours[2].close_time",
                "call_hours.weekly_operating_hours[3].open_time",
                "call_hours.weekly_operating_hours[3].close_time",
                "call_hours.weekly_operating_hours[4].day_of_week",
            ]
        );
    }

    #[test]
    fn at_most_two_non_overlapping_slots_per_day() {
        let mut hours = office_hours();
        hours.weekly_operating_hours = vec![
            slot(DayOfWeek::Friday, "0900", "1200"),
            slot(DayOfWeek::Friday, "1100", "1300"),
            slot(DayOfWeek::Friday, "1400", "1500"),
            slot(DayOfWeek::Saturday, "0900", "1200"),
            slot(DayOfWeek::Saturday, "1200", "1300"),
        ];
        let settings = CallingSettings { call_hours: Some(hours), ..CallingSettings::default() };
        let problems = settings.problems(NOW);
        assert!(problems.iter().any(|problem| problem.field == "call_hours.weekly_operating_hours[2]"
            && problem.message.contains("at most 2")));
        assert!(
            problems.iter().any(|problem| problem.field == "call_hours.weekly_operating_hours[1].open_time"
                && problem.message.contains("overlaps"))
        );
        assert!(
            !problems.iter().any(|problem| problem.field.contains("[4]")),
            "touching slots do not overlap"
        );
    }

    #[test]
    fn enabled_call_hours_need_a_zone_and_slots() {
        let hours = CallHours {
            status: Toggle::Enabled,
            timezone_id: None,
            weekly_operating_hours: vec![],
            holiday_schedule: vec![],
        };
        let settings = CallingSettings { call_hours: Some(hours), ..CallingSettings::default() };
        assert_eq!(fields(&settings), vec!["call_hours.timezone_id", "call_hours.weekly_operating_hours"]);
        let disabled = CallHours {
            status: Toggle::Disabled,
            timezone_id: None,
            weekly_operating_hours: vec![],
            holiday_schedule: vec![],
        };
        assert!(
            CallingSettings { call_hours: Some(disabled), ..CallingSettings::default() }
                .validate(NOW)
                .is_ok()
        );
    }

    #[test]
    fn time_zone_must_be_iana() {
        let mut hours = office_hours();
        hours.timezone_id = Some("Mars/Olympus_Mons".into());
        let settings = CallingSettings { call_hours: Some(hours), ..CallingSettings::default() };
        assert_eq!(fields(&settings), vec!["call_hours.timezone_id"]);
        for zone in ["Asia/Kolkata", "America/Sao_Paulo", "Europe/London", "UTC"] {
            let mut hours = office_hours();
            hours.timezone_id = Some(zone.into());
            assert!(
                CallingSettings { call_hours: Some(hours), ..CallingSettings::default() }
                    .validate(NOW)
                    .is_ok(),
                "{zone}"
            );
        }
    }

    #[test]
    fn holidays_rules() {
        let mut hours = office_hours();
        hours.holiday_schedule = vec![
            holiday("2026-11-21", "0000", "2359"),
            holiday("2026-02-30", "0000", "2359"),
            holiday("26-12-01", "0000", "2359"),
            holiday("2026-12-31", "1800", "0900"),
            holiday("2026-11-22", "0000", "2359"),
        ];
        let settings = CallingSettings { call_hours: Some(hours.clone()), ..CallingSettings::default() };
        assert_eq!(
            fields(&settings),
            vec![
                "call_hours.holiday_schedule[0].date",
                "call_hours.holiday_schedule[1].date",
                "call_hours.holiday_schedule[2].date",
                "call_hours.holiday_schedule[3].end_time",
            ]
        );
        hours.holiday_schedule =
            (0..21).map(|day| holiday(&format!("2027-01-{:02}", day + 1), "0000", "2359")).collect();
        let settings = CallingSettings { call_hours: Some(hours), ..CallingSettings::default() };
        assert_eq!(fields(&settings), vec!["call_hours.holiday_schedule"]);
    }

    #[test]
    fn past_is_judged_in_the_call_hours_zone() {
        // At 04:00 UTC on the 22nd it is still the 21st in Manaus (UTC-4 → 00:00 the 22nd)…
        // and in Honolulu (UTC-10) still the 21st.
        let mut hours = office_hours();
        hours.timezone_id = Some("Pacific/Honolulu".into());
        hours.holiday_schedule = vec![holiday("2026-11-21", "0000", "2359")];
        assert!(
            CallingSettings { call_hours: Some(hours), ..CallingSettings::default() }.validate(NOW).is_ok()
        );
    }

    #[test]
    fn sip_rules() {
        let mut params = BTreeMap::new();
        params.insert("tgrp".to_owned(), "x".repeat(129));
        let settings = CallingSettings {
            sip: Some(SipSettings {
                status: Some(Toggle::Enabled),
                servers: Some(vec![
                    SipServer {
                        hostname: "sip.example.com".into(),
                        port: Some(5061),
                        request_uri_user_params: Some(params),
                        ..SipServer::default()
                    },
                    SipServer { hostname: "bad host".into(), port: Some(0), ..SipServer::default() },
                ]),
            }),
            srtp_key_exchange_protocol: Some(SrtpKeyExchange::Other("ZRTP".into())),
            audio: Some(AudioSettings {
                additional_codecs: vec![AudioCodec::Pcmu, AudioCodec::Pcmu, AudioCodec::Other("G729".into())],
            }),
            ..CallingSettings::default()
        };
        assert_eq!(
            fields(&settings),
            vec![
                "sip.servers",
                "sip.servers[0].request_uri_user_params.tgrp",
                "sip.servers[1].hostname",
                "sip.servers[1].port",
                "srtp_key_exchange_protocol",
                "audio.additional_codecs[1]",
                "audio.additional_codecs[2]",
            ]
        );
    }

    #[test]
    fn open_hours_follow_the_zone_slots_and_holidays() {
        let hours = office_hours();
        // Monday 2026-11-23 10:00 in Manaus (UTC-4) = 14:00 UTC.
        let monday_ten = 1_795_413_600_000 + 14 * 3_600_000 - 1_795_413_600_000 % 86_400_000;
        assert!(hours.is_open_at(monday_ten));
        assert!(!hours.is_open_at(monday_ten + 2 * 3_600_000 + 30 * 60_000), "12:30 is lunch");
        assert!(hours.is_open_at(monday_ten + 3 * 3_600_000), "13:00 opens again");
        assert!(!hours.is_open_at(monday_ten + 8 * 3_600_000), "18:00 is closed: slots are half-open");
        assert!(!hours.is_open_at(NOW), "Sunday has no slot");
        // Friday 2026-12-25 is a holiday, Tuesday 2026-12-22 10:00 is open.
        let mut christmas = office_hours();
        christmas.weekly_operating_hours.push(slot(DayOfWeek::Friday, "0900", "1800"));
        let friday_christmas_ten = 1_798_207_200_000; // 2026-12-25T14:00:00Z
        assert!(!christmas.is_open_at(friday_christmas_ten));
        assert!(christmas.is_open_at(friday_christmas_ten - 7 * 86_400_000));
        let disabled = CallHours { status: Toggle::Disabled, ..office_hours() };
        assert!(disabled.is_open_at(NOW));
    }

    #[test]
    fn drift_lists_only_fields_we_set_that_differ() {
        let local = full();
        let mut remote = full();
        assert_eq!(drift(&local, &remote), vec![]);
        remote.call_icons = Some(CallIcons { restrict_to_user_countries: vec!["BR".into(), "US".into()] });
        remote.call_hours.as_mut().unwrap().weekly_operating_hours.reverse();
        remote.sip = Some(SipSettings { status: Some(Toggle::Disabled), servers: None });
        assert_eq!(drift(&local, &remote), vec![], "order and fields we do not manage are not drift");
        remote.status = Some(Toggle::Disabled);
        remote.callback_permission_status = Some(Toggle::NotSet);
        remote.call_hours.as_mut().unwrap().timezone_id = Some("UTC".into());
        remote.call_hours.as_mut().unwrap().holiday_schedule.clear();
        remote.audio = None;
        let drifts = drift(&local, &remote);
        let fields: Vec<&str> = drifts.iter().map(|drift| drift.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "status",
                "call_hours.timezone_id",
                "call_hours.holiday_schedule",
                "callback_permission_status",
                "audio.additional_codecs"
            ]
        );
        assert_eq!(drifts[0].local, json!("ENABLED"));
        assert_eq!(drifts[0].remote, json!("DISABLED"));
    }

    #[test]
    fn sip_drift_ignores_credentials_and_default_port() {
        let local = CallingSettings {
            sip: Some(SipSettings {
                status: Some(Toggle::Enabled),
                servers: Some(vec![SipServer { hostname: "SIP.example.com".into(), ..SipServer::default() }]),
            }),
            ..CallingSettings::default()
        };
        let remote = CallingSettings {
            sip: Some(SipSettings {
                status: Some(Toggle::Enabled),
                servers: Some(vec![SipServer {
                    hostname: "sip.example.com".into(),
                    port: Some(5061),
                    sip_user_password: Some("pw".into()),
                    app_id: Some("1".into()),
                    ..SipServer::default()
                }]),
            }),
            ..CallingSettings::default()
        };
        assert_eq!(drift(&local, &remote), vec![]);
    }

    fn time() -> impl Strategy<Value = u32> {
        0u32..24 * 60
    }

    fn hhmm(minutes: u32) -> String {
        format!("{:02}{:02}", minutes / 60, minutes % 60)
    }

    proptest! {
        #[test]
        fn hhmm_round_trips(minutes in time()) {
            prop_assert_eq!(parse_time(&hhmm(minutes)), Some(minutes));
        }

        #[test]
        fn two_ordered_disjoint_slots_are_valid_and_overlapping_ones_are_not(a in time(), b in time(), c in time(), d in time()) {
            let mut times = [a, b, c, d];
            times.sort_unstable();
            let [first_open, first_close, second_open, second_close] = times;
            let mut hours = office_hours();
            hours.weekly_operating_hours = vec![
                slot(DayOfWeek::Thursday, &hhmm(second_open), &hhmm(second_close)),
                slot(DayOfWeek::Thursday, &hhmm(first_open), &hhmm(first_close)),
            ];
            let settings = CallingSettings { call_hours: Some(hours), ..CallingSettings::default() };
            let strictly_ordered = first_open < first_close && second_open < second_close;
            prop_assert_eq!(settings.validate(NOW).is_ok(), strictly_ordered);
        }

        #[test]
        fn slots_that_start_before_the_other_closes_overlap(a in time(), b in time(), c in time(), d in time()) {
            let mut times = [a, b, c, d];
            times.sort_unstable();
            let [first_open, second_open, first_close, second_close] = times;
            prop_assume!(second_open < first_close);
            let mut hours = office_hours();
            hours.weekly_operating_hours = vec![
                slot(DayOfWeek::Sunday, &hhmm(first_open), &hhmm(first_close)),
                slot(DayOfWeek::Sunday, &hhmm(second_open), &hhmm(second_close.max(second_open + 1))),
            ];
            let settings = CallingSettings { call_hours: Some(hours), ..CallingSettings::default() };
            prop_assert!(settings.problems(NOW).iter().any(|problem| problem.message.contains("overlaps")));
        }

        #[test]
        fn get_shape_round_trips_through_post_body(settings_index in 0usize..2) {
            let settings = if settings_index == 0 { full() } else { CallingSettings { status: Some(Toggle::Disabled), ..CallingSettings::default() } };
            let parsed = CallingSettings::from_get_response(&settings.post_body()).unwrap();
            prop_assert_eq!(drift(&settings, &parsed), vec![]);
            prop_assert_eq!(parsed, settings);
        }
    }

    #[test]
    fn weekly_hours_shorthand_reads_days_ranges_and_times() {
        let hours = weekly_hours_from_shorthand(
            r#"{"TUE":["09:00","18:00"],"mon":["0900","1730"],"saturday":[["09:00","12:00"],["14:00","16:00"]]}"#,
        )
        .unwrap();
        let slots: Vec<(String, &str, &str)> = hours
            .iter()
            .map(|h| (h.day_of_week.to_string(), h.open_time.as_str(), h.close_time.as_str()))
            .collect();
        assert_eq!(
            slots,
            vec![
                ("MONDAY".into(), "0900", "1730"),
                ("TUESDAY".into(), "0900", "1800"),
                ("SATURDAY".into(), "0900", "1200"),
                ("SATURDAY".into(), "1400", "1600"),
            ]
        );
        for bad in [
            r#"["09:00"]"#,
            r#"{"funday":["09:00","18:00"]}"#,
            r#"{"mon":["9am","18:00"]}"#,
            r#"{"mon":["09:00"]}"#,
            r#"{"mon":["24:00","25:00"]}"#,
        ] {
            let err = weekly_hours_from_shorthand(bad).unwrap_err();
            assert_eq!(err.code(), "validation_failed", "{bad}");
        }
    }
}
