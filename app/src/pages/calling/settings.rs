//! The Settings section, in two pages. `/calling/settings`: each connected number's call
//! settings as WhatsApp has them, the drift from what was last saved here, and the editor for
//! calling on/off, the call icon, callback requests and the countries that see the icon.
//! `/calling/settings/hours`: the editor for call hours (time zone, weekly ranges, holidays),
//! with what callers will meet. Both save the whole settings: the other page's fields as loaded.
//!
//! The editor's values become exactly the `calling` object `calling::settings` accepts
//! ([`SettingsForm::to_settings`]), so the browser checks them as you type with the same rules
//! the server applies before anything reaches WhatsApp. Saving goes through
//! `calling::settings_sync::apply` (validate → push → store once accepted → re-read) and audits
//! `settings.updated` as `PUT /api/v1/app/calling/settings` does; reading needs `ViewSettings`,
//! saving `ChangeSettings`, both re-checked on the server.

use calling::settings::{
    CallHours, CallIconVisibility, CallIcons, CallingSettings, DayOfWeek, Holiday, MAX_HOLIDAYS,
    MAX_SLOTS_PER_DAY, SettingsProblem, Toggle, WeeklyHours,
};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::error_text;
use crate::form_action::FormAction;
use crate::format;
use crate::json_text::UnreadJson;
use crate::pages::SectionHead;
use crate::server_resource::ServerResource;

const DAY_NAMES: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// Time zones offered by the picker: where WhatsApp Business calling is most used, plus UTC. A
/// number already set to another IANA zone keeps it (the picker adds the current value).
const TIME_ZONES: [&str; 48] = [
    "UTC",
    "Africa/Cairo",
    "Africa/Johannesburg",
    "Africa/Lagos",
    "Africa/Nairobi",
    "America/Argentina/Buenos_Aires",
    "America/Bogota",
    "America/Chicago",
    "America/Denver",
    "America/Lima",
    "America/Los_Angeles",
    "America/Manaus",
    "America/Mexico_City",
    "America/New_York",
    "America/Santiago",
    "America/Sao_Paulo",
    "America/Toronto",
    "Asia/Bangkok",
    "Asia/Dhaka",
    "Asia/Dubai",
    "Asia/Ho_Chi_Minh",
    "Asia/Hong_Kong",
    "Asia/Jakarta",
    "Asia/Jerusalem",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Kuala_Lumpur",
    "Asia/Manila",
    "Asia/Riyadh",
    "Asia/Seoul",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Atlantic/Reykjavik",
    "Australia/Melbourne",
    "Australia/Perth",
    "Australia/Sydney",
    "Europe/Amsterdam",
    "Europe/Berlin",
    "Europe/Istanbul",
    "Europe/Lisbon",
    "Europe/London",
    "Europe/Madrid",
    "Europe/Moscow",
    "Europe/Paris",
    "Europe/Rome",
    "Europe/Warsaw",
    "Pacific/Auckland",
    "Pacific/Honolulu",
];

fn day_of(index: usize) -> DayOfWeek {
    match index {
        0 => DayOfWeek::Monday,
        1 => DayOfWeek::Tuesday,
        2 => DayOfWeek::Wednesday,
        3 => DayOfWeek::Thursday,
        4 => DayOfWeek::Friday,
        5 => DayOfWeek::Saturday,
        _ => DayOfWeek::Sunday,
    }
}

/// A number's settings as this page shows them, read aloud on the server from
/// `calling::settings_sync::NumberSettings` (which only exists there).
///
/// Why words and not `CallingSettings`: the summary is read-only, and reading `CallingSettings`
/// in the browser (SIP servers, audio, restrictions, the fields WhatsApp adds kept as raw JSON)
/// compiled a JSON reader for each of those types into the page's WASM.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NumberState {
    /// What WhatsApp last reported; `None` until it has been read.
    pub reported: Option<Reported>,
    pub remote_fetched_at: Option<i64>,
    /// Where WhatsApp differs from what was saved here.
    pub drift: Vec<DriftLine>,
}

/// What WhatsApp reports for a number, in the page's words.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reported {
    pub calling: String,
    pub icon: String,
    pub callback: String,
    /// The countries that see the call icon, or `Everyone`.
    pub countries: String,
    /// WhatsApp's restrictions on the number, a sentence each.
    pub restrictions: Vec<String>,
    pub hours: ReportedHours,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ReportedHours {
    NotSet,
    Off,
    /// On, in `zone`: each day's ranges, Monday first (`Closed` or `09:00–12:00, 13:00–17:00`),
    /// and the holidays (`2026-12-25: closed all day`).
    On {
        zone: String,
        days: Vec<String>,
        holidays: Vec<String>,
    },
}

/// A field where WhatsApp differs from what was saved here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriftLine {
    pub field: String,
    pub saved: String,
    pub reported: String,
}

/// One connected number and its settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NumberSettingsView {
    pub phone_number_id: String,
    pub display: String,
    pub is_sandbox: bool,
    /// Shown on the General page only, so read there only.
    pub state: UnreadJson<NumberState>,
    /// The editor's starting values.
    pub form: SettingsForm,
    /// Why WhatsApp could not be asked for the settings just now, if it could not.
    pub refresh_error: Option<String>,
}

/// Everything the page needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SettingsPageData {
    /// Whether the member may save (owners and admins); others see the editor read-only.
    pub can_change: bool,
    /// The server's clock (unix ms): the browser judges "holiday in the past" by it.
    pub now: i64,
    pub numbers: Vec<NumberSettingsView>,
}

/// The editor's values, as typed. Times are the `HH:MM` of `<input type="time">`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsForm {
    pub phone_number_id: String,
    pub calling_enabled: bool,
    /// `DEFAULT` or `DISABLE_ALL`.
    pub icon_visibility: String,
    pub callback_enabled: bool,
    /// ISO country codes separated by commas or spaces; blank for everyone.
    pub countries: String,
    pub hours_enabled: bool,
    pub timezone: String,
    /// Monday first, seven days.
    pub week: Vec<DayForm>,
    pub holidays: Vec<HolidayForm>,
}

/// One day of the week: closed, or open during its ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayForm {
    pub open: bool,
    pub ranges: Vec<RangeForm>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeForm {
    pub open: String,
    pub close: String,
}

/// A holiday: closed all day, or closed from `start` to `end` (Meta's holiday times are when the
/// business is closed; the weekly hours apply the rest of that day).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolidayForm {
    pub date: String,
    pub all_day: bool,
    pub start: String,
    pub end: String,
}

/// The answer to a save.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SaveReply {
    /// WhatsApp accepted; what is stored now and what WhatsApp reports back (read where shown).
    Saved(UnreadJson<NumberState>),
    /// Broken rules, by field path; nothing was sent.
    Invalid(Vec<SettingsProblem>),
    /// WhatsApp refused the settings; nothing was stored.
    Refused(String),
}

/// Where on the form a problem belongs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spot {
    Calling,
    Icon,
    Countries,
    Callback,
    HoursStatus,
    Timezone,
    Week,
    /// The `index`th range of a day (in the form's order).
    Range {
        day: usize,
        index: usize,
        part: Part,
    },
    Holidays,
    Holiday {
        index: usize,
        part: Part,
    },
    /// A rule about a field the form does not edit (kept from earlier saves).
    Form,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Whole,
    Start,
    End,
    Date,
}

/// `0900` → `09:00`; anything else as it is.
#[cfg(feature = "ssr")]
fn to_clock(hhmm: &str) -> String {
    if hhmm.len() == 4 && hhmm.bytes().all(|byte| byte.is_ascii_digit()) {
        format!("{}:{}", &hhmm[..2], &hhmm[2..])
    } else {
        hhmm.to_owned()
    }
}

/// `09:00` → `0900`; anything else as it is, for validation to name.
fn to_hhmm(clock: &str) -> String {
    let clock = clock.trim();
    match clock.split_once(':') {
        Some((hours, minutes)) if hours.len() == 2 && minutes.len() == 2 => format!("{hours}{minutes}"),
        _ => clock.to_owned(),
    }
}

/// `HH:MM` an hour later, at most `23:59`; `17:00` when `clock` is not a time.
fn an_hour_after(clock: &str) -> String {
    let minutes = clock
        .split_once(':')
        .and_then(|(hours, minutes)| Some(hours.parse::<u32>().ok()? * 60 + minutes.parse::<u32>().ok()?));
    match minutes {
        Some(minutes) => {
            let later = (minutes + 60).min(23 * 60 + 59);
            format!("{:02}:{:02}", later / 60, later % 60)
        }
        None => "17:00".to_owned(),
    }
}

fn toggle(on: bool) -> Toggle {
    if on { Toggle::Enabled } else { Toggle::Disabled }
}

