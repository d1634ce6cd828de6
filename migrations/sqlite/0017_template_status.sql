-- Template review by webhook (sqlite dialect). Keep in step with ../postgres/0017_template_status.sql.

-- Meta's `message_template_status_update` webhooks move `status` after creation. `status_reason`
-- is Meta's reason for the latest change (e.g. INVALID_FORMAT for a rejection; NULL when Meta
-- gave none or said NONE); `status_at` is when that change happened (unix ms), so an older
-- update delivered late never overwrites a newer one.
ALTER TABLE calling_templates ADD COLUMN status_reason TEXT;
ALTER TABLE calling_templates ADD COLUMN status_at INTEGER;
-- Status webhooks name the template by Meta's id only.
CREATE INDEX calling_templates_by_meta_id ON calling_templates (meta_template_id);
