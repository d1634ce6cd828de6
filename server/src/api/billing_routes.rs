//! `/api/v1/app/billing`: the wallet (with its low-balance warning), the subscription, the rate
//! card and the expenses log (per-call and per-message lines, filtered by kind and period, as
//! JSON or CSV) — and the writes: manual top-ups (the "manual / sandbox" payment provider),
//! manual adjustments with a reason, publishing a rate card version, setting the subscription,
//! the low-balance threshold. Every
//! write is audited with the client's address. The admin panel's billing page
//! (`app::pages::admin::billing`) applies the same `calling::billing` rules.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use calling::Services;
use calling::accounts::{Permission, audit};
use calling::billing::manual::{self, ManualTopUp, SubscriptionChange, TopUpRecorded};
use calling::billing::rates::{self, NewRateCard, RateCard};
use calling::billing::{
    Balance, ExpenseFilter, Micros, StatementKind, Subscription, Wallet, statement, subscription, threshold,
    wallet,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ApiJson, ApiQuery};
use crate::AppState;
use crate::accounts::Meta;
use crate::auth::Auth;
use crate::error::ApiError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(overview))
        .route("/expenses", get(expenses))
        .route("/expenses.csv", get(expenses_csv))
        .route("/top-ups", post(top_up))
        .route("/adjustments", post(adjust))
        .route("/rate-card", get(rate_card).put(publish_rate_card))
        .route("/subscription", put(set_subscription))
        .route("/low-balance-threshold", put(set_threshold))
}

/// This file's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    overview,
    expenses,
    expenses_csv,
    top_up,
    adjust,
    rate_card,
    publish_rate_card,
    set_subscription,
    set_threshold
))]
pub(super) struct Doc;

#[derive(Serialize, utoipa::ToSchema)]
struct BillingOverview {
    wallet: Wallet,
    available: Micros,
    low_balance_threshold: Micros,
    /// `available` is below the threshold: time to top up.
    low_balance: bool,
    /// `None`: no subscription, which blocks paid actions (sandbox numbers stay free).
    subscription: Option<Subscription>,
}

/// `GET /billing`: balance, what is held, what is available and whether that is low, the
/// subscription.
#[utoipa::path(get, path = "/app/billing", tag = "billing",
    summary = "The wallet, what is available, the low-balance warning and the subscription",
    responses((status = 200, description = "The workspace's billing state", body = BillingOverview)))]
async fn overview(auth: Auth, State(services): State<Services>) -> Result<Json<BillingOverview>, ApiError> {
    auth.require(Permission::SeeBilling)?;
    let wallet = wallet::get(&services.db, &auth.workspace_id).await?;
    let balance = Balance::new(&wallet, threshold::get(&services.db, &auth.workspace_id).await?);
    Ok(Json(BillingOverview {
        available: balance.available,
        low_balance_threshold: balance.low_balance_threshold,
        low_balance: balance.low_balance,
        subscription: subscription::get(&services.db, &auth.workspace_id).await?,
        wallet,
    }))
}

/// The expenses filter as a query string: `kind`, `from`, `to` (unix ms, `to` exclusive).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ExpensesQuery {
    /// Only lines of this kind: top_up, call_charge, message_charge, refund, adjustment.
    kind: Option<String>,
    /// From this time (ms since the epoch); 30 days ago when absent.
    from: Option<i64>,
    /// Until this time (ms since the epoch); now when absent.
    to: Option<i64>,
}

impl ExpensesQuery {
    fn filter(&self) -> Result<ExpenseFilter, ApiError> {
        let kind =
            self.kind.as_deref().filter(|kind| !kind.is_empty()).map(StatementKind::parse).transpose()?;
        Ok(ExpenseFilter { kind, from: self.from, to: self.to })
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct Expenses {
    /// The period listed, `[from, to)` in unix ms.
    from: i64,
    to: i64,
    lines: Vec<statement::StatementLine>,
}

/// `GET /billing/expenses?kind=&from=&to=`: the billing lines of a period (default: the last
/// 30 days), optionally of one kind.
#[utoipa::path(get, path = "/app/billing/expenses", tag = "billing", params(ExpensesQuery),
    summary = "The statement: money in and out, per call and per message",
    responses((status = 200, description = "The lines of the range", body = Expenses)))]
async fn expenses(
    auth: Auth,
    State(services): State<Services>,
    ApiQuery(query): ApiQuery<ExpensesQuery>,
) -> Result<Json<Expenses>, ApiError> {
    auth.require(Permission::SeeBilling)?;
    let filter = query.filter()?;
    let now = services.clock.now();
    let (from, to) = filter.range(now);
    let lines = statement::lines(&services.db, &auth.workspace_id, &filter, now).await?;
    Ok(Json(Expenses { from, to, lines }))
}

