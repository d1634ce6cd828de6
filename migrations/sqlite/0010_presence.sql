-- Agent presence (sqlite dialect). Keep in step with ../postgres/0010_presence.sql.

-- What each agent's browser last said: available or away, and the call it is on. A browser
-- that stops sending heartbeats is offline after a short while; an agent on a call whose
-- browser went silent has their call ended (the tab closed without its beacon).
CREATE TABLE agent_presence (
    workspace_id  TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status        TEXT    NOT NULL CHECK (status IN ('online', 'away')),
    call_id       TEXT,
    last_seen_at  INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX agent_presence_on_call ON agent_presence (call_id) WHERE call_id IS NOT NULL;