impl SettingsForm {
    /// The editor's starting values: what was saved here, else what WhatsApp reports, field by
    /// field.
    #[cfg(feature = "ssr")]
    pub fn starting_values(
        phone_number_id: &str,
        desired: Option<CallingSettings>,
        remote: Option<CallingSettings>,
    ) -> Self {
        let (desired, remote) = (desired.unwrap_or_default(), remote.unwrap_or_default());
        let status = desired.status.or(remote.status);
        let icon = desired.call_icon_visibility.or(remote.call_icon_visibility);
        let callback = desired.callback_permission_status.or(remote.callback_permission_status);
        let icons = desired.call_icons.or(remote.call_icons);
        let hours = desired.call_hours.or(remote.call_hours);
        let mut week = vec![DayForm::default(); 7];
        let mut holidays = Vec::new();
        let (mut hours_enabled, mut timezone) = (false, "UTC".to_owned());
        if let Some(hours) = hours {
            hours_enabled = hours.status == Toggle::Enabled;
            timezone = hours.timezone_id.unwrap_or_else(|| "UTC".to_owned());
            let mut slots = hours.weekly_operating_hours;
            slots.sort_by(|a, b| a.open_time.cmp(&b.open_time));
            for slot in slots {
                if let Some(day) = slot.day_of_week.index().and_then(|day| week.get_mut(day as usize)) {
                    day.open = true;
                    day.ranges.push(RangeForm {
                        open: to_clock(&slot.open_time),
                        close: to_clock(&slot.close_time),
                    });
                }
            }
            holidays = hours
                .holiday_schedule
                .into_iter()
                .map(|holiday| HolidayForm {
                    all_day: holiday.start_time == "0000" && holiday.end_time == "2359",
                    date: holiday.date,
                    start: to_clock(&holiday.start_time),
                    end: to_clock(&holiday.end_time),
                })
                .collect();
        }
        SettingsForm {
            phone_number_id: phone_number_id.to_owned(),
            calling_enabled: status == Some(Toggle::Enabled),
            icon_visibility: match icon {
                Some(CallIconVisibility::DisableAll | CallIconVisibility::HideInChat) => "DISABLE_ALL",
                _ => "DEFAULT",
            }
            .to_owned(),
            callback_enabled: callback == Some(Toggle::Enabled),
            countries: icons.map(|icons| icons.restrict_to_user_countries.join(", ")).unwrap_or_default(),
            hours_enabled,
            timezone,
            week,
            holidays,
        }
    }

    /// The country codes as typed, upper-cased.
    fn country_list(&self) -> Vec<String> {
        self.countries
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|code| !code.is_empty())
            .map(str::to_ascii_uppercase)
            .collect()
    }

    /// The `calling` object to push, on top of `base` (what was saved before, so fields this
    /// form does not edit — SIP, codecs — stay as they were), and for each weekly slot the
    /// (day, range) it came from.
    ///
    /// Call hours are sent when they are on, or when a schedule exists to keep while they are
    /// off; a form with call hours off and nothing scheduled leaves them out.
    pub fn to_settings(&self, base: CallingSettings) -> (CallingSettings, Vec<(usize, usize)>) {
        let mut settings = base;
        settings.status = Some(toggle(self.calling_enabled));
        settings.call_icon_visibility = Some(CallIconVisibility::parse(&self.icon_visibility));
        settings.callback_permission_status = Some(toggle(self.callback_enabled));
        let countries = self.country_list();
        settings.call_icons = if countries.is_empty() && settings.call_icons.is_none() {
            None
        } else {
            Some(CallIcons { restrict_to_user_countries: countries })
        };
        let mut origins = Vec::new();
        let mut weekly = Vec::new();
        for (day, form) in self.week.iter().enumerate().filter(|(_, day)| day.open) {
            for (index, range) in form.ranges.iter().enumerate() {
                origins.push((day, index));
                weekly.push(WeeklyHours {
                    day_of_week: day_of(day),
                    open_time: to_hhmm(&range.open),
                    close_time: to_hhmm(&range.close),
                });
            }
        }
        let holidays: Vec<Holiday> = self
            .holidays
            .iter()
            .map(|holiday| Holiday {
                date: holiday.date.trim().to_owned(),
                start_time: if holiday.all_day { "0000".to_owned() } else { to_hhmm(&holiday.start) },
                end_time: if holiday.all_day { "2359".to_owned() } else { to_hhmm(&holiday.end) },
            })
            .collect();
        let send_hours = self.hours_enabled || !weekly.is_empty() || !holidays.is_empty();
        settings.call_hours = send_hours.then(|| CallHours {
            status: toggle(self.hours_enabled),
            timezone_id: Some(self.timezone.trim().to_owned()).filter(|zone| !zone.is_empty()),
            weekly_operating_hours: weekly,
            holiday_schedule: holidays,
        });
        (settings, origins)
    }

    /// Where a problem's field path (`call_hours.weekly_operating_hours[2].close_time`) sits on
    /// this form, given the slots' origins from [`SettingsForm::to_settings`].
    pub fn locate(field: &str, origins: &[(usize, usize)]) -> Spot {
        let indexed = |rest: &str| -> Option<(usize, String)> {
            let rest = rest.strip_prefix('[')?;
            let (index, tail) = rest.split_once(']')?;
            Some((index.parse().ok()?, tail.trim_start_matches('.').to_owned()))
        };
        match field {
            "status" => Spot::Calling,
            "call_icon_visibility" => Spot::Icon,
            "callback_permission_status" => Spot::Callback,
            "call_hours.status" => Spot::HoursStatus,
            "call_hours.timezone_id" => Spot::Timezone,
            "call_hours.weekly_operating_hours" => Spot::Week,
            "call_hours.holiday_schedule" => Spot::Holidays,
            _ if field.starts_with("call_icons") => Spot::Countries,
            _ => {
                if let Some(rest) = field.strip_prefix("call_hours.weekly_operating_hours") {
                    if let Some((slot, tail)) = indexed(rest)
                        && let Some(&(day, index)) = origins.get(slot)
                    {
                        let part = match tail.as_str() {
                            "open_time" => Part::Start,
                            "close_time" => Part::End,
                            _ => Part::Whole,
                        };
                        return Spot::Range { day, index, part };
                    }
                    return Spot::Week;
                }
                if let Some(rest) = field.strip_prefix("call_hours.holiday_schedule") {
                    if let Some((index, tail)) = indexed(rest) {
                        let part = match tail.as_str() {
                            "date" => Part::Date,
                            "start_time" => Part::Start,
                            "end_time" => Part::End,
                            _ => Part::Whole,
                        };
                        return Spot::Holiday { index, part };
                    }
                    return Spot::Holidays;
                }
                Spot::Form
            }
        }
    }

    /// Every broken rule of this form at `now`, placed and worded for people.
    pub fn problems(&self, now: i64) -> Vec<(Spot, String)> {
        let (settings, origins) = self.to_settings(CallingSettings::default());
        settings
            .problems(now)
            .into_iter()
            .map(|problem| (Self::locate(&problem.field, &origins), plain(&problem)))
            .collect()
    }
}

/// A rule's message in the page's words (the field is shown by where the message sits).
fn plain(problem: &SettingsProblem) -> String {
    let message = problem.message.as_str();
    if message.contains("is not a 24-hour HHMM time") {
        "Enter a time (hours and minutes).".to_owned()
    } else if message == "must be after open_time" {
        "Must be after the opening time.".to_owned()
    } else if message == "must be after start_time" {
        "Must be after the start time.".to_owned()
    } else if message.contains("overlaps") {
        "Overlaps another range on this day.".to_owned()
    } else if message.contains("slots per day") {
        format!("At most {MAX_SLOTS_PER_DAY} ranges a day.")
    } else if message.contains("is not a YYYY-MM-DD date") {
        "Enter a date.".to_owned()
    } else if message.contains("is in the past") {
        "This date has passed: remove it or pick a later one.".to_owned()
    } else if message.contains("holidays") {
        format!("At most {MAX_HOLIDAYS} holidays.")
    } else if message.contains("IANA time zone") {
        "Choose a time zone from the list.".to_owned()
    } else if message.contains("required when call hours") {
        "Choose a time zone: call hours need one.".to_owned()
    } else if message.contains("at least one opening slot") {
        "Open at least one day, or turn call hours off.".to_owned()
    } else if message.contains("ISO 3166") {
        message.replace("is not an ISO 3166 alpha-2 country code", "is not a two-letter country code")
    } else {
        message.to_owned()
    }
}

