//! `/api/v1/app/calling/…`: what the `/calling` page shows, for integrators and the CLI.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use calling::accounts::Permission;
use calling::accounts::audit;
use calling::analytics::{Analytics, AnalyticsPeriod};
use calling::billing;
use calling::calls::{self, CallDetail, CallFilter, CallPage, CallStatus, Direction, Outcome};
use calling::graph::GraphClient;
use calling::ledger::{self, PermissionLookup};
use calling::numbers::{self, WhatsAppNumber};
use calling::overview::{Overview, OverviewPeriod};
use calling::permission_sync::{self, Reconciled};
use calling::permissions::PermissionLimits;
use calling::phone::PhoneNumber;
use calling::settings::CallingSettings;
use calling::settings_sync::{self, NumberSettings};
use calling::{Error, Services};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiQuery;
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;

type ApiResult<T> = Result<Json<T>, ApiError>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/overview", get(overview))
        .route("/analytics", get(analytics))
        .route("/calls", get(list_calls))
        .route("/calls.csv", get(export_calls))
        .route("/calls/{call_id}", get(call_detail))
        .route("/calls/{call_id}/status", get(call_status))
        .route("/permission-status", get(permission_status))
        .route("/permission-status/sync", axum::routing::post(sync_permission_status))
        .route("/permissions", get(permissions))
        .route("/settings", get(settings).put(update_settings))
        .route("/estimate", get(estimate))
        .route("/deep-link", get(deep_link))
}

/// This file's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    overview,
    analytics,
    list_calls,
    export_calls,
    call_detail,
    call_status,
    permission_status,
    sync_permission_status,
    permissions,
    settings,
    update_settings,
    estimate,
    deep_link
))]
pub(super) struct Doc;

/// A call's id in the path.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // read by the OpenAPI document only; handlers take `Path<String>`
pub(super) struct CallIdPath {
    /// The call's id (`call_id` in every call listing).
    call_id: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct OverviewQuery {
    /// `today` (the default) or `7d`.
    period: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct OverviewResponse {
    numbers: Vec<WhatsAppNumber>,
    overview: Overview,
    answer_rate_percent: Option<i64>,
    average_duration_seconds: Option<i64>,
}

/// `GET /overview?period=today|7d`: the page-header card.
#[utoipa::path(get, path = "/app/calling/overview", tag = "calling", params(OverviewQuery),
    summary = "The page-header card: numbers, today's calls, answer rate, spend",
    responses((status = 200, description = "The workspace's numbers and the period's figures", body = OverviewResponse)))]
async fn overview(
    auth: Auth,
    State(services): State<Services>,
    ApiQuery(query): ApiQuery<OverviewQuery>,
) -> ApiResult<OverviewResponse> {
    auth.require(Permission::ViewCalls)?;
    let period = match query.period.as_deref() {
        None | Some("today") => OverviewPeriod::Today,
        Some("7d") => OverviewPeriod::SevenDays,
        Some(other) => {
            return Err(Error::validation("period", format!("{other:?} is not one of today, 7d")).into());
        }
    };
    let overview = Overview::load(&services.db, &auth.workspace_id, period, services.clock.now()).await?;
    Ok(Json(OverviewResponse {
        numbers: numbers::list(&services.db, &auth.workspace_id).await?,
        answer_rate_percent: overview.answer_rate_percent(),
        average_duration_seconds: overview.average_duration_seconds(),
        overview,
    }))
}

#[derive(Serialize, ToSchema)]
struct AnalyticsResponse {
    analytics: Analytics,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AnalyticsQuery {
    /// `today`, `7d`, `30d` (the default) or `custom` (with `from` and `to`).
    period: Option<String>,
    /// A custom range: `YYYY-MM-DD`, both days included.
    from: Option<String>,
    to: Option<String>,
}

/// `GET /analytics?period=today|7d|30d` or `?from=YYYY-MM-DD&to=YYYY-MM-DD`: totals,
/// `analytics.daily_series[]` (`date`, `count`, `failed_count`, answered, missed, average
/// duration, cost) with every day of the period present, the weekday × hour counts and the
/// per-agent figures.
#[utoipa::path(get, path = "/app/calling/analytics", tag = "calling", params(AnalyticsQuery),
    summary = "Totals, the daily series, the weekday × hour heatmap and per-agent figures",
    responses((status = 200, description = "Every day of the period is present in `daily_series`", body = AnalyticsResponse)))]
