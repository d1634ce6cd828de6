-- Calling templates (PostgreSQL dialect). Keep in step with ../sqlite/0007_templates.sql: same
-- tables, same columns, same meaning. Times are unix ms, money micro-units of the wallet currency.

-- A call-button or permission-request template, stored only once WhatsApp accepted it for
-- review on the number's WhatsApp Business Account. `status` follows Meta's review.
CREATE TABLE calling_templates (
    id                   TEXT    PRIMARY KEY,
    workspace_id         TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    number_id            TEXT    NOT NULL REFERENCES whatsapp_numbers (id) ON DELETE CASCADE,
    kind                 TEXT    NOT NULL CHECK (kind IN ('call_button', 'permission')),
    name                 TEXT    NOT NULL,
    language             TEXT    NOT NULL,
    category             TEXT    NOT NULL CHECK (category IN ('marketing', 'utility')),
    status               TEXT    NOT NULL,
    is_default           BIGINT  NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    body                 TEXT    NOT NULL,
    body_variables       BIGINT  NOT NULL DEFAULT 0,
    header               TEXT,
    footer               TEXT,
    -- Call-button templates only: the button, and where it leads ('whatsapp_call' calls the
    -- sending number on WhatsApp and expires after ttl_minutes; 'phone_number'; 'url').
    button_label         TEXT,
    button_target        TEXT    CHECK (button_target IN ('whatsapp_call', 'phone_number', 'url')),
    button_phone_number  TEXT,
    button_url           TEXT,
    ttl_minutes          BIGINT,
    meta_template_id     TEXT    NOT NULL,
    created_by           TEXT    NOT NULL,
    created_at           BIGINT  NOT NULL,
    updated_at           BIGINT  NOT NULL,
    UNIQUE (number_id, name, language)
);
CREATE INDEX calling_templates_by_workspace ON calling_templates (workspace_id, kind, created_at);
-- At most one default per kind per workspace, whatever the interleaving of writers.
CREATE UNIQUE INDEX calling_templates_one_default ON calling_templates (workspace_id, kind) WHERE is_default = 1;

-- Every template message WhatsApp accepted. No foreign key to the template: the history
-- outlives a deleted template (its name is copied).
CREATE TABLE calling_template_sends (
    id              TEXT    PRIMARY KEY,
    workspace_id    TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    template_id     TEXT    NOT NULL,
    template_name   TEXT    NOT NULL,
    number_id       TEXT    NOT NULL,
    to_number       TEXT    NOT NULL,   -- E.164
    wa_message_id   TEXT    NOT NULL,   -- Meta's wamid
    variables       TEXT    NOT NULL,   -- JSON array of the body's values, in order
    cost_micros     BIGINT  NOT NULL DEFAULT 0,
    sent_by         TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL
);
CREATE INDEX calling_template_sends_by_workspace ON calling_template_sends (workspace_id, created_at DESC);