/// `GET /billing/expenses.csv?kind=&from=&to=`: the same lines for a spreadsheet.
#[utoipa::path(get, path = "/app/billing/expenses.csv", tag = "billing", params(ExpensesQuery),
    summary = "The statement as CSV",
    responses((status = 200, description = "One row per line, with a header row", body = String, content_type = "text/csv")))]
async fn expenses_csv(
    auth: Auth,
    State(services): State<Services>,
    ApiQuery(query): ApiQuery<ExpensesQuery>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::SeeBilling)?;
    let filter = query.filter()?;
    let csv = statement::csv(&services.db, &auth.workspace_id, &filter, services.clock.now()).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"switchboard-expenses.csv\""),
        ],
        csv,
    ))
}

/// Appends the audit entry of a billing change, with the client's address.
async fn record(
    services: &Services,
    auth: &Auth,
    meta: &Meta,
    action: &str,
    target: &str,
    details: Value,
) -> Result<(), ApiError> {
    let ip = meta.ip();
    let entry = audit::NewEntry {
        workspace_id: Some(&auth.workspace_id),
        actor: &auth.actor(),
        action,
        target: Some(target),
        details,
        ip: ip.as_deref(),
    };
    audit::record(&services.db, entry, services.clock.now()).await?;
    Ok(())
}

fn required(field: &str) -> ApiError {
    ApiError(calling::Error::validation(field, "required"))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"amount": 25000000, "reference": "bank-transfer-2026-12-01", "note": "December"}))]
struct TopUpRequest {
    /// Micro-units of the wallet currency.
    amount: Option<Micros>,
    /// The payment's reference (a bank transfer's); one is generated when absent.
    reference: Option<String>,
    note: Option<String>,
}

/// `POST /billing/top-ups`: records a payment received outside Switchboard (the manual
/// provider). 201 with the wallet; the same reference again is 200 with `credited: false`.
#[utoipa::path(post, path = "/app/billing/top-ups", tag = "billing", request_body = TopUpRequest,
    summary = "Record a manual top-up (once per reference)",
    responses(
        (status = 201, description = "Credited", body = TopUpRecorded),
        (status = 200, description = "That reference was booked before: nothing credited again", body = TopUpRecorded)))]
async fn top_up(
    auth: Auth,
    State(services): State<Services>,
    meta: Meta,
    ApiJson(body): ApiJson<TopUpRequest>,
) -> Result<(StatusCode, Json<TopUpRecorded>), ApiError> {
    auth.require(Permission::TopUp)?;
    let amount = body.amount.ok_or_else(|| required("amount"))?;
    let top_up = ManualTopUp::new(amount, body.reference.as_deref(), body.note.as_deref())?;
    let now = services.clock.now();
    let recorded =
        manual::record_top_up(&services.db, &auth.workspace_id, &top_up, auth.user_id(), now).await?;
    if !recorded.credited {
        return Ok((StatusCode::OK, Json(recorded)));
    }
    let details = manual::top_up_details(&top_up, &recorded);
    record(&services, &auth, &meta, "billing.top_up", &recorded.top_up_id, details).await?;
    Ok((StatusCode::CREATED, Json(recorded)))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct AdjustmentRequest {
    /// Signed micro-units: positive adds to the wallet, negative takes from what is available.
    amount: Option<Micros>,
    reason: Option<String>,
}

/// `POST /billing/adjustments`: a manual correction with its reason (owners only), kept in the
/// ledger as an `adjustment` line. 201 with the wallet; never below zero (402).
#[utoipa::path(post, path = "/app/billing/adjustments", tag = "billing", request_body = AdjustmentRequest,
    summary = "A manual adjustment with a reason (never below zero)",
    responses(
        (status = 201, description = "The wallet after it", body = Wallet),
        (status = 402, description = "A debit larger than what is available (`insufficient_balance`, with `details`)", body = crate::api::openapi::ErrorEnvelope)))]
async fn adjust(
    auth: Auth,
    State(services): State<Services>,
    meta: Meta,
    ApiJson(body): ApiJson<AdjustmentRequest>,
) -> Result<(StatusCode, Json<Wallet>), ApiError> {
    auth.require(Permission::ManageBilling)?;
    let amount = body.amount.ok_or_else(|| required("amount"))?;
    let reason = body.reason.unwrap_or_default();
    // The ledger names who adjusted: the user, or the API key.
    let actor = auth.user_id().map_or_else(|| auth.actor(), str::to_owned);
    let adjusted =
        wallet::adjust(&services.db, &auth.workspace_id, amount, &reason, &actor, services.clock.now())
            .await?;
    let details =
        serde_json::json!({ "amount": amount, "reason": reason.trim(), "currency": adjusted.currency });
    let target = format!("workspace:{}", auth.workspace_id);
    record(&services, &auth, &meta, "billing.adjustment", &target, details).await?;
    Ok((StatusCode::CREATED, Json(adjusted)))
}