async fn analytics(
    auth: Auth,
    State(services): State<Services>,
    ApiQuery(query): ApiQuery<AnalyticsQuery>,
) -> ApiResult<AnalyticsResponse> {
    auth.require(Permission::ViewCalls)?;
    let custom = query.from.is_some() || query.to.is_some() || query.period.as_deref() == Some("custom");
    let analytics = if custom {
        let from = query.from.as_deref().ok_or_else(|| Error::validation("from", "is required with to"))?;
        let to = query.to.as_deref().ok_or_else(|| Error::validation("to", "is required with from"))?;
        Analytics::load_between(&services.db, &auth.workspace_id, from, to, services.clock.now()).await?
    } else {
        let raw = query.period.as_deref().unwrap_or("30d");
        let period = AnalyticsPeriod::parse(raw).ok_or_else(|| {
            Error::validation("period", format!("{raw:?} is not one of today, 7d, 30d, custom"))
        })?;
        Analytics::load(&services.db, &auth.workspace_id, period, services.clock.now()).await?
    };
    Ok(Json(AnalyticsResponse { analytics }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CallsQuery {
    /// Calls per page (1–200, default 50).
    limit: Option<i64>,
    /// ringing, answered, completed, missed, rejected, failed; or the seed's groups: `sent`
    /// (ringing, missed, rejected), `delivered` (answered, completed).
    status: Option<String>,
    /// user_initiated or business_initiated.
    direction: Option<String>,
    /// Part of the contact's number or name.
    q: Option<String>,
    /// Calls started at or after this time (ms since the epoch).
    from: Option<i64>,
    /// Calls started before this time (ms since the epoch).
    to: Option<i64>,
    /// The business number (Graph `phone_number_id`).
    phone_number_id: Option<String>,
    /// The agent on the call (user id).
    agent: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// `GET /calls?limit=&status=&direction=&q=&from=&to=&phone_number_id=&agent=&cursor=`: the
/// call history, newest first.
#[utoipa::path(get, path = "/app/calling/calls", tag = "calling", params(CallsQuery),
    summary = "The call history, newest first, filtered and paged by cursor",
    responses((status = 200, description = "One page; `next_cursor` is null on the last", body = CallPage)))]
async fn list_calls(
    auth: Auth,
    State(services): State<Services>,
    ApiQuery(query): ApiQuery<CallsQuery>,
) -> ApiResult<CallPage> {
    auth.require(Permission::ViewCalls)?;
    Ok(Json(calls::list(&services.db, &auth.workspace_id, &call_filter(query)?).await?))
}

/// `GET /calls.csv?…`: every call the same filters select (no paging), as CSV.
#[utoipa::path(get, path = "/app/calling/calls.csv", tag = "calling", params(CallsQuery),
    summary = "Every call the filters select, as CSV (no paging)",
    responses((status = 200, description = "One row per call, with a header row", body = String, content_type = "text/csv")))]
async fn export_calls(
    auth: Auth,
    State(services): State<Services>,
    ApiQuery(query): ApiQuery<CallsQuery>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    auth.require(Permission::ViewCalls)?;
    let csv = calls::csv(&services.db, &auth.workspace_id, &call_filter(query)?).await?;
    let today = calling::dates::date_of_millis(services.clock.now());
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"calls-{today}.csv\"")),
        ],
        csv,
    ))
}

/// The history's filters from the query string, each checked once.
fn call_filter(query: CallsQuery) -> Result<CallFilter, Error> {
    // One of our statuses, or the seed's `sent` / `delivered` (a group of them).
    let (status, outcome) = match query.status.as_deref().filter(|raw| !raw.is_empty()) {
        None => (None, None),
        Some(raw) => match (CallStatus::parse(raw), Outcome::parse(raw)) {
            (Some(status), _) => (Some(status), None),
            (None, Some(outcome)) => (None, Some(outcome)),
            (None, None) => {
                let known: Vec<&str> = CallStatus::ALL
                    .iter()
                    .map(|s| s.as_str())
                    .chain([Outcome::Sent.as_str(), Outcome::Delivered.as_str()])
                    .collect();
                return Err(Error::validation(
                    "status",
                    format!("{raw:?} is not one of {}", known.join(", ")),
                ));
            }
        },
    };
    let direction = query
        .direction
        .as_deref()
        .map(|raw| {
            Direction::parse(raw).ok_or_else(|| {
                Error::validation(
                    "direction",
                    format!("{raw:?} is not one of user_initiated, business_initiated"),
                )
            })
        })
        .transpose()?;
    Ok(CallFilter {
        status,
        outcome,
        direction,
        search: query.q,
        from: query.from,
        to: query.to,
        phone_number_id: query.phone_number_id,
        agent: query.agent,
        cursor: query.cursor,
        limit: query.limit,
    })
}

