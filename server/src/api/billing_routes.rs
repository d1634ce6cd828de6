//! `/api/v1/app/billing`: the wallet, the subscription and the expenses log (per-call and
//! per-message lines, as JSON or CSV) — what an owner checks before and after paying.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use calling::Services;
use calling::accounts::Permission;
use calling::billing::{Micros, Subscription, Wallet, statement, subscription, wallet};
use calling::clock::DAY;
use serde::{Deserialize, Serialize};

use super::ApiQuery;
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(overview))
        .route("/expenses", get(expenses))
        .route("/expenses.csv", get(expenses_csv))
}

#[derive(Serialize)]
struct BillingOverview {
    wallet: Wallet,
    available: Micros,
    /// `None`: no subscription, which blocks paid actions (sandbox numbers stay free).
    subscription: Option<Subscription>,
}

/// `GET /billing`: balance, what is held, what is available, the subscription.
async fn overview(auth: Auth, State(services): State<Services>) -> Result<Json<BillingOverview>, ApiError> {
    auth.require(Permission::SeeBilling)?;
    let wallet = wallet::get(&services.db, &auth.workspace_id).await?;
    Ok(Json(BillingOverview {
        available: wallet.available(),
        subscription: subscription::get(&services.db, &auth.workspace_id).await?,
        wallet,
    }))
}

#[derive(Deserialize)]
struct Range {
    /// Unix ms; default 30 days ago.
    from: Option<i64>,
    /// Unix ms; default now.
    to: Option<i64>,
}

fn range(services: &Services, range: &Range) -> (i64, i64) {
    let now = services.clock.now();
    (range.from.unwrap_or(now - 30 * DAY), range.to.unwrap_or(now + 1))
}

#[derive(Serialize)]
struct Expenses {
    lines: Vec<statement::StatementLine>,
}

/// `GET /billing/expenses?from=&to=`: the billing lines of a period.
async fn expenses(
    auth: Auth,
    State(services): State<Services>,
    ApiQuery(query): ApiQuery<Range>,
) -> Result<Json<Expenses>, ApiError> {
    auth.require(Permission::SeeBilling)?;
    let (from, to) = range(&services, &query);
    Ok(Json(Expenses { lines: statement::lines(&services.db, &auth.workspace_id, from, to).await? }))
}

/// `GET /billing/expenses.csv?from=&to=`: the same lines for a spreadsheet.
async fn expenses_csv(
    auth: Auth,
    State(services): State<Services>,
    ApiQuery(query): ApiQuery<Range>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::SeeBilling)?;
    let (from, to) = range(&services, &query);
    let csv = statement::csv(&services.db, &auth.workspace_id, from, to).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"switchboard-expenses.csv\""),
        ],
        csv,
    ))
}
