-- Call settings per number (PostgreSQL dialect; keep in step with ../sqlite/0004_call_settings.sql).
-- `desired` is what the business last set here and pushed to WhatsApp; `remote` is what
-- WhatsApp last reported (GET settings or the account_settings_update webhook). Their
-- difference is the drift the settings page shows. Both are Meta's `calling` object, JSON.
CREATE TABLE call_settings (
    number_id          TEXT    PRIMARY KEY REFERENCES whatsapp_numbers (id) ON DELETE CASCADE,
    workspace_id       TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    desired            TEXT,
    pushed_at          BIGINT ,
    remote             TEXT,
    remote_fetched_at  BIGINT ,
    updated_at         BIGINT  NOT NULL
);
