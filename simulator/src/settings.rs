//! `POST /{phone_number_id}/settings` validation with Meta's rules (reference §5.2), and the
//! call-hours check that decides whether a user's call reaches the business at all.
//!
//! Any `call_hours` sent replaces the previous one completely, so an omitted `holiday_schedule`
//! deletes the old schedule.

use chrono::{Datelike, NaiveDate, TimeZone, Timelike};
use chrono_tz::Tz;
use serde_json::{Map, Value};

use crate::error::{GraphError, GraphResult};

const DAYS: [&str; 7] = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"];

fn bad(details: impl Into<String>) -> GraphError {
    GraphError::invalid_parameter(details)
}

fn one_of(v: &Value, field: &str, allowed: &[&str]) -> GraphResult<Value> {
    match v.as_str() {
        Some(s) if allowed.contains(&s) => Ok(Value::String(s.to_string())),
        _ => Err(bad(format!("{field} must be one of {}", allowed.join(", ")))),
    }
}

/// `"HHMM"` → minutes since midnight.
fn hhmm(v: Option<&Value>, field: &str) -> GraphResult<u32> {
    let s = v.and_then(Value::as_str).ok_or_else(|| bad(format!("{field} is required (\"HHMM\")")))?;
    let ok = s.len() == 4 && s.chars().all(|c| c.is_ascii_digit());
    let (h, m) = if ok {
        (s[..2].parse::<u32>().unwrap_or(99), s[2..].parse::<u32>().unwrap_or(99))
    } else {
        (99, 99)
    };
    if h > 23 || m > 59 {
        return Err(bad(format!("{field} must be a 24-hour time \"HHMM\", got {s:?}")));
    }
    Ok(h * 60 + m)
}

fn validate_call_hours(ch: &Value, now_ms: i64) -> GraphResult<Value> {
    let obj = ch.as_object().ok_or_else(|| bad("call_hours must be an object"))?;
    for k in obj.keys() {
        if !["status", "timezone_id", "weekly_operating_hours", "holiday_schedule"].contains(&k.as_str()) {
            return Err(bad(format!("Unknown field call_hours.{k}")));
        }
    }
    let status =
        one_of(obj.get("status").unwrap_or(&Value::Null), "call_hours.status", &["ENABLED", "DISABLED"])?;
    let mut out = Map::new();
    out.insert("status".into(), status.clone());
    if status == "DISABLED" && obj.len() == 1 {
        return Ok(Value::Object(out));
    }
    let tz_id = obj
        .get("timezone_id")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("call_hours.timezone_id is required"))?;
    let tz: Tz = tz_id.parse().map_err(|_| bad(format!("Invalid timezone_id: {tz_id}")))?;
    out.insert("timezone_id".into(), Value::String(tz_id.into()));
    let weekly = obj
        .get("weekly_operating_hours")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("call_hours.weekly_operating_hours is required"))?;
    if weekly.is_empty() {
        return Err(bad("weekly_operating_hours must not be empty"));
    }
    let mut per_day: [Vec<(u32, u32)>; 7] = Default::default();
    for e in weekly {
        let day = e.get("day_of_week").and_then(Value::as_str).unwrap_or("");
        let idx = DAYS
            .iter()
            .position(|d| *d == day)
            .ok_or_else(|| bad(format!("Invalid day_of_week: {day:?}")))?;
        let open = hhmm(e.get("open_time"), "open_time")?;
        let close = hhmm(e.get("close_time"), "close_time")?;
        if open >= close {
            return Err(bad(format!("open_time must be before close_time on {day}")));
        }
        per_day[idx].push((open, close));
    }
    for (i, slots) in per_day.iter_mut().enumerate() {
        if slots.len() > 2 {
            return Err(bad(format!("At most 2 entries are allowed per day ({})", DAYS[i])));
        }
        slots.sort();
        if slots.len() == 2 && slots[0].1 > slots[1].0 {
            return Err(bad(format!("Overlapping schedule on {}", DAYS[i])));
        }
    }
    out.insert("weekly_operating_hours".into(), Value::Array(weekly.clone()));
    if let Some(h) = obj.get("holiday_schedule") {
        let list = h.as_array().ok_or_else(|| bad("holiday_schedule must be an array"))?;
        if list.len() > 20 {
            return Err(bad("holiday_schedule allows at most 20 entries"));
        }
        let today = tz.timestamp_millis_opt(now_ms).single().map(|t| t.date_naive());
        for e in list {
            let d = e.get("date").and_then(Value::as_str).unwrap_or("");
            let date = NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .ok()
                .filter(|_| d.len() == 10)
                .ok_or_else(|| bad(format!("Invalid date format {d:?}: expected YYYY-MM-DD")))?;
            if today.is_some_and(|t| date < t) {
                return Err(bad(format!("Holiday date {d} is in the past")));
            }
            let start = hhmm(e.get("start_time"), "start_time")?;
            let end = hhmm(e.get("end_time"), "end_time")?;
            if start >= end {
                return Err(bad(format!("start_time must be before end_time on {d}")));
            }
        }
        out.insert("holiday_schedule".into(), h.clone());
    }
    Ok(Value::Object(out))
}