#[derive(Serialize, utoipa::ToSchema)]
struct RateCardResponse {
    current: RateCard,
    /// Every version, newest first (the current one included).
    versions: Vec<RateCard>,
}

/// `GET /billing/rate-card`: the current version and every version before it.
#[utoipa::path(get, path = "/app/billing/rate-card", tag = "billing",
    summary = "The current rate card and every earlier version",
    responses((status = 200, description = "The rate cards", body = RateCardResponse)))]
async fn rate_card(auth: Auth, State(services): State<Services>) -> Result<Json<RateCardResponse>, ApiError> {
    auth.require(Permission::SeeBilling)?;
    let current = rates::current(&services.db, &auth.workspace_id, services.clock.now()).await?;
    let versions = rates::versions(&services.db, &auth.workspace_id).await?;
    Ok(Json(RateCardResponse { current, versions }))
}

/// `PUT /billing/rate-card`: publishes the body as the next version (owners only). Calls
/// and sends already paid for keep the version they were priced with.
#[utoipa::path(put, path = "/app/billing/rate-card", tag = "billing", request_body = NewRateCard,
    summary = "Publish a new rate card version (past charges keep their price)",
    responses((status = 200, description = "The published version", body = RateCard)))]
async fn publish_rate_card(
    auth: Auth,
    State(services): State<Services>,
    meta: Meta,
    ApiJson(card): ApiJson<NewRateCard>,
) -> Result<Json<RateCard>, ApiError> {
    auth.require(Permission::ManageBilling)?;
    let published =
        rates::publish(&services.db, &auth.workspace_id, &card, auth.user_id(), services.clock.now()).await?;
    let details = rates::published_details(&published);
    record(&services, &auth, &meta, "billing.rate_card_published", &published.id, details).await?;
    Ok(Json(published))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct SubscriptionRequest {
    plan: Option<String>,
    /// `active`, `past_due` or `expired`.
    status: Option<String>,
    /// Unix ms.
    current_period_end: Option<i64>,
}

/// `PUT /billing/subscription`: sets plan, status and period end (owners only), as the
/// manual payment provider reports them.
#[utoipa::path(put, path = "/app/billing/subscription", tag = "billing", request_body = SubscriptionRequest,
    summary = "Set the plan, status (active, past_due, expired) and period end",
    responses((status = 200, description = "The subscription", body = Subscription)))]
async fn set_subscription(
    auth: Auth,
    State(services): State<Services>,
    meta: Meta,
    ApiJson(body): ApiJson<SubscriptionRequest>,
) -> Result<Json<Subscription>, ApiError> {
    auth.require(Permission::ManageBilling)?;
    let plan = body.plan.ok_or_else(|| required("plan"))?;
    let status = body.status.ok_or_else(|| required("status"))?;
    let end = body.current_period_end.ok_or_else(|| required("current_period_end"))?;
    let change = SubscriptionChange::new(&plan, &status, end)?;
    let (after, before) =
        manual::set_subscription(&services.db, &auth.workspace_id, &change, services.clock.now()).await?;
    let details = manual::subscription_details(before.as_ref(), &after);
    let target = format!("workspace:{}", auth.workspace_id);
    record(&services, &auth, &meta, "billing.subscription_updated", &target, details).await?;
    Ok(Json(after))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct ThresholdRequest {
    /// Micro-units of the wallet currency; 0 turns the warning off.
    threshold: Option<Micros>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ThresholdResponse {
    low_balance_threshold: Micros,
    available: Micros,
    low_balance: bool,
}

/// `PUT /billing/low-balance-threshold`: below how much available money the wallet warns.
#[utoipa::path(put, path = "/app/billing/low-balance-threshold", tag = "billing", request_body = ThresholdRequest,
    summary = "Set the balance under which the pages warn",
    responses((status = 200, description = "The threshold and whether the wallet is under it", body = ThresholdResponse)))]
async fn set_threshold(
    auth: Auth,
    State(services): State<Services>,
    meta: Meta,
    ApiJson(body): ApiJson<ThresholdRequest>,
) -> Result<Json<ThresholdResponse>, ApiError> {
    auth.require(Permission::TopUp)?;
    let wanted = body.threshold.ok_or_else(|| required("threshold"))?;
    let (set, before) =
        threshold::set(&services.db, &auth.workspace_id, wanted, services.clock.now()).await?;
    if set != before {
        let details = threshold::change_details(before, set);
        let target = format!("workspace:{}", auth.workspace_id);
        record(&services, &auth, &meta, "billing.low_balance_threshold_updated", &target, details).await?;
    }
    let balance = threshold::balance(&services.db, &auth.workspace_id).await?;
    Ok(Json(ThresholdResponse {
        low_balance_threshold: balance.low_balance_threshold,
        available: balance.available,
        low_balance: balance.low_balance,
    }))
}
