-- The answer bridge (sqlite dialect). Keep in step with ../postgres/0008_answer_bridge.sql.

-- The member whose browser answered (or is answering) an inbound call. Set once, atomically,
-- when their browser sends pre_accept: the first answer wins and every other agent's ring
-- stops. NULL while nobody has picked up, and for calls not answered in a browser.
ALTER TABLE calls ADD COLUMN answered_by TEXT REFERENCES users (id) ON DELETE SET NULL;