/// The settings of every connected number, asking WhatsApp for the ones never read yet.
#[server(output = crate::json_text::JsonText)]
pub async fn load_call_settings() -> Result<SettingsPageData, ServerFnError> {
    use crate::api::ssr::*;
    let services = services()?;
    let member = member(&services, Permission::ViewSettings).await?;
    let numbers = calling::numbers::list(&services.db, &member.workspace.id).await.map_err(server_error)?;
    let mut views = Vec::new();
    for number in numbers {
        let mut stored =
            calling::settings_sync::load(&services.db, &number.id).await.map_err(server_error)?;
        let mut refresh_error = None;
        if stored.remote.is_none() {
            let read = match calling::graph::GraphClient::new() {
                Ok(client) => calling::settings_sync::refresh(&services, &client, &number).await,
                Err(err) => Err(err),
            };
            match read {
                Ok(fresh) => stored = fresh,
                Err(err) => refresh_error = Some(err.public_message()),
            }
        }
        let form = SettingsForm::starting_values(
            &number.phone_number_id,
            stored.desired.clone(),
            stored.remote.clone(),
        );
        views.push(NumberSettingsView {
            phone_number_id: number.phone_number_id,
            display: number.display_phone_number,
            is_sandbox: number.is_sandbox,
            state: self::ssr::unread_state(stored)?,
            form,
            refresh_error,
        });
    }
    Ok(SettingsPageData {
        can_change: member.role.allows(Permission::ChangeSettings),
        now: services.clock.now(),
        numbers: views,
    })
}

/// Asks WhatsApp again what it has for a number.
#[server(output = crate::json_text::JsonText)]
pub async fn refresh_call_settings(phone_number_id: String) -> Result<NumberState, ServerFnError> {
    use crate::api::ssr::*;
    let services = services()?;
    let member = member(&services, Permission::ViewSettings).await?;
    let number = self::ssr::number(&services, &member.workspace.id, &phone_number_id).await?;
    let client = calling::graph::GraphClient::new().map_err(server_error)?;
    let fresh = calling::settings_sync::refresh(&services, &client, &number).await.map_err(server_error)?;
    Ok(self::ssr::state(fresh))
}

