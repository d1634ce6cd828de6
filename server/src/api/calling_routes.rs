//! `/api/v1/app/calling/…`: what the `/calling` page shows, for integrators and the CLI.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use calling::accounts::Permission;
use calling::accounts::audit;
use calling::analytics::{Analytics, AnalyticsPeriod};
use calling::billing;
use calling::calls::{self, CallDetail, CallFilter, CallPage, CallStatus, Direction};
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

#[derive(Deserialize)]
struct OverviewQuery {
    period: Option<String>,
}

#[derive(Serialize)]
struct OverviewResponse {
    numbers: Vec<WhatsAppNumber>,
    overview: Overview,
    answer_rate_percent: Option<i64>,
    average_duration_seconds: Option<i64>,
}

/// `GET /overview?period=today|7d`: the page-header card.
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

#[derive(Serialize)]
struct AnalyticsResponse {
    analytics: Analytics,
}

#[derive(Deserialize)]
struct AnalyticsQuery {
    period: Option<String>,
    /// A custom range: `YYYY-MM-DD`, both days included.
    from: Option<String>,
    to: Option<String>,
}

/// `GET /analytics?period=today|7d|30d` or `?from=YYYY-MM-DD&to=YYYY-MM-DD`: totals,
/// `analytics.daily_series[]` (`date`, `count`, `failed_count`, answered, missed, average
/// duration, cost) with every day of the period present, the weekday × hour counts and the
/// per-agent figures.
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
        Analytics::load_between(&services.db, &auth.workspace_id, from, to).await?
    } else {
        let raw = query.period.as_deref().unwrap_or("30d");
        let period = AnalyticsPeriod::parse(raw).ok_or_else(|| {
            Error::validation("period", format!("{raw:?} is not one of today, 7d, 30d, custom"))
        })?;
        Analytics::load(&services.db, &auth.workspace_id, period, services.clock.now()).await?
    };
    Ok(Json(AnalyticsResponse { analytics }))
}

#[derive(Deserialize)]
struct CallsQuery {
    limit: Option<i64>,
    status: Option<String>,
    direction: Option<String>,
    q: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
    /// The business number (Graph `phone_number_id`).
    phone_number_id: Option<String>,
    /// The agent on the call (user id).
    agent: Option<String>,
    cursor: Option<String>,
}

/// `GET /calls?limit=&status=&direction=&q=&from=&to=&phone_number_id=&agent=&cursor=`: the
/// call history, newest first.
async fn list_calls(
    auth: Auth,
    State(services): State<Services>,
    ApiQuery(query): ApiQuery<CallsQuery>,
) -> ApiResult<CallPage> {
    auth.require(Permission::ViewCalls)?;
    Ok(Json(calls::list(&services.db, &auth.workspace_id, &call_filter(query)?).await?))
}

/// `GET /calls.csv?…`: every call the same filters select (no paging), as CSV.
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
    let status = query
        .status
        .as_deref()
        .map(|raw| {
            CallStatus::parse(raw).ok_or_else(|| {
                let known: Vec<&str> = CallStatus::ALL.iter().map(|s| s.as_str()).collect();
                Error::validation("status", format!("{raw:?} is not one of {}", known.join(", ")))
            })
        })
        .transpose()?;
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
async fn call_detail(
    auth: Auth,
    State(services): State<Services>,
    Path(call_id): Path<String>,
) -> ApiResult<CallDetail> {
    auth.require(Permission::ViewCalls)?;
    Ok(Json(calls::detail(&services.db, &auth.workspace_id, &call_id).await?))
}

#[derive(Serialize)]
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

#[derive(Deserialize)]
struct PermissionQuery {
    phone: Option<String>,
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

#[derive(Deserialize)]
struct DeepLinkQuery {
    phone_number_id: Option<String>,
    payload: Option<String>,
}

/// `GET /deep-link?phone_number_id=&payload=`: the `wa.me/call` link to one of the workspace's
/// numbers (the first when none is named) with its QR code as SVG.
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

#[derive(Serialize)]
struct PermissionsResponse {
    permissions: Vec<PermissionLookup>,
}

/// `GET /permissions`: everyone who may be called now, per the ledger.
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

#[derive(Serialize)]
struct NumberSettingsResponse {
    phone_number_id: String,
    display_phone_number: String,
    #[serde(flatten)]
    settings: NumberSettings,
}

#[derive(Serialize)]
struct SettingsResponse {
    numbers: Vec<NumberSettingsResponse>,
}

/// `GET /settings`: each number's call settings, what WhatsApp reports, and the drift.
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

#[derive(Deserialize)]
struct UpdateSettingsRequest {
    /// Which number; the workspace's first when absent.
    phone_number_id: Option<String>,
    /// Meta's `calling` object (status, call_icon_visibility, call_hours, …).
    settings: CallingSettings,
}

/// `PUT /settings`: validates by Meta's rules, pushes to WhatsApp, stores once accepted.
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

#[derive(Deserialize)]
struct EstimateQuery {
    /// A callee: estimate a business-initiated call.
    to: Option<String>,
    /// Or a message kind: text, media, template, calling_template.
    message: Option<String>,
}

/// `GET /estimate?to=+91…` or `?message=calling_template`: what a call (for the rate card's
/// estimate minutes) or a send would cost, before doing it.
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
