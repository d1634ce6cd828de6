//! WhatsApp business numbers a workspace connects: their Meta ids, Graph API endpoint and the
//! credentials to call it, sealed at rest.
//!
//! Credentials never leave this module unsealed except as [`NumberCredentials`] for the Graph
//! API client and the webhook checks; [`WhatsAppNumber`] (what APIs return) holds none.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::new_id;
use crate::phone::PhoneNumber;
use crate::secrets::SecretKey;
use crate::storage::Db;
use crate::{Error, Result};

/// The Graph API version used when none is given.
pub const DEFAULT_GRAPH_API_VERSION: &str = "v23.0";
/// Meta's Graph API.
pub const META_GRAPH_API_BASE_URL: &str = "https://graph.facebook.com";

/// A connected number, without its secrets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhatsAppNumber {
    pub id: String,
    pub workspace_id: String,
    pub phone_number_id: String,
    pub waba_id: String,
    pub display_phone_number: String,
    /// The number in E.164 form.
    pub e164: String,
    /// ISO 3166 alpha-2 country of the number (Meta's rules depend on it).
    pub country: Option<String>,
    pub graph_api_version: String,
    pub graph_api_base_url: String,
    /// The number lives in the built-in simulator, not at Meta.
    pub is_sandbox: bool,
    pub created_at: i64,
}

impl WhatsAppNumber {
    /// `https://graph.facebook.com/v23.0` — where this number's Graph API calls go.
    pub fn graph_api_root(&self) -> String {
        format!("{}/{}", self.graph_api_base_url.trim_end_matches('/'), self.graph_api_version)
    }
}

/// A number's credentials, unsealed. `Debug` shows none of them.
#[derive(Clone, PartialEq, Eq)]
pub struct NumberCredentials {
    pub access_token: String,
    pub app_secret: String,
    pub verify_token: String,
}

impl fmt::Debug for NumberCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NumberCredentials(..)")
    }
}

/// What it takes to connect a number.
#[derive(Clone, Debug)]
pub struct NewNumber {
    pub phone_number_id: String,
    pub waba_id: String,
    /// The number as the business writes it; parsed and normalised.
    pub phone_number: String,
    pub credentials: NumberCredentials,
    pub graph_api_version: Option<String>,
    pub graph_api_base_url: Option<String>,
    pub is_sandbox: bool,
}

/// Meta ids are decimal digits.
fn parse_meta_id(field: &str, raw: &str) -> Result<String> {
    let id = raw.trim();
    if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::validation(field, "must be Meta's numeric id (digits only)"));
    }
    Ok(id.to_owned())
}

/// `v23.0` style, at least v17.0 (the first version with calling).
fn parse_graph_version(raw: &str) -> Result<String> {
    let version = raw.trim();
    let valid = version
        .strip_prefix('v')
        .and_then(|rest| rest.split_once('.'))
        .and_then(|(major, minor)| Some((major.parse::<u32>().ok()?, minor.parse::<u32>().ok()?)))
        .is_some_and(|(major, _)| major >= 17);
    if !valid {
        return Err(Error::validation("graph_api_version", "must look like v23.0 (v17.0 or later)"));
    }
    Ok(version.to_owned())
}

fn parse_base_url(raw: &str) -> Result<String> {
    let url = raw.trim().trim_end_matches('/');
    let valid = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() > "https://".len()
        && !url.contains(char::is_whitespace);
    if !valid {
        return Err(Error::validation("graph_api_base_url", "must be an http(s) URL"));
    }
    Ok(url.to_owned())
}

fn require_secret(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::validation(field, "is required"));
    }
    Ok(())
}

type NumberRow = (String, String, String, String, String, String, Option<String>, String, String, i64, i64);

const COLUMNS: &str = "id, workspace_id, phone_number_id, waba_id, display_phone_number, e164, country, \
                       graph_api_version, graph_api_base_url, is_sandbox, created_at";