/// Checks the form by Meta's rules, pushes it to WhatsApp and stores it once accepted, then
/// audits the change as `PUT /api/v1/app/calling/settings` does.
#[server(input = leptos::server_fn::codec::Json, output = crate::json_text::JsonText)]
pub async fn save_call_settings(form: SettingsForm) -> Result<SaveReply, ServerFnError> {
    use crate::api::ssr::*;
    let services = services()?;
    let member = member(&services, Permission::ChangeSettings).await?;
    let number = self::ssr::number(&services, &member.workspace.id, &form.phone_number_id).await?;
    let stored = calling::settings_sync::load(&services.db, &number.id).await.map_err(server_error)?;
    let (settings, _) = form.to_settings(stored.desired.unwrap_or_default());
    // All problems at once, so every field shows its own; `apply` re-checks the first.
    let problems = settings.problems(services.clock.now());
    if !problems.is_empty() {
        return Ok(SaveReply::Invalid(problems));
    }
    let client = calling::graph::GraphClient::new().map_err(server_error)?;
    match calling::settings_sync::apply(&services, &client, &number, &settings).await {
        Ok(saved) => {
            let details = serde_json::to_value(&settings).unwrap_or_default();
            record_audit(&services, &member, "settings.updated", Some(&number.id), details)
                .await
                .map_err(server_error)?;
            Ok(SaveReply::Saved(self::ssr::unread_state(saved)?))
        }
        Err(calling::Error::Validation { field, message }) => {
            Ok(SaveReply::Invalid(vec![SettingsProblem { field, message }]))
        }
        Err(err @ calling::Error::WhatsApp { .. }) => Ok(SaveReply::Refused(err.public_message())),
        Err(err) => Err(server_error(err)),
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    //! What the server functions share: finding the number, and reading its stored settings
    //! aloud for the page.
    use calling::Services;
    use calling::numbers::WhatsAppNumber;
    use calling::settings::{CallIconVisibility, CallingSettings, Toggle, WeeklyHours};
    use calling::settings_sync::NumberSettings;
    use leptos::prelude::ServerFnError;
    use serde_json::Value;

    use super::{DriftLine, NumberState, Reported, ReportedHours, to_clock};
    use crate::api::ssr::server_error;
    use crate::format;
    use crate::json_text::UnreadJson;

    /// The workspace's number with this Graph id, or its first when the id is blank (as the
    /// REST API's `pick_number`).
    pub async fn number(
        services: &Services,
        workspace_id: &str,
        phone_number_id: &str,
    ) -> Result<WhatsAppNumber, ServerFnError> {
        let all = calling::numbers::list(&services.db, workspace_id).await.map_err(server_error)?;
        let found = if phone_number_id.trim().is_empty() {
            all.into_iter().next().ok_or(calling::Error::NotFound { what: "connected WhatsApp number" })
        } else {
            all.into_iter()
                .find(|number| number.phone_number_id == phone_number_id)
                .ok_or(calling::Error::NotFound { what: "WhatsApp number" })
        };
        found.map_err(server_error)
    }

    /// [`state`], as the General page reads it from an answer it shares with the Call hours page.
    pub fn unread_state(settings: NumberSettings) -> Result<UnreadJson<NumberState>, ServerFnError> {
        UnreadJson::new(&state(settings)).map_err(|err| ServerFnError::Serialization(err.to_string()))
    }

    /// What the page shows of a number's stored settings.
    pub fn state(settings: NumberSettings) -> NumberState {
        NumberState {
            reported: settings.remote.as_ref().map(reported),
            remote_fetched_at: settings.remote_fetched_at,
            drift: settings
                .drift
                .iter()
                .map(|drift| DriftLine {
                    field: field_text(&drift.field).to_owned(),
                    saved: value_text(&drift.local),
                    reported: value_text(&drift.remote),
                })
                .collect(),
        }
    }

    fn reported(remote: &CallingSettings) -> Reported {
        let hours = match &remote.call_hours {
            Some(hours) if hours.status == Toggle::Enabled => {
                let days = (0..7u32)
                    .map(|day| {
                        let mut ranges: Vec<&WeeklyHours> = hours
                            .weekly_operating_hours
                            .iter()
                            .filter(|slot| slot.day_of_week.index() == Some(day))
                            .collect();
                        ranges.sort_by(|a, b| a.open_time.cmp(&b.open_time));
                        if ranges.is_empty() {
                            "Closed".to_owned()
                        } else {
                            ranges
                                .iter()
                                .map(|slot| {
                                    format!("{}–{}", to_clock(&slot.open_time), to_clock(&slot.close_time))
                                })
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    })
                    .collect();
                let holidays = hours
                    .holiday_schedule
                    .iter()
                    .map(|holiday| {
                        if holiday.start_time == "0000" && holiday.end_time == "2359" {
                            format!("{}: closed all day", holiday.date)
                        } else {
                            format!(
                                "{}: closed {}–{}",
                                holiday.date,
                                to_clock(&holiday.start_time),
                                to_clock(&holiday.end_time)
                            )
                        }
                    })
                    .collect();
                ReportedHours::On { zone: hours.timezone_id.clone().unwrap_or_default(), days, holidays }
            }
            Some(hours) if hours.status == Toggle::Disabled => ReportedHours::Off,
            _ => ReportedHours::NotSet,
        };
        let restrictions = remote
            .restrictions
            .iter()
            .flat_map(|restrictions| &restrictions.restrictions_list)
            .map(|restriction| {
                let until = restriction
                    .expiration
                    .map(|seconds| format!(" until {}", format::utc_timestamp(seconds * 1000)))
                    .unwrap_or_default();
                let kind = match restriction.kind.as_str() {
                    "RESTRICTED_BUSINESS_INITIATED_CALLING" => "Calling customers is paused",
                    "RESTRICTED_USER_INITIATED_CALLING" => "Customers cannot call this number",
                    other => other,
                };
                format!("{kind}{until} (a WhatsApp restriction).")
            })
            .collect();
        Reported {
            calling: toggle_text(remote.status.as_ref()).to_owned(),
            icon: icon_text(remote.call_icon_visibility.as_ref()).to_owned(),
            callback: toggle_text(remote.callback_permission_status.as_ref()).to_owned(),
            countries: remote
                .call_icons
                .as_ref()
                .map(|icons| icons.restrict_to_user_countries.join(", "))
                .filter(|list| !list.is_empty())
                .unwrap_or_else(|| "Everyone".to_owned()),
            restrictions,
            hours,
        }
    }

    fn toggle_text(toggle: Option<&Toggle>) -> &'static str {
        match toggle {
            Some(Toggle::Enabled) => "On",
            Some(Toggle::Disabled) => "Off",
            _ => "Not set",
        }
    }

    fn icon_text(icon: Option<&CallIconVisibility>) -> &'static str {
        match icon {
            Some(CallIconVisibility::Default) => "Shown",
            Some(CallIconVisibility::DisableAll) => "Hidden",
            Some(CallIconVisibility::HideInChat) => "Hidden in chats",
            _ => "Not set (shown)",
        }
    }

    /// `Mon 09:00–17:00` for a slot as JSON; anything else as JSON text.
    fn value_text(value: &Value) -> String {
        match value {
            Value::Null => "nothing".to_owned(),
            Value::String(raw) => match raw.as_str() {
                "ENABLED" => "on".to_owned(),
                "DISABLED" => "off".to_owned(),
                "NOT_SET" => "not set".to_owned(),
                "DEFAULT" => "shown".to_owned(),
                "DISABLE_ALL" => "hidden".to_owned(),
                other => other.to_owned(),
            },
            Value::Array(items) if items.is_empty() => "none".to_owned(),
            Value::Array(items) => items
                .iter()
                .map(|item| {
                    let text = |key: &str| item.get(key).and_then(Value::as_str).unwrap_or_default();
                    if item.get("day_of_week").is_some() {
                        let day = text("day_of_week");
                        let day = day.get(..1).unwrap_or_default().to_owned()
                            + &day.get(1..3).unwrap_or_default().to_lowercase();
                        format!("{day} {}–{}", to_clock(text("open_time")), to_clock(text("close_time")))
                    } else if item.get("date").is_some() {
                        format!(
                            "{} {}–{}",
                            text("date"),
                            to_clock(text("start_time")),
                            to_clock(text("end_time"))
                        )
                    } else {
                        value_text(item)
                    }
                })
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        }
    }

    fn field_text(field: &str) -> &str {
        match field {
            "status" => "Calling",
            "call_icon_visibility" => "Call icon",
            "callback_permission_status" => "Callback requests",
            "call_icons.restrict_to_user_countries" => "Countries that see the icon",
            "call_hours.status" => "Call hours",
            "call_hours.timezone_id" => "Time zone",
            "call_hours.weekly_operating_hours" => "Weekly hours",
            "call_hours.holiday_schedule" => "Holidays",
            other => other,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The page.

/// The Settings section's two pages, each its own lazy route (so each loads only its own code).
const SETTINGS_LEAD: &str = "Per number: whether customers can call you on WhatsApp, where the call icon shows, whether they may ask for a callback, and your call hours. Saving sends the settings to WhatsApp; they count once WhatsApp accepts them.";

const SETTINGS_PAGES: [(&str, &str); 2] =
    [("/calling/settings", "General"), ("/calling/settings/hours", "Call hours")];

/// Which part of the editor a page of the section shows.
#[derive(Clone, Copy)]
struct SettingsPart {
    /// The editor's heading on this page.
    heading: &'static str,
    /// The number's panel on this page.
    panel: fn(NumberSettingsView, bool, i64) -> AnyView,
    /// The editor's fields on this page.
    fields: fn(Draft, Errors, i64) -> AnyView,
    /// Whether a problem's input is on this page.
    owns: fn(Spot) -> bool,
    /// Where the inputs of the other problems are.
    elsewhere: &'static str,
}

impl SettingsPart {
    /// `/calling/settings`: what WhatsApp has, calling, the call icon, callbacks, countries.
    fn general() -> Self {
        SettingsPart {
            heading: "Change settings",
            panel: |number, can_change, now| view! { <NumberPanel number can_change now /> }.into_any(),
            fields: |draft, errors, _| view! { <General draft errors /> }.into_any(),
            owns: |spot| {
                matches!(spot, Spot::Calling | Spot::Icon | Spot::Countries | Spot::Callback | Spot::Form)
            },
            elsewhere: "Call hours",
        }
    }

    /// `/calling/settings/hours`: call hours and holidays.
    fn call_hours() -> Self {
        SettingsPart {
            heading: "Change call hours",
            panel: |number, can_change, now| {
                view! {
                    <Editor form=number.form can_change now />
                    <p class="notice">
                        "WhatsApp applies changes at once, but people's WhatsApp apps can take up to 7 days to show new hours."
                    </p>
                }
                .into_any()
            },
            fields: |draft, errors, now| {
                view! {
                    <HoursEditor draft errors now />
                    <HolidaysEditor draft errors now />
                }
                .into_any()
            },
            owns: |spot| !matches!(spot, Spot::Calling | Spot::Icon | Spot::Countries | Spot::Callback),
            elsewhere: "General",
        }
    }

    /// Where a problem is said: under its input (by the id `keys` give it), or, when its input is
    /// on the section's other page, above the save button with where to fix it (the whole form
    /// is saved, so it holds the save up).
    fn place(&self, keys: &Keys, spot: Spot, message: String) -> (Option<String>, String) {
        if (self.owns)(spot) {
            (keys.element(spot), message)
        } else {
            (None, format!("On the {} page: {message}", self.elsewhere))
        }
    }
}

/// `/calling/settings`: what WhatsApp has for each number, the drift, and calling, the call
/// icon, callback requests and the icon's countries.
#[component]
pub fn SettingsPage() -> impl IntoView {
    view! { <SettingsFrame part=SettingsPart::general() /> }
}

/// `/calling/settings/hours`: each number's call hours (time zone, weekly ranges) and holidays.
#[component]
pub fn CallHoursPage() -> impl IntoView {
    view! { <SettingsFrame part=SettingsPart::call_hours() /> }
}

/// The section's title, lead and links, and the loaded numbers (the part is provided to the
/// editor below).
#[component]
fn SettingsFrame(part: SettingsPart) -> impl IntoView {
    provide_context(part);
    let data = ServerResource::new(|| (), |_| load_call_settings());
    view! {
        <SectionHead title="Settings" lead=SETTINGS_LEAD pages=&SETTINGS_PAGES />
        <Suspense fallback=|| view! { <p class="muted">"Loading settings…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(data) if data.numbers.is_empty() => {
                        view! {
                            <section class="card">
                                <p class="empty">"No WhatsApp number connected yet."</p>
                            </section>
                        }
                            .into_any()
                    }
                    Ok(data) => view! { <SettingsBody data part /> }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{error_text(&err)}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The number picker (when there are several) and the chosen number's panel.
#[component]
fn SettingsBody(data: SettingsPageData, part: SettingsPart) -> impl IntoView {
    let SettingsPageData { can_change, now, numbers } = data;
    let selected = RwSignal::new(0usize);
    let picker = (numbers.len() > 1).then(|| {
        let options = numbers
            .iter()
            .enumerate()
            .map(|(index, number)| {
                let text = if number.is_sandbox {
                    format!("{} (sandbox)", number.display)
                } else {
                    number.display.clone()
                };
                view! { <option value=index.to_string() selected=index == 0>{text}</option> }
            })
            .collect_view();
        view! {
            <div class="settings-picker">
                <label for="settings-number">"Number"</label>
                <select id="settings-number"
                    on:change=move |ev| selected.set(event_target_value(&ev).parse().unwrap_or(0))>
                    {options}
                </select>
            </div>
        }
    });
    let numbers = StoredValue::new(numbers);
    view! {
        {picker}
        {move || {
            let number = numbers.with_value(|numbers| numbers.get(selected.get()).cloned());
            number.map(|number| (part.panel)(number, can_change, now))
        }}
    }
    .into_any()
}

/// One number: what WhatsApp has, the drift, and the editor.
#[component]
fn NumberPanel(number: NumberSettingsView, can_change: bool, now: i64) -> impl IntoView {
    let phone_number_id = number.phone_number_id.clone();
    let form = number.form;
    let state = RwSignal::new(number.state.read().unwrap_or_default());
    let refresh_error = RwSignal::new(number.refresh_error);
    let refresh = FormAction::<RefreshCallSettings>::new();
    Effect::new(move || {
        if let Some(result) = refresh.value().get() {
            match result {
                Ok(fresh) => {
                    state.set(fresh);
                    refresh_error.set(None);
                }
                Err(err) => refresh_error.set(Some(error_text(&err))),
            }
        }
    });
    let display = number.display.clone();
    let sandbox = number.is_sandbox.then(|| view! { <span class="badge sandbox">"Sandbox"</span> });
    let reread = {
        let phone_number_id = phone_number_id.clone();
        move |_| {
            refresh.dispatch_fields(&[("phone_number_id", &phone_number_id)]);
        }
    };
    view! {
        <section class="card" aria-labelledby="current-heading">
            <div class="card-head">
                <h2 id="current-heading">"What WhatsApp has for " {display} " " {sandbox}</h2>
                <button class="button quiet" type="button" on:click=reread disabled=move || refresh.pending().get()>
                    {move || if refresh.pending().get() { "Asking WhatsApp…" } else { "Ask WhatsApp again" }}
                </button>
            </div>
            {move || refresh_error.get().map(|message| view! {
                <p class="error" role="alert">"Could not read the settings from WhatsApp: " {message}</p>
            })}
            {move || view! { <CurrentSettings state=state.get() /> }}
            <p class="notice">
                "WhatsApp applies changes at once, but people's WhatsApp apps can take up to 7 days to show a new call icon or new hours."
            </p>
        </section>
        <Editor form can_change now on_saved=Callback::new(move |saved: UnreadJson<NumberState>| {
            if let Ok(saved) = saved.read() {
                state.set(saved);
            }
        }) />
    }
    .into_any()
}

/// What WhatsApp last reported, and where it differs from what was saved here.
#[component]
fn CurrentSettings(state: NumberState) -> impl IntoView {
    let NumberState { reported, remote_fetched_at, drift } = state;
    let Some(reported) = reported else {
        return view! { <p class="muted">"WhatsApp has not reported this number's settings yet."</p> }
            .into_any();
    };
    let hours = match reported.hours {
        ReportedHours::On { zone, days, holidays } => {
            let days = DAY_NAMES
                .iter()
                .zip(days)
                .map(|(name, text)| view! { <dt>{*name}</dt><dd>{text}</dd> })
                .collect_view();
            let holidays = (!holidays.is_empty()).then(|| {
                let list = holidays.into_iter().map(|text| view! { <li>{text}</li> }).collect_view();
                view! { <p class="muted">"Holidays:"</p><ul class="holiday-list">{list}</ul> }
            });
            view! {
                <p>"Calls are taken during these hours (" {zone} "). Outside them WhatsApp offers callers a chat or a callback request instead."</p>
                <dl class="week-summary">{days}</dl>
                {holidays}
            }
            .into_any()
        }
        ReportedHours::Off => view! { <p>"Call hours are off: calls are taken at any time."</p> }.into_any(),
        ReportedHours::NotSet => {
            view! { <p>"Call hours are not set: calls are taken at any time."</p> }.into_any()
        }
    };
    let restrictions = reported
        .restrictions
        .into_iter()
        .map(|text| view! { <p class="notice" role="status">{text}</p> })
        .collect_view();
    let read_at = remote_fetched_at
        .map(|at| format!("Last read from WhatsApp {}.", format::utc_timestamp(at)))
        .unwrap_or_default();
    let drift = (!drift.is_empty()).then(|| {
        let items = drift
            .into_iter()
            .map(|line| {
                view! {
                    <li>
                        <strong>{line.field}</strong>
                        {format!(": saved here as {}, WhatsApp reports {}.", line.saved, line.reported)}
                    </li>
                }
            })
            .collect_view();
        view! {
            <div class="drift" role="status">
                <p><strong>"WhatsApp differs from what was saved here:"</strong></p>
                <ul>{items}</ul>
                <p class="muted">"Save again to send your settings, or check whether someone changed them in Meta's tools."</p>
            </div>
        }
    });
    view! {
        <dl class="facts current-settings">
            <div><dt>"Calling"</dt><dd>{reported.calling}</dd></div>
            <div><dt>"Call icon"</dt><dd>{reported.icon}</dd></div>
            <div><dt>"Callback requests"</dt><dd>{reported.callback}</dd></div>
            <div><dt>"Icon shown in"</dt><dd>{reported.countries}</dd></div>
        </dl>
        {restrictions}
        <div class="current-hours">{hours}</div>
        <p class="muted">{read_at}</p>
        {drift}
    }
    .into_any()
}

// ---------------------------------------------------------------------------------------------
// The editor: one signal per input, so typing never rebuilds a list (and focus stays put). Each
// input also carries its starting value as an attribute, so the server-rendered page shows it
// before the WASM takes over.

#[derive(Clone, Copy)]
struct RangeRow {
    key: usize,
    open: RwSignal<String>,
    close: RwSignal<String>,
}

#[derive(Clone, Copy)]
struct DayRow {
    open: RwSignal<bool>,
    ranges: RwSignal<Vec<RangeRow>>,
}

#[derive(Clone, Copy)]
struct HolidayRow {
    key: usize,
    date: RwSignal<String>,
    all_day: RwSignal<bool>,
    start: RwSignal<String>,
    end: RwSignal<String>,
}

/// The rows' keys at one moment: position → key, to turn a problem's [`Spot`] into an input id.
#[derive(Clone, Default)]
struct Keys {
    ranges: Vec<Vec<usize>>,
    holidays: Vec<usize>,
}

impl Keys {
    /// The id of the element a problem belongs to (`None`: the form-wide message).
    fn element(&self, spot: Spot) -> Option<String> {
        let part = |base: String, part: Part| match part {
            Part::Whole => base,
            Part::Start => format!("{base}-start"),
            Part::End => format!("{base}-end"),
            Part::Date => format!("{base}-date"),
        };
        Some(match spot {
            Spot::Calling => "calling-status".to_owned(),
            Spot::Icon => "icon-visibility".to_owned(),
            Spot::Countries => "countries".to_owned(),
            Spot::Callback => "callback".to_owned(),
            Spot::HoursStatus => "hours-status".to_owned(),
            Spot::Timezone => "timezone".to_owned(),
            Spot::Week => "week".to_owned(),
            Spot::Holidays => "holidays".to_owned(),
            Spot::Range { day, index, part: which } => {
                part(format!("range-{}", self.ranges.get(day)?.get(index)?), which)
            }
            Spot::Holiday { index, part: which } => {
                part(format!("holiday-{}", self.holidays.get(index)?), which)
            }
            Spot::Form => return None,
        })
    }
}

#[derive(Clone, Copy)]
struct Draft {
    phone_number_id: StoredValue<String>,
    next_key: StoredValue<usize>,
    calling: RwSignal<bool>,
    icon: RwSignal<String>,
    callback: RwSignal<bool>,
    countries: RwSignal<String>,
    hours: RwSignal<bool>,
    timezone: RwSignal<String>,
    week: [DayRow; 7],
    holidays: RwSignal<Vec<HolidayRow>>,
}

impl Draft {
    fn new(form: &SettingsForm) -> Self {
        let next_key = StoredValue::new(0usize);
        let key = move || {
            let key = next_key.get_value();
            next_key.set_value(key + 1);
            key
        };
        let week = std::array::from_fn(|day| {
            let form = form.week.get(day).cloned().unwrap_or_default();
            let ranges = form
                .ranges
                .iter()
                .map(|range| RangeRow {
                    key: key(),
                    open: RwSignal::new(range.open.clone()),
                    close: RwSignal::new(range.close.clone()),
                })
                .collect();
            DayRow { open: RwSignal::new(form.open), ranges: RwSignal::new(ranges) }
        });
        let holidays = form
            .holidays
            .iter()
            .map(|holiday| HolidayRow {
                key: key(),
                date: RwSignal::new(holiday.date.clone()),
                all_day: RwSignal::new(holiday.all_day),
                start: RwSignal::new(holiday.start.clone()),
                end: RwSignal::new(holiday.end.clone()),
            })
            .collect();
        Draft {
            phone_number_id: StoredValue::new(form.phone_number_id.clone()),
            next_key,
            calling: RwSignal::new(form.calling_enabled),
            icon: RwSignal::new(form.icon_visibility.clone()),
            callback: RwSignal::new(form.callback_enabled),
            countries: RwSignal::new(form.countries.clone()),
            hours: RwSignal::new(form.hours_enabled),
            timezone: RwSignal::new(form.timezone.clone()),
            week,
            holidays: RwSignal::new(holidays),
        }
    }

    fn key(&self) -> usize {
        let key = self.next_key.get_value();
        self.next_key.set_value(key + 1);
        key
    }

    fn range(&self, open: &str, close: &str) -> RangeRow {
        RangeRow {
            key: self.key(),
            open: RwSignal::new(open.to_owned()),
            close: RwSignal::new(close.to_owned()),
        }
    }

    /// The form as it stands (tracking every input when called in a reactive scope).
    fn snapshot(&self) -> (SettingsForm, Keys) {
        let mut keys = Keys::default();
        let week = self
            .week
            .iter()
            .map(|day| {
                let rows = day.ranges.get();
                keys.ranges.push(rows.iter().map(|row| row.key).collect());
                DayForm {
                    open: day.open.get(),
                    ranges: rows
                        .iter()
                        .map(|row| RangeForm { open: row.open.get(), close: row.close.get() })
                        .collect(),
                }
            })
            .collect();
        let holidays = self
            .holidays
            .get()
            .iter()
            .map(|row| {
                keys.holidays.push(row.key);
                HolidayForm {
                    date: row.date.get(),
                    all_day: row.all_day.get(),
                    start: row.start.get(),
                    end: row.end.get(),
                }
            })
            .collect();
        let form = SettingsForm {
            phone_number_id: self.phone_number_id.get_value(),
            calling_enabled: self.calling.get(),
            icon_visibility: self.icon.get(),
            callback_enabled: self.callback.get(),
            countries: self.countries.get(),
            hours_enabled: self.hours.get(),
            timezone: self.timezone.get(),
            week,
            holidays,
        };
        (form, keys)
    }

    /// Copies Monday (open or closed, and its ranges) to Tuesday–Friday.
    fn copy_monday(&self) {
        let monday = self.week[0];
        let ranges: Vec<(String, String)> = monday
            .ranges
            .get_untracked()
            .iter()
            .map(|row| (row.open.get_untracked(), row.close.get_untracked()))
            .collect();
        for day in &self.week[1..5] {
            day.open.set(monday.open.get_untracked());
            day.ranges.set(ranges.iter().map(|(open, close)| self.range(open, close)).collect());
        }
    }
}

/// What the message under a field says: the error for `id`, if any.
type Errors = Memo<Vec<(String, String)>>;

fn error_for(errors: Errors, id: String) -> Signal<Option<String>> {
    Signal::derive(move || {
        errors.with(|errors| {
            errors.iter().find(|(element, _)| *element == id).map(|(_, message)| message.clone())
        })
    })
}

/// The message under a field; always present (empty when fine) so `aria-describedby` always
/// points somewhere.
#[component]
fn FieldError(id: String, message: Signal<Option<String>>) -> impl IntoView {
    view! {
        <span class="field-error" id=format!("{id}-error")>
            {move || message.get()}
        </span>
    }
}

#[component]
fn Editor(
    form: SettingsForm,
    can_change: bool,
    now: i64,
    /// Told what WhatsApp has after a save (the General page shows it).
    #[prop(optional)]
    on_saved: Option<Callback<UnreadJson<NumberState>>>,
) -> impl IntoView {
    let part = expect_context::<SettingsPart>();
    let draft = Draft::new(&form);
    let save = FormAction::<SaveCallSettings>::new();
    let place = move |keys: &Keys, spot: Spot, message: String| part.place(keys, spot, message);
    // Problems as you type, by the same rules the server applies.
    let live = Memo::new(move |_| {
        let (form, keys) = draft.snapshot();
        form.problems(now).into_iter().map(|(spot, message)| place(&keys, spot, message)).collect::<Vec<_>>()
    });
    // The server's refusals, placed by the keys the rows had when the form was sent.
    let sent_keys = StoredValue::new(Keys::default());
    let sent_form = StoredValue::new(SettingsForm::default());
    let server_problems = Memo::new(move |_| {
        save.value().with(|value| match value {
            Some(Ok(SaveReply::Invalid(problems))) => {
                let (_, origins) = sent_form.with_value(|form| form.to_settings(CallingSettings::default()));
                sent_keys.with_value(|keys| {
                    problems
                        .iter()
                        .map(|problem| {
                            place(keys, SettingsForm::locate(&problem.field, &origins), plain(problem))
                        })
                        .collect::<Vec<_>>()
                })
            }
            _ => Vec::new(),
        })
    });
    let errors: Errors = Memo::new(move |_| {
        let mut placed: Vec<(String, String)> = Vec::new();
        for (element, message) in live.get().into_iter().chain(server_problems.get()) {
            if let Some(element) = element
                && !placed.iter().any(|(id, _)| *id == element)
            {
                placed.push((element, message));
            }
        }
        placed
    });
    let unplaced = Memo::new(move |_| {
        live.get()
            .into_iter()
            .chain(server_problems.get())
            .filter(|(element, _)| element.is_none())
            .map(|(_, message)| message)
            .collect::<Vec<_>>()
    });
    // A save the browser held back because of marked fields.
    let held_back = RwSignal::new(false);
    Effect::new(move || {
        if let Some(Ok(SaveReply::Saved(saved))) = save.value().get()
            && let Some(on_saved) = on_saved
        {
            on_saved.run(saved);
        }
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !can_change {
            return;
        }
        if !live.get_untracked().is_empty() {
            held_back.set(true);
            return;
        }
        held_back.set(false);
        let (form, keys) = draft.snapshot();
        sent_keys.set_value(keys);
        sent_form.set_value(form.clone());
        save.dispatch_json(&SaveCallSettings { form });
    };
    let outcome = move || {
        if held_back.get() {
            let count = live.with(Vec::len);
            if count > 0 {
                let text = if count == 1 {
                    "Not saved: fix the marked field first. Nothing was sent to WhatsApp.".to_owned()
                } else {
                    format!("Not saved: fix the {count} marked fields first. Nothing was sent to WhatsApp.")
                };
                return Some(view! { <p class="error" role="alert">{text}</p> }.into_any());
            }
        }
        save.value().with(|value| match value {
            Some(Ok(SaveReply::Saved(_))) => Some(
                view! {
                    <p class="ok" role="status">
                        "Saved: WhatsApp accepted the settings."
                    </p>
                }
                .into_any(),
            ),
            Some(Ok(SaveReply::Invalid(_))) => Some(
                view! {
                    <p class="error" role="alert">"Not saved: fix the marked fields. Nothing was sent to WhatsApp."</p>
                }
                .into_any(),
            ),
            Some(Ok(SaveReply::Refused(message))) => Some(
                view! {
                    <p class="error" role="alert">
                        <strong>"WhatsApp refused these settings: "</strong>
                        {message.clone()}
                        " Nothing was changed."
                    </p>
                }
                .into_any(),
            ),
            Some(Err(err)) => Some(
                view! { <p class="error" role="alert">"Not saved: " {error_text(err)}</p> }.into_any(),
            ),
            None => None,
        })
    };
    let others = move || {
        let list = unplaced.get();
        (!list.is_empty()).then(|| {
            let items = list.into_iter().map(|message| view! { <li>{message}</li> }).collect_view();
            view! { <ul class="error" role="alert">{items}</ul> }
        })
    };
    let read_only = (!can_change).then(|| {
        view! {
            <p class="notice">"Your role can see these settings but not change them; owners and admins can."</p>
        }
    });
    view! {
        <section class="card" aria-labelledby="editor-heading">
            <h2 id="editor-heading">{part.heading}</h2>
            {read_only}
            <form class="settings-form" aria-label="Call settings" novalidate on:submit=on_submit>
                <fieldset class="settings-fields" disabled=!can_change>
                    <legend class="visually-hidden">"Call settings"</legend>
                    {(part.fields)(draft, errors, now)}
                </fieldset>
                {others}
                {can_change.then(|| view! {
                    <div class="form-actions">
                        <button class="button" type="submit" disabled=move || save.pending().get()>
                            {move || if save.pending().get() { "Sending to WhatsApp…" } else { "Save and send to WhatsApp" }}
                        </button>
                    </div>
                })}
                {outcome}
            </form>
        </section>
    }
    .into_any()
}

/// Calling, the call icon, callback requests and the icon's countries.
#[component]
fn General(draft: Draft, errors: Errors) -> impl IntoView {
    let checkbox = move |id: &'static str, label: &'static str, hint: &'static str, value: RwSignal<bool>| {
        let message = error_for(errors, id.to_owned());
        view! {
            <div class="field check">
                <label>
                    <input type="checkbox" id=id checked=value.get_untracked() prop:checked=move || value.get()
                        aria-invalid=move || message.get().is_some().to_string()
                        aria-describedby=format!("{id}-error")
                        on:change=move |ev| value.set(event_target_checked(&ev)) />
                    {label}
                </label>
                <span class="hint">{hint}</span>
                <FieldError id=id.to_owned() message />
            </div>
        }
    };
    let icon_error = error_for(errors, "icon-visibility".to_owned());
    let countries_error = error_for(errors, "countries".to_owned());
    view! {
        <fieldset class="settings-group">
            <legend>"Calling"</legend>
            {checkbox("calling-status", "Customers can call this number on WhatsApp",
                "Off: WhatsApp shows no call button and calls do not come through.", draft.calling)}
            {checkbox("callback", "Let customers ask for a callback",
                "When you miss a call or are outside call hours, WhatsApp offers to request a call back.", draft.callback)}
            <div class="form-row">
                <div class="field">
                    <label for="icon-visibility">"Call icon"</label>
                    <select id="icon-visibility"
                        aria-invalid=move || icon_error.get().is_some().to_string()
                        aria-describedby="icon-visibility-error"
                        on:change=move |ev| draft.icon.set(event_target_value(&ev))>
                        <option value="DEFAULT" selected=move || draft.icon.get() == "DEFAULT">
                            "Shown in the chat and business profile"
                        </option>
                        <option value="DISABLE_ALL" selected=move || draft.icon.get() == "DISABLE_ALL">
                            "Hidden (call buttons in messages still work)"
                        </option>
                    </select>
                    <FieldError id="icon-visibility".to_owned() message=icon_error />
                </div>
                <div class="field">
                    <label for="countries">"Show the icon only in these countries"</label>
                    <input type="text" id="countries" autocomplete="off" placeholder="Everyone, e.g. IN, BR"
                        value=draft.countries.get_untracked() prop:value=move || draft.countries.get()
                        aria-invalid=move || countries_error.get().is_some().to_string()
                        aria-describedby="countries-hint countries-error"
                        on:input=move |ev| draft.countries.set(event_target_value(&ev)) />
                    <span class="hint" id="countries-hint">
                        "Two-letter codes of the customers' phone numbers, separated by commas. Blank: everyone."
                    </span>
                    <FieldError id="countries".to_owned() message=countries_error />
                </div>
            </div>
        </fieldset>
    }
    .into_any()
}

/// Call hours on/off, the time zone and the week.
#[component]
fn HoursEditor(draft: Draft, errors: Errors, now: i64) -> impl IntoView {
    // What a caller meets under the hours as edited, judged at the moment the page loaded.
    let preview = move || {
        if !draft.hours.get() {
            return "Callers can reach you at any time.".to_owned();
        }
        let (form, _) = draft.snapshot();
        let outside = if form.callback_enabled {
            "WhatsApp shows when you open next and offers a chat or a callback request"
        } else {
            "WhatsApp shows when you open next and offers a chat"
        };
        let (settings, _) = form.to_settings(CallingSettings::default());
        let at_load = match settings.call_hours {
            Some(hours) if settings.problems(now).is_empty() => {
                if hours.is_open_at(now) {
                    " When this page loaded, calls would have come through."
                } else {
                    " When this page loaded, callers would have been told you are closed."
                }
            }
            _ => "",
        };
        format!("Inside these hours calls ring here; outside them {outside}.{at_load}")
    };
    let hours_error = error_for(errors, "hours-status".to_owned());
    let zone_error = error_for(errors, "timezone".to_owned());
    let week_error = error_for(errors, "week".to_owned());
    let zone_options = move || {
        let current = draft.timezone.get();
        let mut zones: Vec<String> = TIME_ZONES.iter().map(|zone| (*zone).to_owned()).collect();
        if !current.is_empty() && !zones.contains(&current) {
            zones.insert(0, current.clone());
        }
        zones
            .into_iter()
            .map(|zone| {
                let selected = zone == current;
                view! { <option value=zone.clone() selected=selected>{zone.replace('_', " ")}</option> }
            })
            .collect_view()
    };
    let days = (0..7).map(|day| view! { <DayEditor draft day errors /> }).collect_view();
    view! {
        <fieldset class="settings-group">
            <legend>"Call hours"</legend>
            <div class="field check">
                <label>
                    <input type="checkbox" id="hours-status" checked=draft.hours.get_untracked() prop:checked=move || draft.hours.get()
                        aria-invalid=move || hours_error.get().is_some().to_string()
                        aria-describedby="hours-status-error"
                        on:change=move |ev| draft.hours.set(event_target_checked(&ev)) />
                    "Take calls only during these hours"
                </label>
                <span class="hint">
                    "Off: calls are taken at any time, and the hours below are kept for later."
                </span>
                <FieldError id="hours-status".to_owned() message=hours_error />
            </div>
            <div class="field timezone">
                <label for="timezone">"Time zone"</label>
                <select id="timezone"
                    aria-invalid=move || zone_error.get().is_some().to_string()
                    aria-describedby="timezone-error"
                    on:change=move |ev| draft.timezone.set(event_target_value(&ev))>
                    {zone_options}
                </select>
                <FieldError id="timezone".to_owned() message=zone_error />
            </div>
            <div class="week" role="group" aria-label="Weekly hours" aria-describedby="week-error">
                {days}
            </div>
            <FieldError id="week".to_owned() message=week_error />
            <div class="form-actions">
                <button class="button quiet" type="button" on:click=move |_| draft.copy_monday()>
                    "Copy Monday to weekdays"
                </button>
            </div>
            <p class="hint">{format!("At most {MAX_SLOTS_PER_DAY} ranges a day.")}</p>
            <p class="caller-preview" aria-live="polite">
                <strong>"What callers see: "</strong>
                {preview}
            </p>
        </fieldset>
    }
    .into_any()
}

/// One weekday: open or closed, and its ranges.
#[component]
fn DayEditor(draft: Draft, day: usize, errors: Errors) -> impl IntoView {
    let row = draft.week[day];
    let name = DAY_NAMES[day];
    let open_id = format!("day-{day}-open");
    let toggle = move |ev: leptos::ev::Event| {
        let open = event_target_checked(&ev);
        row.open.set(open);
        // Opening an empty day starts it with office hours rather than nothing to fill.
        if open && row.ranges.with_untracked(Vec::is_empty) {
            row.ranges.set(vec![draft.range("09:00", "17:00")]);
        }
    };
    let add = move |_| {
        row.ranges.update(|ranges| {
            // Start where the last range ends, as a second range usually follows a break, and
            // last an hour, so the new row starts out valid.
            let start =
                ranges.last().map(|last| last.close.get_untracked()).unwrap_or_else(|| "09:00".into());
            ranges.push(draft.range(&start, &an_hour_after(&start)));
        });
    };
    view! {
        <fieldset class="day" data-day=name>
            <legend>{name}</legend>
            <label class="day-open">
                <input type="checkbox" id=open_id checked=row.open.get_untracked() prop:checked=move || row.open.get() on:change=toggle />
                "Open"
                <span class="visually-hidden">" on " {name}</span>
            </label>
            <span class="muted closed" hidden=move || row.open.get()>"Closed"</span>
            <div class="ranges" hidden=move || !row.open.get()>
                <For each=move || row.ranges.get() key=|range| range.key let:range>
                    <RangeEditor row range name errors />
                </For>
                <button class="button quiet add-range" type="button" on:click=add
                    disabled=move || { row.ranges.with(Vec::len) >= MAX_SLOTS_PER_DAY }>
                    "Add range"
                    <span class="visually-hidden">" on " {name}</span>
                </button>
            </div>
        </fieldset>
    }
    .into_any()
}

#[component]
fn RangeEditor(row: DayRow, range: RangeRow, name: &'static str, errors: Errors) -> impl IntoView {
    let base = format!("range-{}", range.key);
    let (start_id, end_id) = (format!("{base}-start"), format!("{base}-end"));
    let whole = error_for(errors, base.clone());
    let start_error = error_for(errors, start_id.clone());
    let end_error = error_for(errors, end_id.clone());
    let remove = move |_| row.ranges.update(|ranges| ranges.retain(|other| other.key != range.key));
    view! {
        <div class="range" role="group" aria-label=format!("{name} range")>
            <div class="field">
                <label for=start_id.clone()>"Opens"</label>
                <input type="time" id=start_id.clone() value=range.open.get_untracked() prop:value=move || range.open.get()
                    aria-invalid=move || start_error.get().is_some().to_string()
                    aria-describedby=format!("{start_id}-error")
                    on:input=move |ev| range.open.set(event_target_value(&ev)) />
                <FieldError id=start_id message=start_error />
            </div>
            <div class="field">
                <label for=end_id.clone()>"Closes"</label>
                <input type="time" id=end_id.clone() value=range.close.get_untracked() prop:value=move || range.close.get()
                    aria-invalid=move || end_error.get().is_some().to_string()
                    aria-describedby=format!("{end_id}-error")
                    on:input=move |ev| range.close.set(event_target_value(&ev)) />
                <FieldError id=end_id message=end_error />
            </div>
            <button class="button quiet remove" type="button" on:click=remove>
                "Remove"
                <span class="visually-hidden">" this " {name} " range"</span>
            </button>
            <FieldError id=base message=whole />
        </div>
    }
    .into_any()
}

/// Holidays: a date, closed all day or for part of it.
#[component]
fn HolidaysEditor(draft: Draft, errors: Errors, now: i64) -> impl IntoView {
    let list_error = error_for(errors, "holidays".to_owned());
    let add = move |_| {
        // Tomorrow (by the server's clock) is never "in the past", whatever the time zone.
        let tomorrow = format::utc_date(now + 86_400_000);
        let row = HolidayRow {
            key: draft.key(),
            date: RwSignal::new(tomorrow),
            all_day: RwSignal::new(true),
            start: RwSignal::new("00:00".to_owned()),
            end: RwSignal::new("23:59".to_owned()),
        };
        draft.holidays.update(|list| list.push(row));
    };
    view! {
        <fieldset class="settings-group" aria-describedby="holidays-error">
            <legend>"Holidays"</legend>
            <p class="hint">"Days when the weekly hours do not apply: closed all day, or closed for part of it."</p>
            <p class="muted" hidden=move || draft.holidays.with(|list| !list.is_empty())>"No holidays."</p>
            <ul class="holidays">
                <For each=move || draft.holidays.get() key=|holiday| holiday.key let:holiday>
                    <HolidayEditor draft holiday errors />
                </For>
            </ul>
            <FieldError id="holidays".to_owned() message=list_error />
            <div class="form-actions">
                <button class="button quiet" type="button" on:click=add
                    disabled=move || { draft.holidays.with(Vec::len) >= MAX_HOLIDAYS }>
                    "Add a holiday"
                </button>
            </div>
        </fieldset>
    }
    .into_any()
}

#[component]
fn HolidayEditor(draft: Draft, holiday: HolidayRow, errors: Errors) -> impl IntoView {
    let base = format!("holiday-{}", holiday.key);
    let (date_id, start_id, end_id, all_day_id) =
        (format!("{base}-date"), format!("{base}-start"), format!("{base}-end"), format!("{base}-all-day"));
    let whole = error_for(errors, base.clone());
    let date_error = error_for(errors, date_id.clone());
    let start_error = error_for(errors, start_id.clone());
    let end_error = error_for(errors, end_id.clone());
    let remove = move |_| draft.holidays.update(|list| list.retain(|other| other.key != holiday.key));
    view! {
        <li class="holiday" role="group" aria-label=move || format!("Holiday {}", holiday.date.get())>
            <div class="field">
                <label for=date_id.clone()>"Date"</label>
                <input type="date" id=date_id.clone() value=holiday.date.get_untracked() prop:value=move || holiday.date.get()
                    aria-invalid=move || date_error.get().is_some().to_string()
                    aria-describedby=format!("{date_id}-error")
                    on:input=move |ev| holiday.date.set(event_target_value(&ev)) />
                <FieldError id=date_id message=date_error />
            </div>
            <label class="day-open">
                <input type="checkbox" id=all_day_id checked=holiday.all_day.get_untracked() prop:checked=move || holiday.all_day.get()
                    on:change=move |ev| holiday.all_day.set(event_target_checked(&ev)) />
                "Closed all day"
            </label>
            <div class="field" hidden=move || holiday.all_day.get()>
                <label for=start_id.clone()>"Closed from"</label>
                <input type="time" id=start_id.clone() value=holiday.start.get_untracked() prop:value=move || holiday.start.get()
                    aria-invalid=move || start_error.get().is_some().to_string()
                    aria-describedby=format!("{start_id}-error")
                    on:input=move |ev| holiday.start.set(event_target_value(&ev)) />
                <FieldError id=start_id message=start_error />
            </div>
            <div class="field" hidden=move || holiday.all_day.get()>
                <label for=end_id.clone()>"Until"</label>
                <input type="time" id=end_id.clone() value=holiday.end.get_untracked() prop:value=move || holiday.end.get()
                    aria-invalid=move || end_error.get().is_some().to_string()
                    aria-describedby=format!("{end_id}-error")
                    on:input=move |ev| holiday.end.set(event_target_value(&ev)) />
                <FieldError id=end_id message=end_error />
            </div>
            <button class="button quiet remove" type="button" on:click=remove>
                "Remove"
                <span class="visually-hidden">" this holiday"</span>
            </button>
            <FieldError id=base message=whole />
        </li>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-22 04:00 UTC.
    const NOW: i64 = 1_795_320_000_000;

    fn week_form() -> SettingsForm {
        let mut form = SettingsForm {
            phone_number_id: "123".into(),
            calling_enabled: true,
            icon_visibility: "DEFAULT".into(),
            hours_enabled: true,
            timezone: "America/Sao_Paulo".into(),
            week: vec![DayForm::default(); 7],
            ..SettingsForm::default()
        };
        form.week[0] = DayForm {
            open: true,
            ranges: vec![
                RangeForm { open: "09:00".into(), close: "12:00".into() },
                RangeForm { open: "13:00".into(), close: "17:00".into() },
            ],
        };
        form.holidays = vec![HolidayForm {
            date: "2026-12-25".into(),
            all_day: true,
            start: "00:00".into(),
            end: "23:59".into(),
        }];
        form
    }

    #[test]
    fn a_form_becomes_metas_shape_and_round_trips() {
        let form = week_form();
        let (settings, origins) = form.to_settings(CallingSettings::default());
        assert_eq!(origins, vec![(0, 0), (0, 1)]);
        let hours = settings.call_hours.clone().unwrap();
        assert_eq!(hours.status, Toggle::Enabled);
        assert_eq!(hours.weekly_operating_hours[1].open_time, "1300");
        assert_eq!(hours.holiday_schedule[0].end_time, "2359");
        assert!(settings.validate(NOW).is_ok());
        assert_eq!(SettingsForm::starting_values("123", Some(settings), None), form);
    }

    #[test]
    fn what_whatsapp_reports_is_read_aloud_on_the_server() {
        let (remote, _) = week_form().to_settings(CallingSettings::default());
        let mut desired = remote.clone();
        desired.callback_permission_status = Some(Toggle::Enabled);
        let stored = calling::settings_sync::NumberSettings {
            drift: calling::settings::drift(&desired, &remote),
            desired: Some(desired),
            pushed_at: Some(NOW),
            remote: Some(remote),
            remote_fetched_at: Some(NOW),
        };
        let state = ssr::state(stored);
        let reported = state.reported.unwrap();
        assert_eq!((reported.calling.as_str(), reported.callback.as_str()), ("On", "Off"));
        assert_eq!(reported.countries, "Everyone");
        let ReportedHours::On { zone, days, holidays } = reported.hours else { panic!("hours are on") };
        assert_eq!(zone, "America/Sao_Paulo");
        assert_eq!(days[0], "09:00–12:00, 13:00–17:00");
        assert_eq!(days[1], "Closed");
        assert_eq!(holidays, vec!["2026-12-25: closed all day".to_owned()]);
        assert_eq!(
            state.drift,
            vec![DriftLine { field: "Callback requests".into(), saved: "on".into(), reported: "off".into() }]
        );
    }

    #[test]
    fn a_problem_whose_input_is_on_the_other_page_says_where_to_fix_it() {
        let keys = Keys { ranges: vec![vec![7]], holidays: vec![9] };
        let holiday = Spot::Holiday { index: 0, part: Part::Date };
        let passed = "This date has passed: remove it or pick a later one.".to_owned();
        assert_eq!(
            SettingsPart::call_hours().place(&keys, holiday, passed.clone()),
            (Some("holiday-9-date".to_owned()), passed.clone())
        );
        assert_eq!(
            SettingsPart::general().place(&keys, holiday, passed.clone()),
            (None, format!("On the Call hours page: {passed}"))
        );
        let countries = "\"XX\" is not a two-letter country code".to_owned();
        assert_eq!(
            SettingsPart::general().place(&keys, Spot::Countries, countries.clone()),
            (Some("countries".to_owned()), countries.clone())
        );
        assert_eq!(
            SettingsPart::call_hours().place(&keys, Spot::Countries, countries.clone()),
            (None, format!("On the General page: {countries}"))
        );
        // A rule about no field shows on both.
        assert_eq!(SettingsPart::general().place(&keys, Spot::Form, "x".into()), (None, "x".to_owned()));
        assert_eq!(SettingsPart::call_hours().place(&keys, Spot::Form, "x".into()), (None, "x".to_owned()));
    }

    #[test]
    fn problems_land_on_their_inputs() {
        let mut form = week_form();
        form.week[0].ranges[1].open = "11:00".into();
        form.week[2] =
            DayForm { open: true, ranges: vec![RangeForm { open: "18:00".into(), close: "09:00".into() }] };
        form.holidays[0].date = "2026-01-01".into();
        let problems = form.problems(NOW);
        assert!(problems.contains(&(
            Spot::Range { day: 0, index: 1, part: Part::Start },
            "Overlaps another range on this day.".to_owned()
        )));
        assert!(problems.contains(&(
            Spot::Range { day: 2, index: 0, part: Part::End },
            "Must be after the opening time.".to_owned()
        )));
        assert!(problems.iter().any(|(spot, _)| *spot == Spot::Holiday { index: 0, part: Part::Date }));
    }

    #[test]
    fn closed_days_are_not_sent_and_empty_hours_off_are_left_out() {
        let mut form = week_form();
        form.week[0].open = false;
        form.holidays.clear();
        form.hours_enabled = false;
        let (settings, _) = form.to_settings(CallingSettings::default());
        assert_eq!(settings.call_hours, None);
        form.hours_enabled = true;
        assert_eq!(
            form.problems(NOW)[0],
            (Spot::Week, "Open at least one day, or turn call hours off.".to_owned())
        );
    }
}
