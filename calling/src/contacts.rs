//! Contacts: the WhatsApp users a workspace knows by name, grouped by tags ("leads", "vip"),
//! so a team can send a call-button template to every contact tagged `leads` — the seed's
//! `contacts --tag leads | … | calling send` workflow.
//!
//! One contact per (workspace, phone number): the number is the identity WhatsApp uses, stored
//! in E.164 (parsed once by [`PhoneNumber::parse`]). Tags are lower-case words kept in their own
//! table so "every contact tagged X" is an index lookup. An update replaces what it names and
//! keeps the rest; every write happens in one transaction, so a refused field changes nothing.

use serde::{Deserialize, Serialize};

use crate::error::Quoted;
use crate::phone::PhoneNumber;
use crate::storage::Db;
use crate::{Error, Result};

/// Most tags one contact carries.
pub const MAX_TAGS: usize = 20;
/// Longest name kept.
pub const MAX_NAME_CHARS: usize = 120;

/// A contact as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Contact {
    pub id: String,
    /// E.164 with `+`.
    pub phone_number: String,
    pub name: Option<String>,
    /// Sorted, without repeats.
    pub tags: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A tag: 1–32 characters of lower-case letters, digits, `-` and `_` (typed in any case).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tag(String);

impl Tag {
    pub fn parse(raw: &str) -> Result<Tag> {
        let tag = raw.trim().to_lowercase();
        let valid = (1..=32).contains(&tag.chars().count())
            && tag.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !valid {
            return Err(Error::validation(
                "tags",
                format!("{raw} is not a tag: 1 to 32 letters, digits, '-' or '_'", raw = Quoted(raw)),
            ));
        }
        Ok(Tag(tag))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Tags as given: parsed, repeats dropped, sorted; at most [`MAX_TAGS`].
pub fn parse_tags<S: AsRef<str>>(raw: &[S]) -> Result<Vec<Tag>> {
    let mut tags = raw.iter().map(|tag| Tag::parse(tag.as_ref())).collect::<Result<Vec<_>>>()?;
    tags.sort();
    tags.dedup();
    if tags.len() > MAX_TAGS {
        return Err(Error::validation("tags", format!("at most {MAX_TAGS} tags a contact")));
    }
    Ok(tags)
}

/// A name as given: trimmed, blank meaning none, at most [`MAX_NAME_CHARS`].
fn parse_name(raw: Option<&str>) -> Result<Option<String>> {
    let name = raw.map(str::trim).filter(|name| !name.is_empty());
    if name.is_some_and(|name| name.chars().count() > MAX_NAME_CHARS) {
        return Err(Error::validation("name", format!("at most {MAX_NAME_CHARS} characters")));
    }
    Ok(name.map(str::to_owned))
}

/// What `POST /contacts` takes.
#[derive(Clone, Debug, Default, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct NewContact {
    pub phone_number: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// What `PUT /contacts/:id` takes: each field present replaces the stored one (`name: null` or
/// blank clears the name; `tags: []` clears the tags); absent fields are kept.
#[derive(Clone, Debug, Default, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct ContactUpdate {
    #[serde(default, deserialize_with = "present")]
    pub name: Option<Option<String>>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Tags to add to the ones it has (for "tag these as leads" without reading first).
    #[serde(default)]
    pub add_tags: Vec<String>,
    /// Tags to take away.
    #[serde(default)]
    pub remove_tags: Vec<String>,
}

/// `Some(None)` for an explicit `null`, so an update can clear a field.
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

type ContactRow = (String, String, Option<String>, i64, i64);

async fn tags_of(conn: &mut sqlx::AnyConnection, contact_id: &str) -> Result<Vec<String>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT tag FROM contact_tags WHERE contact_id = $1 ORDER BY tag")
            .bind(contact_id)
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows.into_iter().map(|(tag,)| tag).collect())
}

