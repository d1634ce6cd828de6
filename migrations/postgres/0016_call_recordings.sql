-- Call recordings (postgres dialect). Keep in step with ../sqlite/0016_call_recordings.sql.

-- An audio file (MP3 or WAV, up to 25 MB) attached to a call; one per call, replaced on upload.
-- Kept in the database with the call, so every replica serves it and one backup holds it.
CREATE TABLE call_recordings (
    call_id       TEXT    PRIMARY KEY REFERENCES calls (id) ON DELETE CASCADE,
    workspace_id  TEXT    NOT NULL,
    format        TEXT    NOT NULL CHECK (format IN ('mp3', 'wav')),
    content_type  TEXT    NOT NULL,
    byte_size     BIGINT NOT NULL,
    file_name     TEXT,
    audio         BYTEA   NOT NULL,
    uploaded_by   TEXT    NOT NULL,
    uploaded_at   BIGINT NOT NULL
);
