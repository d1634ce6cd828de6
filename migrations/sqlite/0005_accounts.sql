-- Accounts (SQLite dialect; keep in step with ../postgres/0005_accounts.sql): users, their
-- workspace memberships and roles, sessions, invitations, password resets, API keys and the
-- append-only audit log. Tokens and keys are never stored, only their SHA-256 (hex); passwords
-- only as argon2id PHC strings.

CREATE TABLE users (
    id                TEXT    PRIMARY KEY,
    email             TEXT    NOT NULL,         -- as the user typed it
    email_normalized  TEXT    NOT NULL UNIQUE,  -- trimmed and lower-cased: one account per address
    display_name      TEXT    NOT NULL,
    password_hash     TEXT    NOT NULL,         -- argon2id PHC string
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);

-- Present once the first owner exists; its primary key makes a second `POST /setup` fail even
-- when two race.
CREATE TABLE install_setup (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    completed_at  INTEGER NOT NULL
);

CREATE TABLE memberships (
    workspace_id  TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role          TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'agent', 'viewer')),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships (user_id);

-- A signed-in browser. `workspace_id` is the workspace it currently works in.
CREATE TABLE sessions (
    id            TEXT    PRIMARY KEY,
    token_hash    TEXT    NOT NULL UNIQUE,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    workspace_id  TEXT    REFERENCES workspaces (id) ON DELETE SET NULL,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,   -- idle expiry counts from here
    expires_at    INTEGER NOT NULL,   -- absolute expiry
    ip            TEXT,
    user_agent    TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE invitations (
    id                TEXT    PRIMARY KEY,
    workspace_id      TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email             TEXT    NOT NULL,
    email_normalized  TEXT    NOT NULL,
    role              TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'agent', 'viewer')),
    token_hash        TEXT    NOT NULL UNIQUE,
    invited_by        TEXT,               -- "user:<id>", "api_key:<id>" or "cli"
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    accepted_at       INTEGER,
    accepted_by       TEXT    REFERENCES users (id) ON DELETE SET NULL,
    revoked_at        INTEGER
);
CREATE INDEX invitations_by_workspace ON invitations (workspace_id, created_at DESC);

CREATE TABLE password_resets (
    id          TEXT    PRIMARY KEY,
    user_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX password_resets_by_user ON password_resets (user_id);

-- Keys look like sb_live_<prefix>_<secret>; the prefix is shown in lists and finds the row.
CREATE TABLE api_keys (
    id            TEXT    PRIMARY KEY,
    workspace_id  TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'agent', 'viewer')),
    prefix        TEXT    NOT NULL UNIQUE,
    key_hash      TEXT    NOT NULL,
    created_by    TEXT,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
);
CREATE INDEX api_keys_by_workspace ON api_keys (workspace_id, created_at DESC);

-- Append-only: rows are inserted, never updated or deleted (no foreign keys, so history
-- outlives what it mentions).
CREATE TABLE audit_log (
    id            TEXT    PRIMARY KEY,
    workspace_id  TEXT,
    actor         TEXT    NOT NULL,   -- "user:<id>", "api_key:<id>", "cli", "anonymous"
    action        TEXT    NOT NULL,   -- e.g. "member.invited", "api_key.created"
    target        TEXT,
    details       TEXT    NOT NULL,   -- JSON object
    ip            TEXT,
    at            INTEGER NOT NULL
);
CREATE INDEX audit_log_by_workspace ON audit_log (workspace_id, at DESC);