/// `GET /calls/:call_id`: one call with its timeline.
#[utoipa::path(get, path = "/app/calling/calls/{call_id}", tag = "calling", params(CallIdPath),
    summary = "One call: who, when, outcome, cost, payloads, timeline, quality, recording",
    responses((status = 200, description = "The call", body = CallDetail)))]
async fn call_detail(
    auth: Auth,
    State(services): State<Services>,
    Path(call_id): Path<String>,
) -> ApiResult<CallDetail> {
    auth.require(Permission::ViewCalls)?;
    Ok(Json(calls::detail(&services.db, &auth.workspace_id, &call_id).await?))
}

#[derive(Serialize, ToSchema)]
struct CallStatusResponse {
    call_id: String,
    status: CallStatus,
    failure_code: Option<i64>,
    failure_reason: Option<String>,
    duration_seconds: Option<i64>,
    /// The last thing WhatsApp (or we) did to the call.
    last_event: Option<String>,
    last_event_at: Option<i64>,
}

/// `GET /calls/:call_id/status`: where the call stands now, as the seed's "watch a call ring
/// through" loop polls it.
#[utoipa::path(get, path = "/app/calling/calls/{call_id}/status", tag = "calling", params(CallIdPath),
    summary = "Where the call stands now (poll it to watch a call ring through)",
    responses((status = 200, description = "The call's status and its last event", body = CallStatusResponse)))]
