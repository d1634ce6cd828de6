-- Billing (SQLite dialect). Keep in step with ../postgres/0006_billing.sql: same tables, same
-- columns, same meaning. Money is INTEGER micro-units of the wallet currency, times unix ms.

-- One subscription per workspace. No row means no subscription (treated as expired).
CREATE TABLE subscriptions (
    workspace_id        TEXT    PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    plan                TEXT    NOT NULL,
    status              TEXT    NOT NULL CHECK (status IN ('active', 'past_due', 'expired')),
    current_period_end  INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);

-- The wallet row caches what the ledger says (updated in the same transaction as every entry;
-- billing::wallet::verify checks it) and is the row every money-moving transaction locks first.
CREATE TABLE wallets (
    workspace_id    TEXT    PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    currency        TEXT    NOT NULL DEFAULT 'USD',
    balance_micros  INTEGER NOT NULL DEFAULT 0,   -- ledger: available + held
    held_micros     INTEGER NOT NULL DEFAULT 0,   -- ledger: held = sum of active holds
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    CHECK (held_micros >= 0 AND balance_micros >= held_micros)
);

-- Versioned rate cards: a new version per edit, never updated, so a hold keeps the price it
-- was placed with. Lines: 'call:*' (default per-pulse rate), 'call:IN' (per country),
-- 'message:text' | 'message:media' | 'message:template' | 'message:calling_template'.
CREATE TABLE rate_cards (
    id                     TEXT    PRIMARY KEY,
    workspace_id           TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    version                INTEGER NOT NULL,
    currency               TEXT    NOT NULL,
    call_estimate_minutes  INTEGER NOT NULL CHECK (call_estimate_minutes > 0),
    created_by             TEXT,
    note                   TEXT,
    created_at             INTEGER NOT NULL,
    UNIQUE (workspace_id, version)
);

CREATE TABLE rate_card_lines (
    rate_card_id     TEXT    NOT NULL REFERENCES rate_cards (id) ON DELETE CASCADE,
    item             TEXT    NOT NULL,
    meta_micros      INTEGER NOT NULL CHECK (meta_micros >= 0),
    billable_micros  INTEGER NOT NULL CHECK (billable_micros >= 0),
    PRIMARY KEY (rate_card_id, item)
);

-- Money reserved by a preflight until the call or send it paid for is settled, released or
-- expired. The unit rates are copied from the rate card version at hold time.
CREATE TABLE holds (
    id               TEXT    PRIMARY KEY,
    workspace_id     TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    purpose          TEXT    NOT NULL CHECK (purpose IN ('call', 'message')),
    amount_micros    INTEGER NOT NULL CHECK (amount_micros > 0),
    state            TEXT    NOT NULL CHECK (state IN ('active', 'settled', 'released', 'expired')),
    rate_card_id     TEXT    NOT NULL REFERENCES rate_cards (id),
    item             TEXT    NOT NULL,
    meta_micros      INTEGER NOT NULL,   -- Meta's cost per unit (pulse or message)
    billable_micros  INTEGER NOT NULL,   -- what the wallet pays per unit
    callee           TEXT,
    call_id          TEXT,
    message_id       TEXT,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    closed_at        INTEGER
);

CREATE INDEX holds_by_state_and_expiry ON holds (state, expires_at);
CREATE UNIQUE INDEX holds_by_call ON holds (call_id);

-- The append-only, double-entry ledger: each row moves amount_micros from one account to
-- another, so every row balances by construction. Wallet accounts: 'available', 'held';
-- counter-accounts: 'funding' (top-ups), 'revenue' (charges, refunds), 'adjustments'.
CREATE TABLE ledger_entries (
    id             TEXT    PRIMARY KEY,
    workspace_id   TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind           TEXT    NOT NULL CHECK (kind IN ('top_up', 'hold', 'release', 'call_charge',
                                                    'message_charge', 'refund', 'adjustment')),
    from_account   TEXT    NOT NULL,
    to_account     TEXT    NOT NULL,
    amount_micros  INTEGER NOT NULL CHECK (amount_micros > 0),
    dedupe_key     TEXT    UNIQUE,
    hold_id        TEXT,
    call_id        TEXT,
    message_id     TEXT,
    top_up_id      TEXT,
    actor_user_id  TEXT,
    reason         TEXT,
    created_at     INTEGER NOT NULL,
    CHECK (from_account <> to_account)
);

CREATE INDEX ledger_entries_by_workspace ON ledger_entries (workspace_id, created_at, id);
CREATE INDEX ledger_entries_by_call ON ledger_entries (call_id);

CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger_entries is append-only');
END;

-- One settlement per call: the unique key that makes settlement idempotent.
CREATE TABLE call_settlements (
    call_id             TEXT    PRIMARY KEY,
    workspace_id        TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    hold_id             TEXT    NOT NULL REFERENCES holds (id),
    duration_seconds    INTEGER NOT NULL,
    pulses              INTEGER NOT NULL,
    meta_cost_micros    INTEGER NOT NULL,
    billable_micros     INTEGER NOT NULL,   -- what the call cost at the hold's rate
    charged_micros      INTEGER NOT NULL,   -- what the wallet paid (billable, unless it ran dry)
    uncollected_micros  INTEGER NOT NULL,
    released_micros     INTEGER NOT NULL,
    settled_at          INTEGER NOT NULL
);