async fn set_tags(
    conn: &mut sqlx::AnyConnection,
    workspace_id: &str,
    contact_id: &str,
    tags: &[Tag],
) -> Result<()> {
    sqlx::query("DELETE FROM contact_tags WHERE contact_id = $1")
        .bind(contact_id)
        .execute(&mut *conn)
        .await?;
    for tag in tags {
        sqlx::query("INSERT INTO contact_tags (contact_id, workspace_id, tag) VALUES ($1, $2, $3)")
            .bind(contact_id)
            .bind(workspace_id)
            .bind(tag.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Adds a contact; a number the workspace already has is a conflict naming the existing one.
pub async fn create(db: &Db, workspace_id: &str, new: &NewContact, now: i64) -> Result<Contact> {
    let phone = PhoneNumber::parse(&new.phone_number)?;
    let name = parse_name(new.name.as_deref())?;
    let tags = parse_tags(&new.tags)?;
    let mut tx = db.pool().begin().await?;
    let existing: Option<(String,)> =
        sqlx::query_as("SELECT id FROM contacts WHERE workspace_id = $1 AND phone_number = $2")
            .bind(workspace_id)
            .bind(phone.e164())
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((id,)) = existing {
        return Err(Error::Conflict {
            code: "contact_exists",
            message: format!("{} is already a contact ({id}); update it instead", phone.e164()),
        });
    }
    let id = crate::ids::new_id();
    sqlx::query(
        "INSERT INTO contacts (id, workspace_id, phone_number, name, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(&id)
    .bind(workspace_id)
    .bind(phone.e164())
    .bind(&name)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    set_tags(&mut tx, workspace_id, &id, &tags).await?;
    tx.commit().await?;
    get(db, workspace_id, &id).await
}

/// One contact of the workspace; another workspace's is "not found".
pub async fn get(db: &Db, workspace_id: &str, id: &str) -> Result<Contact> {
    let mut conn = db.pool().acquire().await?;
    let row: ContactRow = sqlx::query_as(
        "SELECT id, phone_number, name, created_at, updated_at FROM contacts WHERE workspace_id = $1 AND id = $2",
    )
    .bind(workspace_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(Error::NotFound { what: "contact" })?;
    let tags = tags_of(&mut conn, id).await?;
    Ok(contact_of(row, tags))
}

fn contact_of((id, phone_number, name, created_at, updated_at): ContactRow, tags: Vec<String>) -> Contact {
    Contact { id, phone_number, name, tags, created_at, updated_at }
}

/// Changes what `update` names, keeps the rest.
pub async fn update(
    db: &Db,
    workspace_id: &str,
    id: &str,
    update: &ContactUpdate,
    now: i64,
) -> Result<Contact> {
    let name = update.name.as_ref().map(|name| parse_name(name.as_deref())).transpose()?;
    let replaced = update.tags.as_deref().map(parse_tags).transpose()?;
    let added = parse_tags(&update.add_tags)?;
    let removed = parse_tags(&update.remove_tags)?;
    let current = get(db, workspace_id, id).await?;
    let mut tags = match replaced {
        Some(tags) => tags,
        None => parse_tags(&current.tags)?,
    };
    tags.extend(added);
    tags.retain(|tag| !removed.contains(tag));
    tags.sort();
    tags.dedup();
    if tags.len() > MAX_TAGS {
        return Err(Error::validation("tags", format!("at most {MAX_TAGS} tags a contact")));
    }
    let mut tx = db.pool().begin().await?;
    let name = name.unwrap_or(current.name);
    sqlx::query("UPDATE contacts SET name = $1, updated_at = $2 WHERE workspace_id = $3 AND id = $4")
        .bind(&name)
        .bind(now)
        .bind(workspace_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    set_tags(&mut tx, workspace_id, id, &tags).await?;
    tx.commit().await?;
    get(db, workspace_id, id).await
}

/// Removes a contact and its tags (calls and permissions with the number stay: they are
/// history, not address book).
pub async fn delete(db: &Db, workspace_id: &str, id: &str) -> Result<Contact> {
    let contact = get(db, workspace_id, id).await?;
    let mut tx = db.pool().begin().await?;
    sqlx::query("DELETE FROM contact_tags WHERE contact_id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM contacts WHERE workspace_id = $1 AND id = $2")
        .bind(workspace_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(contact)
}

/// The workspace's contacts, by name then number; only those tagged `tag` when given.
pub async fn list(db: &Db, workspace_id: &str, tag: Option<&Tag>) -> Result<Vec<Contact>> {
    let mut conn = db.pool().acquire().await?;
    let rows: Vec<ContactRow> =
        match tag {
            Some(tag) => {
                sqlx::query_as(
                    "SELECT c.id, c.phone_number, c.name, c.created_at, c.updated_at FROM contacts c \
                 JOIN contact_tags t ON t.contact_id = c.id AND t.workspace_id = c.workspace_id \
                 WHERE c.workspace_id = $1 AND t.tag = $2 \
                 ORDER BY COALESCE(c.name, c.phone_number), c.phone_number",
                )
                .bind(workspace_id)
                .bind(tag.as_str())
                .fetch_all(&mut *conn)
                .await?
            }
            None => sqlx::query_as(
                "SELECT id, phone_number, name, created_at, updated_at FROM contacts WHERE workspace_id = $1 \
                 ORDER BY COALESCE(name, phone_number), phone_number",
            )
            .bind(workspace_id)
            .fetch_all(&mut *conn)
            .await?,
        };
    let mut contacts = Vec::with_capacity(rows.len());
    for row in rows {
        let tags = tags_of(&mut conn, &row.0).await?;
        contacts.push(contact_of(row, tags));
    }
    Ok(contacts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_lower_case_words_without_repeats() {
        assert_eq!(Tag::parse(" Leads ").unwrap().as_str(), "leads");
        assert_eq!(Tag::parse("vip_2026").unwrap().as_str(), "vip_2026");
        for bad in ["", "two words", "ünïcode", &"x".repeat(33), "a,b"] {
            assert_eq!(Tag::parse(bad).unwrap_err().code(), "validation_failed", "{bad:?}");
        }
        let tags = parse_tags(&["vip", "Leads", "leads"]).unwrap();
        assert_eq!(tags.iter().map(Tag::as_str).collect::<Vec<_>>(), vec!["leads", "vip"]);
        let many: Vec<String> = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
        assert!(parse_tags(&many).is_err());
    }

    #[test]
    fn names_are_trimmed_and_blank_means_none() {
        assert_eq!(parse_name(Some("  Asha  ")).unwrap().as_deref(), Some("Asha"));
        assert_eq!(parse_name(Some("   ")).unwrap(), None);
        assert_eq!(parse_name(None).unwrap(), None);
        assert!(parse_name(Some(&"n".repeat(MAX_NAME_CHARS + 1))).is_err());
    }
}
