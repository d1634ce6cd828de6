-- Foundation schema (PostgreSQL dialect). Keep in step with ../sqlite/0001_foundation.sql:
-- same tables, same columns, same meaning. Times are unix milliseconds, money is micro-units.
-- Integers are BIGINT (milliseconds overflow INTEGER; the Any driver decodes i64 only).

CREATE TABLE workspaces (
    id          TEXT   PRIMARY KEY,
    name        TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);

-- One row per WhatsApp call, whichever side started it.
CREATE TABLE calls (
    id                TEXT   PRIMARY KEY,
    workspace_id      TEXT   NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    wa_call_id        TEXT,                 -- Meta's call id ("wacid.…"), once known
    phone_number_id   TEXT   NOT NULL,      -- the business number's Graph id
    direction         TEXT   NOT NULL CHECK (direction IN ('user_initiated', 'business_initiated')),
    status            TEXT   NOT NULL CHECK (status IN ('ringing', 'answered', 'completed', 'missed', 'rejected', 'failed')),
    contact_number    TEXT   NOT NULL,      -- the WhatsApp user's number, E.164
    contact_name      TEXT,
    business_number   TEXT   NOT NULL,      -- display form of the business number
    started_at        BIGINT NOT NULL,
    answered_at       BIGINT,
    ended_at          BIGINT,
    duration_seconds  BIGINT,
    cost_micros       BIGINT NOT NULL DEFAULT 0,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);

CREATE INDEX calls_by_workspace_and_start ON calls (workspace_id, started_at DESC, id DESC);
CREATE UNIQUE INDEX calls_by_wa_call_id ON calls (workspace_id, wa_call_id);
