//! The workspace's statement (expenses log): every ledger entry that changed the wallet's
//! balance in a period — top-ups, call and message charges, refunds, adjustments — as rows and
//! as CSV. Holds and releases only move money between the wallet's own accounts, so they are
//! left out: they never change what the workspace owns.

use serde::{Deserialize, Serialize};

use super::money::Micros;
use super::wallet::{self, Account, Cause};
use crate::Result;
use crate::storage::Db;

/// One line of the statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementLine {
    pub at: i64,
    pub kind: String,
    /// Signed change of the wallet's balance: positive for money in, negative for money out.
    pub amount: Micros,
    pub cause: Cause,
}

fn is_wallet(account: &str) -> bool {
    account == Account::Available.as_str() || account == Account::Held.as_str()
}

/// The statement lines with `from <= created_at < to`, oldest first (at most 100 000).
pub async fn lines(db: &Db, workspace_id: &str, from: i64, to: i64) -> Result<Vec<StatementLine>> {
    let entries = wallet::entries_between(db, workspace_id, from, to).await?;
    Ok(entries
        .into_iter()
        .filter_map(|entry| {
            let amount = match (is_wallet(&entry.from_account), is_wallet(&entry.to_account)) {
                (false, true) => entry.amount,
                (true, false) => Micros(-entry.amount.get()),
                _ => return None, // hold or release: inside the wallet
            };
            Some(StatementLine { at: entry.created_at, kind: entry.kind, amount, cause: entry.cause })
        })
        .collect())
}

/// The statement as CSV (RFC 4180), amounts in decimal currency units, times in unix ms.
pub async fn csv(db: &Db, workspace_id: &str, from: i64, to: i64) -> Result<String> {
    let currency = wallet::get(db, workspace_id).await?.currency;
    let mut out =
        String::from("at_unix_ms,kind,amount,currency,call_id,message_id,top_up_id,actor_user_id,reason\r\n");
    for line in lines(db, workspace_id, from, to).await? {
        let fields = [
            line.at.to_string(),
            line.kind,
            line.amount.to_string(),
            currency.to_string(),
            line.cause.call_id.unwrap_or_default(),
            line.cause.message_id.unwrap_or_default(),
            line.cause.top_up_id.unwrap_or_default(),
            line.cause.actor_user_id.unwrap_or_default(),
            line.cause.reason.unwrap_or_default(),
        ];
        let escaped: Vec<String> = fields.iter().map(|field| escape(field)).collect();
        out.push_str(&escaped.join(","));
        out.push_str("\r\n");
    }
    Ok(out)
}

/// Quotes a field when it needs it; a leading `=`, `+`, `-` or `@` in free text is prefixed with
/// `'` so a spreadsheet never runs it as a formula (amounts are written by us and stay numeric).
fn escape(field: &str) -> String {
    let is_number = field.parse::<i64>().is_ok() || Micros::parse(field).is_ok();
    let field = if !is_number && field.starts_with(['=', '+', '-', '@']) {
        format!("'{field}")
    } else {
        field.to_owned()
    };
    if field.contains([',', '"', '\r', '\n']) { format!("\"{}\"", field.replace('"', "\"\"")) } else { field }
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(escape("plain"), "plain");
        assert_eq!(escape("a,b"), "\"a,b\"");
        assert_eq!(escape("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(escape("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(escape("-1.50"), "-1.50");
    }
}
