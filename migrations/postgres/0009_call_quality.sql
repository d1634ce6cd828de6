-- Call quality (postgres dialect). Keep in step with ../sqlite/0009_call_quality.sql.

-- What the agent's browser measured during the call (getStats every 2 s): a JSON document
-- with the summary (round trip, jitter, loss, estimated MOS) and the samples. NULL for calls
-- not taken in a browser.
ALTER TABLE calls ADD COLUMN quality TEXT;
