//! `/api/v1/app/calling/calls/:call_id/recording`: attach a recording to a call (multipart, the
//! file in any one part — `file` by convention; MP3 or WAV by content, up to 25 MB) and play or
//! download it. The rules live in `calling::recordings`.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use calling::Services;
use calling::accounts::{Permission, audit};
use calling::recordings::{self, Recording};
use serde_json::json;

use crate::AppState;
use crate::accounts::Meta;
use crate::api::calling_routes::CallIdPath;
use crate::api::openapi::ErrorEnvelope;
use crate::auth::Auth;
use crate::error::ApiError;

pub fn routes() -> Router<AppState> {
    // axum reads at most 2 MB of a multipart body by default; a recording may be 25 MB (and the
    // multipart framing around it a little more). Bigger uploads are cut off and refused.
    Router::new()
        .route("/calls/{call_id}/recording", post(upload).get(download))
        .layer(DefaultBodyLimit::max(recordings::MAX_BYTES + 64 * 1024))
}

/// This file's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(upload, download))]
pub(super) struct Doc;

/// The multipart form of an upload.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // read by the OpenAPI document only; the handler reads the parts itself
struct RecordingUpload {
    /// The audio: MP3 or WAV, told by its content (not its name), at most 25 MB.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// A refusal of the request's shape (not of the file), listing what is taken.
fn bad_upload(message: impl Into<String>) -> ApiError {
    ApiError(calling::Error::BadRequest {
        code: "unsupported_recording",
        message: message.into(),
        details: json!({ "formats": ["audio/mpeg (MP3)", "audio/wav (WAV)"], "max_bytes": recordings::MAX_BYTES }),
    })
}

/// `POST /calls/:call_id/recording` (multipart/form-data) → 201 with the recording.
#[utoipa::path(post, path = "/app/calling/calls/{call_id}/recording", tag = "recordings", params(CallIdPath),
    request_body(content = RecordingUpload, content_type = "multipart/form-data"),
    summary = "Attach a recording to a call (MP3 or WAV by content, at most 25 MB; replaces an earlier one)",
    responses(
        (status = 201, description = "Stored", body = Recording),
        (status = 400, description = "Not audio we take, too big, or not multipart (`unsupported_recording`; `details` lists the formats and the limit)", body = ErrorEnvelope),
        (status = 413, description = "The body is over the server's limit")))]
async fn upload(
    auth: Auth,
    State(services): State<Services>,
    meta: Meta,
    Path(call_id): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<Recording>), ApiError> {
    auth.require(Permission::AnswerCalls)?;
    let mut multipart = multipart
        .map_err(|_| bad_upload("send the recording as multipart/form-data, in a part named file"))?;
    let mut file = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|err| bad_upload(format!("the upload is not valid multipart: {err}")))?
    {
        // The first part with a file name or named `file` is the recording; others are ignored.
        if field.name() == Some("file") || field.file_name().is_some() {
            let name = field.file_name().map(str::to_owned);
            let bytes =
                field.bytes().await.map_err(|err| bad_upload(format!("the upload broke off: {err}")))?;
            file = Some((name, bytes));
            break;
        }
    }
    let (name, bytes) =
        file.ok_or_else(|| bad_upload("no file in the upload: send it in a part named file"))?;
    let now = services.clock.now();
    let recording = recordings::store(
        &services.db,
        &auth.workspace_id,
        &call_id,
        &bytes,
        name.as_deref(),
        &auth.actor(),
        now,
    )
    .await?;
    let ip = meta.ip();
    let details = json!({ "format": recording.format, "byte_size": recording.byte_size, "file_name": recording.file_name });
    let entry = audit::NewEntry {
        workspace_id: Some(&auth.workspace_id),
        actor: &auth.actor(),
        action: "recording.uploaded",
        target: Some(&call_id),
        details,
        ip: ip.as_deref(),
    };
    audit::record(&services.db, entry, now).await?;
    Ok((StatusCode::CREATED, Json(recording)))
}

/// `GET /calls/:call_id/recording`: the audio, to play in the page or save
/// (`?download=1` asks the browser to save it).
#[utoipa::path(get, path = "/app/calling/calls/{call_id}/recording", tag = "recordings",
    params(CallIdPath, ("download" = Option<String>, Query, description = "`1`: ask the browser to save the file rather than play it")),
    summary = "The call's recording, to play or save",
    responses(
        (status = 200, description = "The audio as uploaded", content(("audio/mpeg"), ("audio/wav"))),
        (status = 404, description = "No such call, or it has no recording (`not_found`)", body = ErrorEnvelope)))]
async fn download(
    auth: Auth,
    State(services): State<Services>,
    Path(call_id): Path<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Result<Response, ApiError> {
    auth.require(Permission::ViewCalls)?;
    let (recording, bytes) = recordings::audio(&services.db, &auth.workspace_id, &call_id).await?;
    let name = recording
        .file_name
        .clone()
        .unwrap_or_else(|| format!("call-{call_id}.{}", recording.format.extension()));
    let disposition = if query.as_deref().is_some_and(|q| q.split('&').any(|pair| pair == "download=1")) {
        "attachment"
    } else {
        "inline"
    };
    Ok((
        [
            (header::CONTENT_TYPE, recording.content_type.clone()),
            (header::CONTENT_LENGTH, bytes.len().to_string()),
            (header::CONTENT_DISPOSITION, format!("{disposition}; filename=\"{name}\"")),
            (header::CACHE_CONTROL, "private, max-age=300".to_owned()),
        ],
        Body::from(bytes),
    )
        .into_response())
}