/// Validate a settings POST body; returns the `calling` keys to store.
pub fn validate(body: &Value, now_ms: i64) -> GraphResult<Map<String, Value>> {
    let root = body.as_object().ok_or_else(|| bad("Request body must be a JSON object"))?;
    let calling = match root.get("calling") {
        Some(Value::Object(c)) => c,
        Some(_) => return Err(bad("calling must be an object")),
        None => return Ok(Map::new()),
    };
    let mut out = Map::new();
    for (k, v) in calling {
        let stored = match k.as_str() {
            "status" => one_of(v, "calling.status", &["ENABLED", "DISABLED"])?,
            "call_icon_visibility" => {
                one_of(v, "call_icon_visibility", &["DEFAULT", "DISABLE_ALL", "HIDE_IN_CHAT"])?
            }
            "callback_permission_status" => {
                one_of(v, "callback_permission_status", &["ENABLED", "DISABLED"])?
            }
            "srtp_key_exchange_protocol" => one_of(v, "srtp_key_exchange_protocol", &["DTLS", "SDES"])?,
            "call_icons" => {
                let list = v
                    .get("restrict_to_user_countries")
                    .and_then(Value::as_array)
                    .ok_or_else(|| bad("call_icons.restrict_to_user_countries must be an array"))?;
                for c in list {
                    let ok =
                        c.as_str().is_some_and(|s| s.len() == 2 && s.chars().all(|c| c.is_ascii_uppercase()));
                    if !ok {
                        return Err(bad(format!("Invalid country code in restrict_to_user_countries: {c}")));
                    }
                }
                v.clone()
            }
            "call_hours" => validate_call_hours(v, now_ms)?,
            "sip" => {
                let status =
                    one_of(v.get("status").unwrap_or(&Value::Null), "sip.status", &["ENABLED", "DISABLED"])?;
                let mut sip = Map::new();
                sip.insert("status".into(), status);
                if let Some(servers) = v.get("servers") {
                    let list = servers.as_array().ok_or_else(|| bad("sip.servers must be an array"))?;
                    let mut out_servers = vec![];
                    for s in list {
                        let host = s.get("hostname").and_then(Value::as_str).filter(|h| !h.is_empty());
                        let host = host.ok_or_else(|| bad("sip.servers[].hostname is required"))?;
                        let port = s.get("port").map(|p| p.as_u64().filter(|p| (1..=65535).contains(p)));
                        let port = match port {
                            None => 5061,
                            Some(Some(p)) => p,
                            Some(None) => return Err(bad("sip.servers[].port must be 1-65535")),
                        };
                        if let Some(params) = s.get("request_uri_user_params") {
                            let m = params
                                .as_object()
                                .ok_or_else(|| bad("request_uri_user_params must be an object"))?;
                            for (pk, pv) in m {
                                let pv = pv
                                    .as_str()
                                    .ok_or_else(|| bad("request_uri_user_params values must be strings"))?;
                                if pk.chars().count() > 128 || pv.chars().count() > 128 {
                                    return Err(bad(
                                        "request_uri_user_params keys and values are at most 128 characters",
                                    ));
                                }
                            }
                        }
                        let mut o = s.clone();
                        o["hostname"] = Value::String(host.into());
                        o["port"] = Value::from(port);
                        out_servers.push(o);
                    }
                    sip.insert("servers".into(), Value::Array(out_servers));
                }
                Value::Object(sip)
            }
            "audio" => {
                let codecs = v
                    .get("additional_codecs")
                    .and_then(Value::as_array)
                    .ok_or_else(|| bad("audio.additional_codecs must be an array"))?;
                for c in codecs {
                    if !matches!(c.as_str(), Some("PCMA" | "PCMU")) {
                        return Err(bad(format!("Unsupported additional codec {c}: only PCMA and PCMU")));
                    }
                }
                v.clone()
            }
            other => return Err(bad(format!("Unknown field calling.{other}"))),
        };
        out.insert(k.clone(), stored);
    }
    Ok(out)
}

/// Whether stored `call_hours` let a call through at `now_ms`.
pub fn is_open(call_hours: &Value, now_ms: i64) -> bool {
    if call_hours.get("status").and_then(Value::as_str) != Some("ENABLED") {
        return true;
    }
    let Some(tz) = call_hours.get("timezone_id").and_then(Value::as_str).and_then(|t| t.parse::<Tz>().ok())
    else {
        return true;
    };
    let Some(local) = tz.timestamp_millis_opt(now_ms).single() else { return true };
    let minute = local.hour() * 60 + local.minute();
    let date = local.date_naive().format("%Y-%m-%d").to_string();
    let mins = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .and_then(|s| Some(s.get(..2)?.parse::<u32>().ok()? * 60 + s.get(2..)?.parse::<u32>().ok()?))
    };
    if let Some(holidays) = call_hours.get("holiday_schedule").and_then(Value::as_array) {
        for h in holidays {
            if h.get("date").and_then(Value::as_str) == Some(date.as_str())
                && let (Some(s), Some(e)) = (mins(h.get("start_time")), mins(h.get("end_time")))
                && minute >= s
                && minute < e
            {
                return false;
            }
        }
    }
    let day = DAYS[local.weekday().num_days_from_monday() as usize];
    call_hours.get("weekly_operating_hours").and_then(Value::as_array).is_some_and(|w| {
        w.iter().any(|e| {
            e.get("day_of_week").and_then(Value::as_str) == Some(day)
                && matches!((mins(e.get("open_time")), mins(e.get("close_time"))), (Some(o), Some(c)) if minute >= o && minute < c)
        })
    })
}