async fn call_status(
    auth: Auth,
    State(services): State<Services>,
    Path(call_id): Path<String>,
) -> ApiResult<CallStatusResponse> {
    auth.require(Permission::ViewCalls)?;
    let detail = calls::detail(&services.db, &auth.workspace_id, &call_id).await?;
    let last = detail.timeline.last();
    Ok(Json(CallStatusResponse {
        call_id: detail.summary.id.clone(),
        status: detail.summary.status,
        failure_code: detail.failure_code,
        failure_reason: detail.failure_reason.clone(),
        duration_seconds: detail.summary.duration_seconds,
        last_event: last.map(|item| item.kind.clone()),
        last_event_at: last.map(|item| item.at),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PermissionQuery {
    /// The WhatsApp user (E.164, e.g. `+919876543210`); required.
    phone: Option<String>,
    /// Which of the workspace's numbers; the first when absent.
    phone_number_id: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by the OpenAPI document only
struct NumberQuery {
    /// Which of the workspace's numbers; the first when absent.
    phone_number_id: Option<String>,
}

/// The workspace number a request names (`phone_number_id`), or its only/first number.
pub(super) async fn pick_number(
    services: &Services,
    workspace_id: &str,
    phone_number_id: Option<&str>,
) -> Result<WhatsAppNumber, Error> {
    let all = numbers::list(&services.db, workspace_id).await?;
    match phone_number_id {
        Some(id) => all
            .into_iter()
            .find(|n| n.phone_number_id == id)
            .ok_or(Error::NotFound { what: "WhatsApp number" }),
        None => all.into_iter().next().ok_or(Error::NotFound { what: "connected WhatsApp number" }),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DeepLinkQuery {
    /// Which of the workspace's numbers; the first when absent.
    phone_number_id: Option<String>,
    /// `biz_payload` handed back in the call webhook (at most 512 characters).
    payload: Option<String>,
}

/// `GET /deep-link?phone_number_id=&payload=`: the `wa.me/call` link to one of the workspace's
/// numbers (the first when none is named) with its QR code as SVG.
#[utoipa::path(get, path = "/app/calling/deep-link", tag = "calling", params(DeepLinkQuery),
    summary = "A wa.me/call link to a workspace number, with its QR code",
    responses((status = 200, description = "The link and an SVG QR code of it", body = calling::deep_links::DeepLink)))]
async fn deep_link(
    auth: Auth,
    State(services): State<Services>,
    ApiQuery(query): ApiQuery<DeepLinkQuery>,
) -> ApiResult<calling::deep_links::DeepLink> {
    auth.require(Permission::ViewSettings)?;
    let number = pick_number(&services, &auth.workspace_id, query.phone_number_id.as_deref()).await?;
    let business = PhoneNumber::parse(&number.e164)?;
    Ok(Json(calling::deep_links::DeepLink::build(&business, query.payload.as_deref())?))
}

/// `GET /permission-status?phone=`: has this user allowed calls, and would a call or a
/// permission request go through now (and if not, when)?
#[utoipa::path(get, path = "/app/calling/permission-status", tag = "calling", params(PermissionQuery),
    summary = "May this user be called, or asked for permission, now — and if not, when?",
    responses((status = 200, description = "The ledger's view of the user", body = PermissionLookup)))]
async fn permission_status(
    auth: Auth,
    State(services): State<Services>,
    ApiQuery(query): ApiQuery<PermissionQuery>,
) -> ApiResult<PermissionLookup> {
    auth.require(Permission::ViewCalls)?;
    let phone =
        PhoneNumber::parse(query.phone.as_deref().ok_or_else(|| Error::validation("phone", "is required"))?)?;
    let number = pick_number(&services, &auth.workspace_id, query.phone_number_id.as_deref()).await?;
    let now = services.clock.now();
    Ok(Json(ledger::lookup(&services.db, &number.id, &phone, now, &PermissionLimits::PRODUCTION).await?))
}

/// `POST /permission-status/sync?phone=`: asks WhatsApp (`GET call_permissions`) now instead of
/// waiting for the periodic comparison; the ledger takes WhatsApp's word where they differ.
#[utoipa::path(post, path = "/app/calling/permission-status/sync", tag = "calling", params(PermissionQuery),
    summary = "Compare one user's permission with WhatsApp now",
    responses(
        (status = 200, description = "Both views and whether the ledger was corrected", body = Reconciled),
        (status = 502, description = "WhatsApp refused or failed (`whatsapp_error`, `details.meta_code`)", body = crate::api::openapi::ErrorEnvelope)))]
async fn sync_permission_status(
    auth: Auth,
    State(services): State<Services>,
    ApiQuery(query): ApiQuery<PermissionQuery>,
) -> ApiResult<Reconciled> {
    auth.require(Permission::ViewCalls)?;
    let phone =
        PhoneNumber::parse(query.phone.as_deref().ok_or_else(|| Error::validation("phone", "is required"))?)?;
    let number = pick_number(&services, &auth.workspace_id, query.phone_number_id.as_deref()).await?;
    let client = GraphClient::new()?;
    let reconciled =
        permission_sync::reconcile(&services, &client, &number, &phone, &PermissionLimits::PRODUCTION)
            .await?;
    Ok(Json(reconciled))
}

#[derive(Serialize, ToSchema)]
struct PermissionsResponse {
    permissions: Vec<PermissionLookup>,
}

/// `GET /permissions`: everyone who may be called now, per the ledger.
#[utoipa::path(get, path = "/app/calling/permissions", tag = "calling", params(NumberQuery),
    summary = "Everyone who may be called now",
    responses((status = 200, description = "Granted permissions, per the ledger", body = PermissionsResponse)))]
async fn permissions(
    auth: Auth,
    State(services): State<Services>,
    ApiQuery(query): ApiQuery<PermissionQuery>,
) -> ApiResult<PermissionsResponse> {
    auth.require(Permission::ViewCalls)?;
    let number = pick_number(&services, &auth.workspace_id, query.phone_number_id.as_deref()).await?;
    let now = services.clock.now();
    let permissions = ledger::granted(&services.db, &number.id, now, &PermissionLimits::PRODUCTION).await?;
    Ok(Json(PermissionsResponse { permissions }))
}

#[derive(Serialize, ToSchema)]
struct NumberSettingsResponse {
    phone_number_id: String,
    display_phone_number: String,
    #[serde(flatten)]
    settings: NumberSettings,
}

#[derive(Serialize, ToSchema)]
struct SettingsResponse {
    numbers: Vec<NumberSettingsResponse>,
}

/// `GET /settings`: each number's call settings, what WhatsApp reports, and the drift.
#[utoipa::path(get, path = "/app/calling/settings", tag = "calling",
    summary = "Each number's call settings, what WhatsApp reports, and the drift",
    responses((status = 200, description = "One entry per number", body = SettingsResponse)))]
