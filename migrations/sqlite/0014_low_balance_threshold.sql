-- Billing settings per workspace (SQLite dialect; keep in step with
-- ../postgres/0014_low_balance_threshold.sql). No row means the defaults
-- (calling::billing::threshold::DEFAULT). Money is INTEGER micro-units of the wallet currency.
CREATE TABLE billing_settings (
    workspace_id                  TEXT    PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    -- Below this much available money the wallet shows a low-balance warning; 0 turns it off.
    low_balance_threshold_micros  INTEGER NOT NULL CHECK (low_balance_threshold_micros >= 0),
    updated_at                    INTEGER NOT NULL
);