fn from_row(row: NumberRow) -> WhatsAppNumber {
    let (
        id,
        workspace_id,
        phone_number_id,
        waba_id,
        display_phone_number,
        e164,
        country,
        graph_api_version,
        graph_api_base_url,
        is_sandbox,
        created_at,
    ) = row;
    WhatsAppNumber {
        id,
        workspace_id,
        phone_number_id,
        waba_id,
        display_phone_number,
        e164,
        country,
        graph_api_version,
        graph_api_base_url,
        is_sandbox: is_sandbox != 0,
        created_at,
    }
}

/// Connects a number to `workspace_id`. A `phone_number_id` can belong to one workspace only.
pub async fn connect(
    db: &Db,
    key: &SecretKey,
    workspace_id: &str,
    new: NewNumber,
    now: i64,
) -> Result<WhatsAppNumber> {
    let phone_number_id = parse_meta_id("phone_number_id", &new.phone_number_id)?;
    let waba_id = parse_meta_id("waba_id", &new.waba_id)?;
    let phone = PhoneNumber::parse(&new.phone_number)?;
    let graph_api_version =
        parse_graph_version(new.graph_api_version.as_deref().unwrap_or(DEFAULT_GRAPH_API_VERSION))?;
    let graph_api_base_url =
        parse_base_url(new.graph_api_base_url.as_deref().unwrap_or(META_GRAPH_API_BASE_URL))?;
    let credentials = &new.credentials;
    require_secret("access_token", &credentials.access_token)?;
    require_secret("app_secret", &credentials.app_secret)?;
    require_secret("verify_token", &credentials.verify_token)?;

    let taken: Option<(String,)> =
        sqlx::query_as("SELECT id FROM whatsapp_numbers WHERE phone_number_id = $1")
            .bind(&phone_number_id)
            .fetch_optional(db.pool())
            .await?;
    if taken.is_some() {
        return Err(Error::Conflict {
            code: "number_already_connected",
            message: format!("phone number id {phone_number_id} is already connected"),
        });
    }

    let number = WhatsAppNumber {
        id: new_id(),
        workspace_id: workspace_id.to_owned(),
        phone_number_id,
        waba_id,
        display_phone_number: phone.to_string(),
        e164: phone.e164().to_owned(),
        country: phone.country().map(str::to_owned),
        graph_api_version,
        graph_api_base_url,
        is_sandbox: new.is_sandbox,
        created_at: now,
    };
    sqlx::query(
        "INSERT INTO whatsapp_numbers (id, workspace_id, phone_number_id, waba_id, display_phone_number, e164, \
           country, access_token_sealed, app_secret_sealed, verify_token_sealed, graph_api_version, \
           graph_api_base_url, is_sandbox, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)",
    )
    .bind(&number.id)
    .bind(&number.workspace_id)
    .bind(&number.phone_number_id)
    .bind(&number.waba_id)
    .bind(&number.display_phone_number)
    .bind(&number.e164)
    .bind(&number.country)
    .bind(key.seal(&credentials.access_token)?)
    .bind(key.seal(&credentials.app_secret)?)
    .bind(key.seal(&credentials.verify_token)?)
    .bind(&number.graph_api_version)
    .bind(&number.graph_api_base_url)
    .bind(i64::from(number.is_sandbox))
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(number)
}

/// The numbers of a workspace, oldest first.
pub async fn list(db: &Db, workspace_id: &str) -> Result<Vec<WhatsAppNumber>> {
    let rows: Vec<NumberRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM whatsapp_numbers WHERE workspace_id = $1 ORDER BY created_at, id"
    ))
    .bind(workspace_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// The number Meta calls `phone_number_id`, in any workspace (webhook routing).
pub async fn by_phone_number_id(db: &Db, phone_number_id: &str) -> Result<Option<WhatsAppNumber>> {
    let row: Option<NumberRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM whatsapp_numbers WHERE phone_number_id = $1"))
            .bind(phone_number_id)
            .fetch_optional(db.pool())
            .await?;
    Ok(row.map(from_row))
}

/// One number of a workspace; a number of another workspace is "not found".
pub async fn get(db: &Db, workspace_id: &str, id: &str) -> Result<WhatsAppNumber> {
    let row: Option<NumberRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM whatsapp_numbers WHERE workspace_id = $1 AND id = $2"
    ))
    .bind(workspace_id)
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    row.map(from_row).ok_or(Error::NotFound { what: "WhatsApp number" })
}

