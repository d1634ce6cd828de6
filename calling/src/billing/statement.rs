//! The workspace's statement (expenses log): every ledger entry that changed the wallet's
//! balance in a period — top-ups, call and message charges, refunds, adjustments — filtered by
//! kind and period ([`ExpenseFilter`]), as rows and as CSV; call charges name the call and
//! the callee. Holds and releases only move money between the wallet's own accounts, so they are
//! left out: they never change what the workspace owns.

use serde::{Deserialize, Serialize};

use super::forms::{ExpenseFilter, StatementKind};
use super::money::Micros;
use super::wallet::{self, Account, Cause};
use crate::Result;
use crate::storage::Db;

/// One line of the statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct StatementLine {
    pub at: i64,
    pub kind: String,
    /// Signed change of the wallet's balance: positive for money in, negative for money out.
    pub amount: Micros,
    pub cause: Cause,
    /// Who a call charge was for (E.164), from the call's hold.
    pub callee: Option<String>,
}

fn is_wallet(account: &str) -> bool {
    account == Account::Available.as_str() || account == Account::Held.as_str()
}

/// At most this many lines per request (a year of a busy workspace is well below it).
const MAX_LINES: i64 = 100_000;

type LineRow = (
    String,
    String,
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    Option<String>,
);

/// The statement lines the filter selects, oldest first, in its period at `now` (see
/// [`ExpenseFilter::range`]).
pub async fn lines(
    db: &Db,
    workspace_id: &str,
    filter: &ExpenseFilter,
    now: i64,
) -> Result<Vec<StatementLine>> {
    filter.check()?;
    let (from, to) = filter.range(now);
    let kinds: Vec<&str> = match filter.kind {
        Some(kind) => vec![kind.as_str()],
        None => StatementKind::ALL.iter().map(|kind| kind.as_str()).collect(),
    };
    // The kinds are our own constants, never input, so they are written into the SQL.
    let kinds = kinds.iter().map(|kind| format!("'{kind}'")).collect::<Vec<_>>().join(", ");
    let rows: Vec<LineRow> = sqlx::query_as(&format!(
        "SELECT e.kind, e.from_account, e.to_account, e.amount_micros, e.hold_id, e.call_id, e.message_id, \
                e.top_up_id, e.actor_user_id, e.reason, e.created_at, h.callee \
         FROM ledger_entries e LEFT JOIN holds h ON h.id = e.hold_id AND h.workspace_id = e.workspace_id \
         WHERE e.workspace_id = $1 AND e.created_at >= $2 AND e.created_at < $3 AND e.kind IN ({kinds}) \
         ORDER BY e.created_at, e.id LIMIT {MAX_LINES}"
    ))
    .bind(workspace_id)
    .bind(from)
    .bind(to)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(
            |(
                kind,
                from_account,
                to_account,
                amount,
                hold_id,
                call_id,
                message_id,
                top_up_id,
                actor_user_id,
                reason,
                at,
                callee,
            )| {
                let amount = match (is_wallet(&from_account), is_wallet(&to_account)) {
                    (false, true) => Micros(amount),
                    (true, false) => Micros(-amount),
                    _ => return None, // inside the wallet: never a change of what it owns
                };
                let cause = Cause { hold_id, call_id, message_id, top_up_id, actor_user_id, reason };
                Some(StatementLine { at, kind, amount, cause, callee })
            },
        )
        .collect())
}

/// The same lines as CSV (RFC 4180), amounts in decimal currency units, times in unix ms.
pub async fn csv(db: &Db, workspace_id: &str, filter: &ExpenseFilter, now: i64) -> Result<String> {
    let currency = wallet::get(db, workspace_id).await?.currency;
    let mut out = String::from(
        "at_unix_ms,kind,amount,currency,call_id,callee,message_id,top_up_id,actor_user_id,reason\r\n",
    );
    for line in lines(db, workspace_id, filter, now).await? {
        let fields = [
            line.at.to_string(),
            line.kind,
            line.amount.to_string(),
            currency.to_string(),
            line.cause.call_id.unwrap_or_default(),
            line.callee.unwrap_or_default(),
            line.cause.message_id.unwrap_or_default(),
            line.cause.top_up_id.unwrap_or_default(),
            line.cause.actor_user_id.unwrap_or_default(),
            line.cause.reason.unwrap_or_default(),
        ];
        crate::csv::push_record(&mut out, &fields);
    }
    Ok(out)
}
