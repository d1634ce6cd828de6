//! What the business does to calls through WhatsApp: place a business-initiated call, and
//! pre-accept, accept, reject or end a call. Each action is checked against the call's state
//! and Meta's rules *before* anything is sent, and recorded in the call's timeline only after
//! WhatsApp accepted it.

use serde_json::json;

use crate::billing::{self, Billable};
use crate::call_state::{CallAction, CallInput, CallState};
use crate::calls::{CallStatus, Direction};
use crate::graph::GraphClient;
use crate::ids::new_id;
use crate::ingest::{CallExtras, record_own_fact, replay_call};
use crate::ledger;
use crate::numbers::{self, WhatsAppNumber};
use crate::permissions::{self, PermissionLimits};
use crate::phone::PhoneNumber;
use crate::{Error, Result, Services};

/// A call as the actions need it.
#[derive(Clone, Debug)]
pub struct CallRef {
    pub id: String,
    pub wa_call_id: String,
    pub number: WhatsAppNumber,
    pub state: CallState,
}

/// Loads a call of `workspace_id` (a call of another workspace is "not found").
pub async fn load(services: &Services, workspace_id: &str, call_id: &str) -> Result<CallRef> {
    let row: Option<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT wa_call_id, number_id FROM calls WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(call_id)
            .fetch_optional(services.db.pool())
            .await?;
    let (Some(wa_call_id), Some(number_id)) = row.ok_or(Error::NotFound { what: "call" })? else {
        return Err(Error::Conflict {
            code: "call_not_actionable",
            message: "the call is not a WhatsApp call".into(),
        });
    };
    let number = numbers::get(&services.db, workspace_id, &number_id).await?;
    let state = replay_call(services.db.pool(), call_id).await?;
    Ok(CallRef { id: call_id.to_owned(), wa_call_id, number, state })
}

/// Sends `pre_accept` with the browser's SDP answer for an inbound call that still rings.
pub async fn pre_accept(
    services: &Services,
    client: &GraphClient,
    call: &CallRef,
    sdp_answer: &str,
) -> Result<CallState> {
    call.state.check_action(CallAction::PreAccept)?;
    client.pre_accept(&services.graph_target(&call.number).await?, &call.wa_call_id, sdp_answer).await?;
    let extras = CallExtras { sdp_answer: Some(sdp_answer.to_owned()), ..CallExtras::default() };
    own_fact(services, call, CallInput::PreAcceptSent, json!({}), &extras).await
}

/// Sends `accept` with the same SDP as `pre_accept` (Meta refuses any other).
pub async fn accept(
    services: &Services,
    client: &GraphClient,
    call: &CallRef,
    sdp_answer: &str,
) -> Result<CallState> {
    call.state.check_action(CallAction::Accept)?;
    client.accept(&services.graph_target(&call.number).await?, &call.wa_call_id, sdp_answer, None).await?;
    let extras = CallExtras { sdp_answer: Some(sdp_answer.to_owned()), ..CallExtras::default() };
    own_fact(services, call, CallInput::AcceptSent, json!({}), &extras).await
}

/// Declines an inbound call that still rings.
pub async fn reject(services: &Services, client: &GraphClient, call: &CallRef) -> Result<CallState> {
    call.state.check_action(CallAction::Reject)?;
    client.reject(&services.graph_target(&call.number).await?, &call.wa_call_id).await?;
    own_fact(services, call, CallInput::RejectSent, json!({}), &CallExtras::default()).await
}

/// Ends a call in either direction.
pub async fn terminate(services: &Services, client: &GraphClient, call: &CallRef) -> Result<CallState> {
    call.state.check_action(CallAction::Terminate)?;
    client.terminate(&services.graph_target(&call.number).await?, &call.wa_call_id).await?;
    own_fact(services, call, CallInput::TerminateSent, json!({}), &CallExtras::default()).await
}

async fn own_fact(
    services: &Services,
    call: &CallRef,
    input: CallInput,
    details: serde_json::Value,
    extras: &CallExtras,
) -> Result<CallState> {
    let applied =
        record_own_fact(services, &call.number.workspace_id, &call.id, &input, details, extras).await?;
    match applied {
        Some(state) => Ok(state),
        // Already recorded (a retried request): report where the call stands.
        None => replay_call(services.db.pool(), &call.id).await,
    }
}

/// A business-initiated call that was placed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placed {
    /// Our call id.
    pub call_id: String,
    /// WhatsApp's call id (`wacid.…`).
    pub wa_call_id: String,
}

