-- Hourly call figures (sqlite dialect). Keep in step with ../postgres/0019_call_stats_hours.sql.

-- What analytics sums instead of scanning every call: the figures of each settled UTC hour
-- (hours since the epoch) per agent ('' for none), filled on first need by calling::analytics.
CREATE TABLE call_stats_hours (
    workspace_id  TEXT    NOT NULL,
    hour          INTEGER NOT NULL,
    agent         TEXT    NOT NULL,
    calls         INTEGER NOT NULL,
    answered      INTEGER NOT NULL,
    missed        INTEGER NOT NULL,
    rejected      INTEGER NOT NULL,
    failed        INTEGER NOT NULL,
    talk_seconds  INTEGER NOT NULL,
    cost_micros   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, hour, agent)
);

-- The hours whose figures above are complete. A call stored, changed or deleted takes its
-- hour's mark away, so the next read fills that hour again.
CREATE TABLE call_stats_hours_done (
    workspace_id  TEXT    NOT NULL,
    hour          INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, hour)
);

CREATE TRIGGER calls_forget_stats_on_insert AFTER INSERT ON calls BEGIN
    DELETE FROM call_stats_hours_done WHERE workspace_id = NEW.workspace_id AND hour = NEW.started_at / 3600000;
END;

CREATE TRIGGER calls_forget_stats_on_update
AFTER UPDATE OF workspace_id, started_at, status, answered_at, duration_seconds, cost_micros, answered_by ON calls BEGIN
    DELETE FROM call_stats_hours_done WHERE workspace_id = OLD.workspace_id AND hour = OLD.started_at / 3600000;
    DELETE FROM call_stats_hours_done WHERE workspace_id = NEW.workspace_id AND hour = NEW.started_at / 3600000;
END;

CREATE TRIGGER calls_forget_stats_on_delete AFTER DELETE ON calls BEGIN
    DELETE FROM call_stats_hours_done WHERE workspace_id = OLD.workspace_id AND hour = OLD.started_at / 3600000;
END;
