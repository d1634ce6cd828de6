-- Call engine (PostgreSQL dialect; keep in step with ../sqlite/0002_call_engine.sql).

-- A WhatsApp business number a workspace connected. Credentials are sealed with SECRET_KEY
-- (see calling::secrets) and never leave the server.
CREATE TABLE whatsapp_numbers (
    id                    TEXT    PRIMARY KEY,
    workspace_id          TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    phone_number_id       TEXT    NOT NULL UNIQUE,  -- Meta's id; webhooks are routed by it
    waba_id               TEXT    NOT NULL,
    display_phone_number  TEXT    NOT NULL,
    e164                  TEXT    NOT NULL,
    country               TEXT,                     -- ISO 3166 alpha-2, derived from e164
    access_token_sealed   TEXT    NOT NULL,
    app_secret_sealed     TEXT    NOT NULL,
    verify_token_sealed   TEXT    NOT NULL,
    graph_api_version     TEXT    NOT NULL,
    graph_api_base_url    TEXT    NOT NULL,
    is_sandbox            BIGINT  NOT NULL DEFAULT 0,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
CREATE INDEX whatsapp_numbers_by_workspace ON whatsapp_numbers (workspace_id);

-- Every signed webhook POST, stored before it is acknowledged. Append-only; `state` records
-- how processing went. The dedupe key is the SHA-256 of the raw body, so a redelivery of the
-- same bytes is recognised and acknowledged without being processed twice.
CREATE TABLE webhook_deliveries (
    id            TEXT    PRIMARY KEY,
    dedupe_key    TEXT    NOT NULL UNIQUE,
    received_at   BIGINT NOT NULL,
    body          TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('pending', 'processed', 'failed')),
    processed_at  BIGINT,
    error         TEXT
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (state, received_at);

-- A call's timeline: one row per fact (a webhook or one of our actions). A call holds at most
-- one fact of each kind, so replays and duplicates are no-ops by construction.
CREATE TABLE call_events (
    id            TEXT    PRIMARY KEY,
    workspace_id  TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    call_id       TEXT    NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL,
    at            BIGINT NOT NULL,     -- when it happened (Meta's timestamp or ours)
    input         TEXT    NOT NULL,     -- the state-machine input, JSON
    details       TEXT,                 -- what else came with it (SDP, errors, payloads), JSON
    delivery_id   TEXT    REFERENCES webhook_deliveries (id),
    recorded_at   BIGINT NOT NULL,
    UNIQUE (call_id, kind)
);
CREATE INDEX call_events_by_call ON call_events (call_id, at);

ALTER TABLE calls ADD COLUMN number_id TEXT REFERENCES whatsapp_numbers (id);
ALTER TABLE calls ADD COLUMN phase TEXT NOT NULL DEFAULT 'new';
ALTER TABLE calls ADD COLUMN sdp_offer TEXT;              -- Meta's offer (inbound) or ours (outbound)
ALTER TABLE calls ADD COLUMN sdp_answer TEXT;
ALTER TABLE calls ADD COLUMN biz_opaque_callback_data TEXT;
ALTER TABLE calls ADD COLUMN cta_payload TEXT;
ALTER TABLE calls ADD COLUMN deeplink_payload TEXT;
ALTER TABLE calls ADD COLUMN failure_code BIGINT;
ALTER TABLE calls ADD COLUMN failure_reason TEXT;
ALTER TABLE calls ADD COLUMN answer_deadline BIGINT;
CREATE INDEX calls_ringing ON calls (status, answer_deadline);
