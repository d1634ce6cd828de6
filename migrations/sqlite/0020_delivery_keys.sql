-- Webhook deliveries are deduplicated without a unique index written on every store.
--
-- Why: the dedupe key (the delivery's second, then the SHA-256 of its body) is random within a
-- second, so each batch of stored deliveries rewrote about one index page per row, three
-- quarters of what the write-ahead log took during a flood, and acknowledgements waited for
-- it. Now the ingest task (one per SQLite file) knows the keys of the deliveries it has stored
-- and not yet processed, and a processed delivery's key is recorded here, by the trigger, in
-- the transaction that ends its `pending` state: its index pages are written by processing,
-- at its own pace, not by every acknowledgement. A redelivery is recognised by one or the
-- other and stored once, as before.
CREATE TABLE webhook_delivery_keys (
    dedupe_key   TEXT NOT NULL PRIMARY KEY,
    delivery_id  TEXT NOT NULL
) WITHOUT ROWID;

-- The same table without the UNIQUE constraint on `dedupe_key` (SQLite cannot drop one).
CREATE TABLE webhook_deliveries_new (
    id            TEXT    PRIMARY KEY,
    dedupe_key    TEXT    NOT NULL,
    received_at   INTEGER NOT NULL,
    body          TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('pending', 'processed', 'failed')),
    processed_at  INTEGER,
    error         TEXT
);
INSERT INTO webhook_deliveries_new (id, dedupe_key, received_at, body, state, processed_at, error)
    SELECT id, dedupe_key, received_at, body, state, processed_at, error FROM webhook_deliveries;
DROP TABLE webhook_deliveries;
ALTER TABLE webhook_deliveries_new RENAME TO webhook_deliveries;
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (state, received_at);

INSERT INTO webhook_delivery_keys (dedupe_key, delivery_id)
    SELECT dedupe_key, id FROM webhook_deliveries WHERE state <> 'pending';

CREATE TRIGGER webhook_delivery_key_on_processing
AFTER UPDATE OF state ON webhook_deliveries
WHEN OLD.state = 'pending' AND NEW.state <> 'pending'
BEGIN
    INSERT OR IGNORE INTO webhook_delivery_keys (dedupe_key, delivery_id) VALUES (NEW.dedupe_key, NEW.id);
END;