async fn settings(auth: Auth, State(services): State<Services>) -> ApiResult<SettingsResponse> {
    auth.require(Permission::ViewSettings)?;
    let mut numbers_out = Vec::new();
    for number in numbers::list(&services.db, &auth.workspace_id).await? {
        let settings = settings_sync::load(&services.db, &number.id).await?;
        numbers_out.push(NumberSettingsResponse {
            phone_number_id: number.phone_number_id,
            display_phone_number: number.display_phone_number,
            settings,
        });
    }
    Ok(Json(SettingsResponse { numbers: numbers_out }))
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"phone_number_id": "106540352242922", "settings": {"status": "ENABLED", "call_icon_visibility": "DEFAULT", "callback_permission_status": "ENABLED", "call_hours": {"status": "ENABLED", "timezone_id": "Asia/Kolkata", "weekly_operating_hours": [{"day_of_week": "MONDAY", "open_time": "0900", "close_time": "1800"}], "holiday_schedule": [{"date": "2026-12-25", "start_time": "0000", "end_time": "2359"}]}}}))]
struct UpdateSettingsRequest {
    /// Which number; the workspace's first when absent.
    phone_number_id: Option<String>,
    /// Meta's `calling` object (status, call_icon_visibility, call_hours, …).
    settings: CallingSettings,
}

/// `PUT /settings`: validates by Meta's rules, pushes to WhatsApp, stores once accepted.
#[utoipa::path(put, path = "/app/calling/settings", tag = "calling", request_body = UpdateSettingsRequest,
    summary = "Change a number's call settings (checked by Meta's rules, then pushed to WhatsApp)",
    responses(
        (status = 200, description = "The number's settings as stored and pushed", body = NumberSettingsResponse),
        (status = 502, description = "WhatsApp refused or failed (`whatsapp_error`, `details.meta_code`); nothing stored", body = crate::api::openapi::ErrorEnvelope)))]
async fn update_settings(
    auth: Auth,
    State(services): State<Services>,
    Json(body): Json<UpdateSettingsRequest>,
) -> ApiResult<NumberSettingsResponse> {
    auth.require(Permission::ChangeSettings)?;
    let number = pick_number(&services, &auth.workspace_id, body.phone_number_id.as_deref()).await?;
    let client = GraphClient::new()?;
    let settings = settings_sync::apply(&services, &client, &number, &body.settings).await?;
    let entry = audit::NewEntry {
        workspace_id: Some(&auth.workspace_id),
        actor: &auth.actor(),
        action: "settings.updated",
        target: Some(&number.id),
        details: serde_json::to_value(&body.settings).unwrap_or_default(),
        ip: None,
    };
    audit::record(&services.db, entry, services.clock.now()).await?;
    Ok(Json(NumberSettingsResponse {
        phone_number_id: number.phone_number_id,
        display_phone_number: number.display_phone_number,
        settings,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct EstimateQuery {
    /// A callee: estimate a business-initiated call.
    to: Option<String>,
    /// Or a message kind: text, media, template, calling_template.
    message: Option<String>,
}

/// `GET /estimate?to=+91…` or `?message=calling_template`: what a call (for the rate card's
/// estimate minutes) or a send would cost, before doing it.
#[utoipa::path(get, path = "/app/calling/estimate", tag = "calling", params(EstimateQuery),
    summary = "What a call or a send would cost, before doing it",
    responses((status = 200, description = "The rate card's price for it", body = billing::Estimate)))]
async fn estimate(
    auth: Auth,
    State(services): State<Services>,
    ApiQuery(query): ApiQuery<EstimateQuery>,
) -> ApiResult<billing::Estimate> {
    auth.require(Permission::ViewCalls)?;
    let now = services.clock.now();
    let callee;
    let billable = match (query.to.as_deref(), query.message.as_deref()) {
        (Some(to), None) => {
            callee = PhoneNumber::parse(to)?;
            billing::Billable::Call { callee: &callee }
        }
        (None, Some(kind)) => {
            let kind =
                billing::MessageKind::ALL.into_iter().find(|k| k.as_str() == kind).ok_or_else(|| {
                    Error::validation("message", "must be one of text, media, template, calling_template")
                })?;
            billing::Billable::Message { kind }
        }
        _ => return Err(Error::validation("to", "give either `to` (a call) or `message` (a send)").into()),
    };
    Ok(Json(billing::holds::estimate(&services.db, &auth.workspace_id, &billable, now).await?))
}
