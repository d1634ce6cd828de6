-- Hourly call figures (postgres dialect). Keep in step with ../sqlite/0019_call_stats_hours.sql.

-- What analytics sums instead of scanning every call: the figures of each settled UTC hour
-- (hours since the epoch) per agent ('' for none), filled on first need by calling::analytics.
CREATE TABLE call_stats_hours (
    workspace_id  TEXT    NOT NULL,
    hour          BIGINT  NOT NULL,
    agent         TEXT    NOT NULL,
    calls         BIGINT  NOT NULL,
    answered      BIGINT  NOT NULL,
    missed        BIGINT  NOT NULL,
    rejected      BIGINT  NOT NULL,
    failed        BIGINT  NOT NULL,
    talk_seconds  BIGINT  NOT NULL,
    cost_micros   BIGINT  NOT NULL,
    PRIMARY KEY (workspace_id, hour, agent)
);

-- The hours whose figures above are complete. A call stored, changed or deleted takes its
-- hour's mark away, so the next read fills that hour again.
CREATE TABLE call_stats_hours_done (
    workspace_id  TEXT    NOT NULL,
    hour          BIGINT  NOT NULL,
    PRIMARY KEY (workspace_id, hour)
);

CREATE FUNCTION calls_forget_stats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM call_stats_hours_done WHERE workspace_id = OLD.workspace_id AND hour = OLD.started_at / 3600000;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        DELETE FROM call_stats_hours_done WHERE workspace_id = NEW.workspace_id AND hour = NEW.started_at / 3600000;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER calls_forget_stats
AFTER INSERT OR DELETE OR UPDATE OF workspace_id, started_at, status, answered_at, duration_seconds, cost_micros, answered_by
ON calls FOR EACH ROW EXECUTE FUNCTION calls_forget_stats();