/// Places a business-initiated call from `number` to `to` with the browser's SDP offer.
///
/// Refused before anything reaches WhatsApp when the business number's country cannot place
/// calls (138013), the ledger shows no permission or a spent daily quota (138006, 138012), or
/// billing's preflight refuses (`subscription_expired`, `insufficient_balance`); the preflight's
/// hold is released if `connect` fails and settled when the call ends.
pub async fn place(
    services: &Services,
    client: &GraphClient,
    number: &WhatsAppNumber,
    to: &PhoneNumber,
    sdp_offer: &str,
    limits: &PermissionLimits,
) -> Result<Placed> {
    let now = services.clock.now();
    let paid = allow_and_hold(services, number, to, limits, now).await?;
    let connected: Result<String> =
        async { Ok(client.connect(&services.graph_target(number).await?, to, sdp_offer, None).await?) }.await;
    let wa_call_id = match connected {
        Ok(wa_call_id) => wa_call_id,
        Err(err) => {
            // WhatsApp placed no call: give the hold back (if this fails, expiry will).
            if let Err(release_err) = billing::release(&services.db, &paid, services.clock.now()).await {
                tracing::error!(error = %release_err, "could not release the hold of a failed connect");
            }
            return Err(err);
        }
    };

    // The connect webhook may have arrived (and created the call) before this point.
    sqlx::query(
        "INSERT INTO calls (id, workspace_id, wa_call_id, phone_number_id, number_id, direction, status, phase, \
           contact_number, business_number, started_at, sdp_offer, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'dialing', $8, $9, $10, $11, $10, $10) \
         ON CONFLICT (workspace_id, wa_call_id) DO NOTHING",
    )
    .bind(new_id())
    .bind(&number.workspace_id)
    .bind(&wa_call_id)
    .bind(&number.phone_number_id)
    .bind(&number.id)
    .bind(Direction::BusinessInitiated.as_str())
    .bind(CallStatus::Ringing.as_str())
    .bind(to.e164())
    .bind(&number.e164)
    .bind(now)
    .bind(sdp_offer)
    .execute(services.db.pool())
    .await?;
    let (call_id,): (String,) =
        sqlx::query_as("SELECT id FROM calls WHERE workspace_id = $1 AND wa_call_id = $2")
            .bind(&number.workspace_id)
            .bind(&wa_call_id)
            .fetch_one(services.db.pool())
            .await?;
    let extras = CallExtras { sdp_offer: Some(sdp_offer.to_owned()), ..CallExtras::default() };
    record_own_fact(
        services,
        &number.workspace_id,
        &call_id,
        &CallInput::ConnectSent,
        json!({ "to": to.e164() }),
        &extras,
    )
    .await?;
    billing::attach_call(&services.db, &paid, &call_id, services.clock.now()).await?;
    Ok(Placed { call_id, wa_call_id })
}

/// The gates of every business-initiated call, before anything reaches WhatsApp: the
/// number's country and the permission ledger (free checks first), then billing's preflight,
/// whose hold is returned.
async fn allow_and_hold(
    services: &Services,
    number: &WhatsAppNumber,
    to: &PhoneNumber,
    limits: &PermissionLimits,
    now: i64,
) -> Result<billing::Preflight> {
    let business = PhoneNumber::parse(&number.e164)?;
    let history = ledger::history(&services.db, &number.id, to).await?;
    permissions::ensure_business_call_allowed(&business, &history, now, limits)?;
    billing::preflight(&services.db, number, &Billable::Call { callee: to }, now, &billing::Policy::default())
        .await
}

/// How long a call requested without an offer ([`request`]) waits for an agent's browser to
/// dial it before it is given up (missed, its hold released).
pub const PICKUP_WINDOW: i64 = 60_000;

/// Requests a business-initiated call for an agent's browser to dial: `POST /initiate` without
/// an SDP offer (the CLI, integrators). The checks of [`place`] run now — permission, then the
/// billing preflight, whose hold is attached to the call — and the call waits, in phase `new`,
/// with no WhatsApp call id yet, in the browsers of the agents who may place calls. The first
/// to dial it ([`dial`]) places it with their browser's offer; nobody within
/// [`PICKUP_WINDOW`] and the sweeper closes it as missed, which releases the hold.
pub async fn request(
    services: &Services,
    number: &WhatsAppNumber,
    to: &PhoneNumber,
    limits: &PermissionLimits,
) -> Result<String> {
    let now = services.clock.now();
    let paid = allow_and_hold(services, number, to, limits, now).await?;
    let call_id = new_id();
    let inserted = sqlx::query(
        "INSERT INTO calls (id, workspace_id, wa_call_id, phone_number_id, number_id, direction, status, phase, \
           contact_number, business_number, started_at, answer_deadline, created_at, updated_at) \
         VALUES ($1, $2, NULL, $3, $4, $5, $6, 'new', $7, $8, $9, $10, $9, $9)",
    )
    .bind(&call_id)
    .bind(&number.workspace_id)
    .bind(&number.phone_number_id)
    .bind(&number.id)
    .bind(Direction::BusinessInitiated.as_str())
    .bind(CallStatus::Ringing.as_str())
    .bind(to.e164())
    .bind(&number.e164)
    .bind(now)
    .bind(now + PICKUP_WINDOW)
    .execute(services.db.pool())
    .await;
    if let Err(err) = inserted {
        if let Err(release_err) = billing::release(&services.db, &paid, services.clock.now()).await {
            tracing::error!(error = %release_err, "could not release the hold of a call that was not stored");
        }
        return Err(err.into());
    }
    billing::attach_call(&services.db, &paid, &call_id, now).await?;
    let notice = crate::bus::LiveEvent {
        workspace_id: number.workspace_id.clone(),
        topic: "call.updated".into(),
        subject: call_id.clone(),
        data: json!({ "status": CallStatus::Ringing, "phase": "new", "to_dial": true }),
        at: now,
    };
    crate::ingest::publish(services, vec![notice]).await;
    Ok(call_id)
}