/// The unsealed credentials of a number.
pub async fn credentials(db: &Db, key: &SecretKey, number_id: &str) -> Result<NumberCredentials> {
    let (access_token, app_secret, verify_token): (String, String, String) = sqlx::query_as(
        "SELECT access_token_sealed, app_secret_sealed, verify_token_sealed FROM whatsapp_numbers WHERE id = $1",
    )
    .bind(number_id)
    .fetch_optional(db.pool())
    .await?
    .ok_or(Error::NotFound { what: "WhatsApp number" })?;
    Ok(NumberCredentials {
        access_token: key.open(&access_token)?,
        app_secret: key.open(&app_secret)?,
        verify_token: key.open(&verify_token)?,
    })
}

/// Points a number at another Graph API host (the sandbox moves with the server's port).
pub async fn set_graph_api_base_url(db: &Db, phone_number_id: &str, base_url: &str, now: i64) -> Result<()> {
    let base_url = parse_base_url(base_url)?;
    sqlx::query(
        "UPDATE whatsapp_numbers SET graph_api_base_url = $1, updated_at = $2 WHERE phone_number_id = $3",
    )
    .bind(base_url)
    .bind(now)
    .bind(phone_number_id)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The distinct app secrets and verify tokens of every connected number: a webhook is
/// authentic if it is signed with one of the secrets (checked before the body is parsed).
pub async fn webhook_secrets(db: &Db, key: &SecretKey) -> Result<WebhookSecrets> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT app_secret_sealed, verify_token_sealed FROM whatsapp_numbers")
            .fetch_all(db.pool())
            .await?;
    let mut secrets = WebhookSecrets::default();
    for (app_secret, verify_token) in rows {
        let (app_secret, verify_token) = (key.open(&app_secret)?, key.open(&verify_token)?);
        if !secrets.app_secrets.contains(&app_secret) {
            secrets.app_secrets.push(app_secret);
        }
        if !secrets.verify_tokens.contains(&verify_token) {
            secrets.verify_tokens.push(verify_token);
        }
    }
    Ok(secrets)
}

/// What the webhook endpoint checks deliveries and handshakes against.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct WebhookSecrets {
    pub app_secrets: Vec<String>,
    pub verify_tokens: Vec<String>,
}

impl fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "WebhookSecrets({} app secrets, {} verify tokens)",
            self.app_secrets.len(),
            self.verify_tokens.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_ids_versions_and_urls_are_checked() {
        assert_eq!(parse_meta_id("waba_id", " 1234 ").unwrap(), "1234");
        assert!(parse_meta_id("waba_id", "12a").is_err());
        assert!(parse_meta_id("waba_id", "").is_err());
        assert_eq!(parse_graph_version("v23.0").unwrap(), "v23.0");
        for bad in ["23.0", "v16.0", "v23", "vx.0", ""] {
            assert!(parse_graph_version(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_base_url("http://127.0.0.1:3000/sim/").unwrap(), "http://127.0.0.1:3000/sim");
        assert!(parse_base_url("ftp://x").is_err());
        assert!(parse_base_url("https://").is_err());
    }

    #[test]
    fn credentials_never_show_in_debug() {
        let credentials = NumberCredentials {
            access_token: "EAAG".into(),
            app_secret: "s3cret".into(),
            verify_token: "vt".into(),
        };
        assert_eq!(format!("{credentials:?}"), "NumberCredentials(..)");
        let secrets = WebhookSecrets { app_secrets: vec!["s3cret".into()], verify_tokens: vec![] };
        assert!(!format!("{secrets:?}").contains("s3cret"));
    }
}
