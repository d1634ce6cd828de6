-- Contacts with tags (postgres dialect). Keep in step with ../sqlite/0015_contacts.sql.

-- The WhatsApp users a workspace knows by name: one per phone number (E.164).
CREATE TABLE contacts (
    id            TEXT    PRIMARY KEY,
    workspace_id  TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    phone_number  TEXT    NOT NULL,
    name          TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX contacts_by_number ON contacts (workspace_id, phone_number);

-- Lower-case tags ("leads", "vip"): "every contact tagged X" is a lookup on (workspace, tag).
CREATE TABLE contact_tags (
    contact_id    TEXT    NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    workspace_id  TEXT    NOT NULL,
    tag           TEXT    NOT NULL,
    PRIMARY KEY (contact_id, tag)
);
CREATE INDEX contact_tags_by_tag ON contact_tags (workspace_id, tag);
