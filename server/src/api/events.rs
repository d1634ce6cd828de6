//! `GET /api/v1/app/events`: the live event stream (Server-Sent Events) of the caller's
//! workspace — call and permission changes from the event bus, from whichever replica took
//! the webhook.
//!
//! Every (re)connection starts with `resync` (refetch what you show: nothing that happened
//! while disconnected is replayed) followed by one `call.ringing` per call still ringing, so a
//! ring survives a page reload or a dropped connection. Then live `call.updated` /
//! `permission.updated` events follow, with increasing ids.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use calling::accounts::Permission;
use calling::bus::Missed;
use calling::{Services, calls};
use futures::stream::{self, Stream, StreamExt};
use serde_json::json;

use crate::auth::Auth;
use crate::error::ApiError;

/// How often an idle stream sends a comment so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// This file's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(events))]
pub(super) struct Doc;

/// `GET /events`
#[utoipa::path(get, path = "/app/events", tag = "events",
    summary = "The workspace's live events (Server-Sent Events)",
    description = "Opens with `resync` and one `call.ringing` per ringing call, then `call.updated` and `permission.updated` events with increasing ids; `data` is JSON `{subject, data, at}`.",
    responses((status = 200, description = "An endless event stream", body = String, content_type = "text/event-stream")))]
pub async fn events(
    auth: Auth,
    State(services): State<Services>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    auth.require(Permission::ViewCalls)?;
    // Subscribe before reading the ringing calls, so nothing falls between the two.
    let subscription = services.bus.subscribe(&auth.workspace_id);
    let ringing = calls::ringing(&services.db, &auth.workspace_id).await?;
    let mut opening = vec![Event::default().event("resync").data("{}")];
    for call in ringing {
        let data = serde_json::to_string(&call).map_err(calling::Error::internal)?;
        opening.push(Event::default().event("call.ringing").data(data));
    }
    let live = stream::unfold((subscription, 0_u64), |(mut subscription, seq)| async move {
        let event = match subscription.next().await {
            Ok(event) => Event::default()
                .id((seq + 1).to_string())
                .event(event.topic.clone())
                .data(json!({ "subject": event.subject, "data": event.data, "at": event.at }).to_string()),
            // Fell behind: tell the client to refetch rather than pretend nothing was lost.
            Err(Missed::Lagged(_)) => Event::default().event("resync").data("{}"),
            Err(Missed::Closed) => return None,
        };
        Some((event, (subscription, seq + 1)))
    });
    let stream = stream::iter(opening).chain(live).map(Ok);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}
