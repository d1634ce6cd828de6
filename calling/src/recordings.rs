//! Call recordings: an audio file attached to a call row — e.g. the audio a third-party PBX
//! recorded — kept with the call and played on its page. Meta's own limits apply: MP3 or WAV,
//! up to 25 MB. The format is read from the file's first bytes, never from its name or the
//! content type the client claims, so a renamed file is refused for what it is.
//!
//! One recording per call: uploading again replaces it. The audio lives in the database with
//! the call (one place to back up, and every replica serves it).

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::storage::Db;
use crate::{Error, Result};

/// The largest recording accepted: 25 MB, as Meta.
pub const MAX_BYTES: usize = 25 * 1024 * 1024;

/// The audio formats accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AudioFormat {
    Mp3,
    Wav,
}

impl AudioFormat {
    /// The format the bytes are, if it is one we take: WAV is a RIFF file of type `WAVE`; MP3
    /// starts with an ID3 tag or an MPEG audio frame header (11 sync bits, a valid layer).
    pub fn sniff(bytes: &[u8]) -> Option<AudioFormat> {
        if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WAVE" {
            return Some(AudioFormat::Wav);
        }
        if bytes.len() >= 10 && &bytes[0..3] == b"ID3" {
            return Some(AudioFormat::Mp3);
        }
        let frame = bytes.len() >= 4 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0;
        // Layer bits `00` are reserved, and a bitrate index of 15 is invalid.
        (frame && bytes[1] & 0x06 != 0 && bytes[2] >> 4 != 0x0F).then_some(AudioFormat::Mp3)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            AudioFormat::Mp3 => "audio/mpeg",
            AudioFormat::Wav => "audio/wav",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            AudioFormat::Mp3 => "mp3",
            AudioFormat::Wav => "wav",
        }
    }

    fn parse(stored: &str) -> Option<AudioFormat> {
        match stored {
            "mp3" => Some(AudioFormat::Mp3),
            "wav" => Some(AudioFormat::Wav),
            _ => None,
        }
    }
}

/// What is known about a call's recording (the audio itself comes from [`audio`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Recording {
    pub call_id: String,
    pub format: AudioFormat,
    pub content_type: String,
    pub byte_size: i64,
    /// The uploaded file's name, for the download.
    pub file_name: Option<String>,
    /// `user:…` or `api_key:…`.
    pub uploaded_by: String,
    pub uploaded_at: i64,
}

/// The refusal of a file that is not one we take, listing what we do take.
fn refused(message: String) -> Error {
    Error::BadRequest {
        code: "unsupported_recording",
        message,
        details: json!({ "formats": ["audio/mpeg (MP3)", "audio/wav (WAV)"], "max_bytes": MAX_BYTES }),
    }
}

/// Checks the file: not empty, at most [`MAX_BYTES`], MP3 or WAV by content.
pub fn check(bytes: &[u8]) -> Result<AudioFormat> {
    if bytes.is_empty() {
        return Err(refused("the file is empty; recordings are MP3 or WAV, up to 25 MB".into()));
    }
    if bytes.len() > MAX_BYTES {
        return Err(refused(format!(
            "the file is {} bytes; recordings are MP3 or WAV, up to 25 MB ({MAX_BYTES} bytes)",
            bytes.len()
        )));
    }
    AudioFormat::sniff(bytes).ok_or_else(|| {
        refused("the file is neither MP3 nor WAV audio; recordings are MP3 or WAV, up to 25 MB".into())
    })
}

/// A file name fit for a `Content-Disposition` header: the base name, printable ASCII without
/// quotes or separators, at most 100 characters; `None` when nothing is left.
fn clean_file_name(raw: Option<&str>) -> Option<String> {
    let base = raw?.rsplit(['/', '\\']).next()?;
    let clean: String = base
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .filter(|c| !matches!(c, '"' | ';' | ','))
        .take(100)
        .collect();
    let clean = clean.trim().to_owned();
    (!clean.is_empty()).then_some(clean)
}

type RecordingRow = (String, String, String, i64, Option<String>, String, i64);

fn recording_of(
    (call_id, format, content_type, byte_size, file_name, uploaded_by, uploaded_at): RecordingRow,
) -> Result<Recording> {
    let format = AudioFormat::parse(&format)
        .ok_or_else(|| Error::internal(format!("recording of {call_id}: format {format:?}")))?;
    Ok(Recording { call_id, format, content_type, byte_size, file_name, uploaded_by, uploaded_at })
}

