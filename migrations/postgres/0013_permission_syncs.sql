-- Permission reconciliation (postgres dialect). Keep in step with ../sqlite/0013_permission_syncs.sql.

-- When each (business number, WhatsApp user) pair was last compared with WhatsApp's own view
-- (`GET call_permissions`) and what came of it. A replica claims a pair by moving synced_at
-- forward in one conditional upsert, so two replicas never ask WhatsApp about the same pair
-- at once.
CREATE TABLE permission_syncs (
    number_id       TEXT    NOT NULL REFERENCES whatsapp_numbers (id) ON DELETE CASCADE,
    contact_number  TEXT    NOT NULL,
    synced_at       BIGINT NOT NULL,
    outcome         TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (outcome IN ('pending', 'agreed', 'corrected', 'failed')),
    PRIMARY KEY (number_id, contact_number)
);
CREATE INDEX permission_syncs_due ON permission_syncs (synced_at);
