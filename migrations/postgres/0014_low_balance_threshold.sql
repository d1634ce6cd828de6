-- Billing settings per workspace (PostgreSQL dialect; keep in step with
-- ../sqlite/0014_low_balance_threshold.sql). No row means the defaults
-- (calling::billing::threshold::DEFAULT). Money is BIGINT micro-units of the wallet currency.
CREATE TABLE billing_settings (
    workspace_id                  TEXT    PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    -- Below this much available money the wallet shows a low-balance warning; 0 turns it off.
    low_balance_threshold_micros  BIGINT NOT NULL CHECK (low_balance_threshold_micros >= 0),
    updated_at                    BIGINT NOT NULL
);
