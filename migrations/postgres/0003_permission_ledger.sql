-- Permission ledger (PostgreSQL dialect; keep in step with ../sqlite/0003_permission_ledger.sql).
-- Append-only facts per (business number, WhatsApp user): requests we sent, grants and
-- revocations, connected and unanswered calls, and what GET call_permissions said. The
-- permission and Meta's quotas are computed from them (calling::permissions::evaluate).
CREATE TABLE permission_events (
    id              TEXT    PRIMARY KEY,
    workspace_id    TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    number_id       TEXT    NOT NULL REFERENCES whatsapp_numbers (id) ON DELETE CASCADE,
    contact_number  TEXT    NOT NULL,   -- E.164
    at              BIGINT  NOT NULL,
    event           TEXT    NOT NULL,   -- calling::permissions::PermissionEvent, JSON
    source          TEXT    NOT NULL CHECK (source IN ('webhook', 'call', 'send', 'sync')),
    dedupe_key      TEXT    NOT NULL,
    recorded_at     BIGINT  NOT NULL,
    UNIQUE (number_id, dedupe_key)
);
CREATE INDEX permission_events_by_pair ON permission_events (number_id, contact_number, at);
CREATE INDEX permission_events_by_workspace ON permission_events (workspace_id, contact_number);