/// Attaches `bytes` to the workspace's call `call_id`, replacing any earlier recording.
pub async fn store(
    db: &Db,
    workspace_id: &str,
    call_id: &str,
    bytes: &[u8],
    file_name: Option<&str>,
    uploaded_by: &str,
    now: i64,
) -> Result<Recording> {
    let format = check(bytes)?;
    let mut tx = db.pool().begin().await?;
    let call: Option<(String,)> = sqlx::query_as("SELECT id FROM calls WHERE workspace_id = $1 AND id = $2")
        .bind(workspace_id)
        .bind(call_id)
        .fetch_optional(&mut *tx)
        .await?;
    if call.is_none() {
        return Err(Error::NotFound { what: "call" });
    }
    sqlx::query("DELETE FROM call_recordings WHERE call_id = $1").bind(call_id).execute(&mut *tx).await?;
    sqlx::query(
        "INSERT INTO call_recordings (call_id, workspace_id, format, content_type, byte_size, file_name, audio, \
                                      uploaded_by, uploaded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(call_id)
    .bind(workspace_id)
    .bind(format.extension())
    .bind(format.content_type())
    .bind(bytes.len() as i64)
    .bind(clean_file_name(file_name))
    .bind(bytes.to_vec())
    .bind(uploaded_by)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    find(db, workspace_id, call_id).await?.ok_or(Error::NotFound { what: "recording" })
}

/// The call's recording, if it has one (another workspace's call has none).
pub async fn find(db: &Db, workspace_id: &str, call_id: &str) -> Result<Option<Recording>> {
    let row: Option<RecordingRow> = sqlx::query_as(
        "SELECT call_id, format, content_type, byte_size, file_name, uploaded_by, uploaded_at \
         FROM call_recordings WHERE workspace_id = $1 AND call_id = $2",
    )
    .bind(workspace_id)
    .bind(call_id)
    .fetch_optional(db.pool())
    .await?;
    row.map(recording_of).transpose()
}

/// The recording and its audio, for the download and the player.
pub async fn audio(db: &Db, workspace_id: &str, call_id: &str) -> Result<(Recording, Vec<u8>)> {
    let recording = find(db, workspace_id, call_id).await?.ok_or(Error::NotFound { what: "recording" })?;
    let (bytes,): (Vec<u8>,) =
        sqlx::query_as("SELECT audio FROM call_recordings WHERE workspace_id = $1 AND call_id = $2")
            .bind(workspace_id)
            .bind(call_id)
            .fetch_one(db.pool())
            .await?;
    Ok((recording, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal WAV header (44 bytes) and a little silence.
    pub fn wav() -> Vec<u8> {
        let mut bytes = b"RIFF".to_vec();
        bytes.extend(36u32.to_le_bytes());
        bytes.extend(b"WAVEfmt ");
        bytes.extend([16, 0, 0, 0, 1, 0, 1, 0, 0x40, 0x1F, 0, 0, 0x80, 0x3E, 0, 0, 2, 0, 16, 0]);
        bytes.extend(b"data");
        bytes.extend(8u32.to_le_bytes());
        bytes.extend([0; 8]);
        bytes
    }

    #[test]
    fn the_format_comes_from_the_bytes() {
        assert_eq!(AudioFormat::sniff(&wav()), Some(AudioFormat::Wav));
        assert_eq!(AudioFormat::sniff(b"ID3\x04\x00\x00\x00\x00\x00\x00"), Some(AudioFormat::Mp3));
        // MPEG-1 Layer III, 128 kbit/s, 44.1 kHz.
        assert_eq!(AudioFormat::sniff(&[0xFF, 0xFB, 0x90, 0x64]), Some(AudioFormat::Mp3));
        for other in [
            &b"%PDF-1.7 not audio"[..],
            b"OggS\x00\x02",
            &[0xFF, 0xF9, 0xF0, 0x00],
            b"",
            b"RIFF\x00\x00\x00\x00AVI ",
        ] {
            assert_eq!(AudioFormat::sniff(other), None, "{other:?}");
        }
    }

    #[test]
    fn uploads_are_refused_with_the_limits() {
        let err = check(b"just text").unwrap_err();
        assert_eq!((err.code(), err.http_status()), ("unsupported_recording", 400));
        assert_eq!(err.details().unwrap()["max_bytes"], MAX_BYTES);
        assert!(check(&[]).is_err());
        let mut huge = wav();
        huge.resize(MAX_BYTES + 1, 0);
        assert!(check(&huge).unwrap_err().to_string().contains("up to 25 MB"));
        huge.truncate(MAX_BYTES);
        assert_eq!(check(&huge).unwrap(), AudioFormat::Wav);
    }

    #[test]
    fn file_names_are_cleaned_for_headers() {
        assert_eq!(clean_file_name(Some("C:\\calls\\call 1.mp3")).as_deref(), Some("call 1.mp3"));
        assert_eq!(clean_file_name(Some("../../etc/\"x\";.wav")).as_deref(), Some("x.wav"));
        assert_eq!(clean_file_name(Some("ünï.wav")).as_deref(), Some("n.wav"));
        assert_eq!(clean_file_name(Some("  ")), None);
        assert_eq!(clean_file_name(None), None);
    }
}
