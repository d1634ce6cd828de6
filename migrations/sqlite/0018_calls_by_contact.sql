-- Calls by contact (sqlite dialect). Keep in step with ../postgres/0018_calls_by_contact.sql.

-- A ringing call looks up the contact's last agent (routing: that agent rings first), and a
-- workspace of a million calls must not scan them all for it.
CREATE INDEX calls_by_contact ON calls (workspace_id, contact_number, started_at DESC);