/// Places a call requested with [`request`] with `user_id`'s browser offer: the first agent to
/// dial claims it (one conditional `UPDATE`; the others get 409 `already_answered`), then
/// `connect` goes to WhatsApp. If WhatsApp refuses, the claim is given back so another agent
/// may try while the pickup window lasts.
pub async fn dial(
    services: &Services,
    client: &GraphClient,
    workspace_id: &str,
    call_id: &str,
    user_id: &str,
    sdp_offer: &str,
) -> Result<Placed> {
    let now = services.clock.now();
    let claimed = sqlx::query(
        "UPDATE calls SET answered_by = $1 WHERE workspace_id = $2 AND id = $3 AND phase = 'new' \
           AND wa_call_id IS NULL AND direction = 'business_initiated' AND answered_by IS NULL AND answer_deadline > $4",
    )
    .bind(user_id)
    .bind(workspace_id)
    .bind(call_id)
    .bind(now)
    .execute(services.db.pool())
    .await?
    .rows_affected();
    let row: Option<(Option<String>, Option<String>, String)> = sqlx::query_as(
        "SELECT c.number_id, u.display_name, c.contact_number FROM calls c \
         LEFT JOIN users u ON u.id = c.answered_by WHERE c.workspace_id = $1 AND c.id = $2",
    )
    .bind(workspace_id)
    .bind(call_id)
    .fetch_optional(services.db.pool())
    .await?;
    let (number_id, holder, contact) = row.ok_or(Error::NotFound { what: "call" })?;
    if claimed == 0 {
        return Err(match holder {
            Some(name) => Error::Conflict {
                code: "already_answered",
                message: format!("{name} already dialled this call"),
            },
            None => Error::Conflict {
                code: "not_waiting",
                message:
                    "this call is not waiting to be dialled (placed already, or its pickup window passed)"
                        .into(),
            },
        });
    }
    let give_back = || async {
        let released = sqlx::query(
            "UPDATE calls SET answered_by = NULL WHERE workspace_id = $1 AND id = $2 AND answered_by = $3 \
               AND wa_call_id IS NULL",
        )
        .bind(workspace_id)
        .bind(call_id)
        .bind(user_id)
        .execute(services.db.pool())
        .await;
        if let Err(err) = released {
            tracing::warn!(error = %err, "could not give back the claim of a call that did not connect");
        }
    };
    let placed: Result<(WhatsAppNumber, String)> = async {
        let number_id = number_id.ok_or(Error::NotFound { what: "WhatsApp number" })?;
        let number = numbers::get(&services.db, workspace_id, &number_id).await?;
        let to = PhoneNumber::parse(&contact)?;
        let wa_call_id = client.connect(&services.graph_target(&number).await?, &to, sdp_offer, None).await?;
        Ok((number, wa_call_id))
    }
    .await;
    let (number, wa_call_id) = match placed {
        Ok(placed) => placed,
        Err(err) => {
            give_back().await;
            return Err(err);
        }
    };
    // The connect webhook may have come first and adopted the call already (see
    // `ingest::adopt_dialled_call`); either way the call now carries WhatsApp's id.
    sqlx::query("UPDATE calls SET wa_call_id = $1, sdp_offer = $2 WHERE id = $3 AND wa_call_id IS NULL")
        .bind(&wa_call_id)
        .bind(sdp_offer)
        .bind(call_id)
        .execute(services.db.pool())
        .await?;
    let extras = CallExtras { sdp_offer: Some(sdp_offer.to_owned()), ..CallExtras::default() };
    record_own_fact(
        services,
        &number.workspace_id,
        call_id,
        &CallInput::ConnectSent,
        json!({ "to": contact }),
        &extras,
    )
    .await?;
    Ok(Placed { call_id: call_id.to_owned(), wa_call_id })
}
