//! WhatsApp business numbers a workspace connects: their Meta ids, Graph API endpoint and the
//! credentials to call it, sealed at rest.
//!
//! Credentials never leave this module unsealed except as [`NumberCredentials`] for the Graph
//! API client and the webhook checks; [`WhatsAppNumber`] (what APIs return) holds none.
//!
//! The rules for a number's details ([`NumberForm::problems`]) need no server, so the admin
//! panel checks its connect and edit forms in the browser with the same code that
//! [`connect`] and [`update`] apply.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::phone::PhoneNumber;
use crate::{Error, Result};
#[cfg(feature = "server")]
use crate::{ids::new_id, secrets::SecretKey, storage::Db};

/// The Graph API version used when none is given.
pub const DEFAULT_GRAPH_API_VERSION: &str = "v23.0";
/// Meta's Graph API.
pub const META_GRAPH_API_BASE_URL: &str = "https://graph.facebook.com";

/// A connected number, without its secrets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
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

/// A number's details as a person types them: the admin panel's connect and edit forms and the
/// REST API's bodies. Blank version and base URL mean Meta's defaults; when editing, a blank
/// secret keeps the stored one (secrets are never shown back, so there is nothing to retype).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct NumberForm {
    pub phone_number_id: String,
    pub waba_id: String,
    /// The number as the business writes it; parsed and normalised.
    pub phone_number: String,
    pub graph_api_version: String,
    pub graph_api_base_url: String,
    pub access_token: String,
    pub app_secret: String,
    pub verify_token: String,
}

impl fmt::Debug for NumberForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NumberForm")
            .field("phone_number_id", &self.phone_number_id)
            .field("waba_id", &self.waba_id)
            .field("phone_number", &self.phone_number)
            .field("graph_api_version", &self.graph_api_version)
            .field("graph_api_base_url", &self.graph_api_base_url)
            .finish_non_exhaustive()
    }
}

/// Whether a form connects a new number or edits a connected one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormMode {
    Connect,
    /// Meta's phone number id cannot change (calls and webhooks are filed under it), and blank
    /// secrets are kept.
    Edit,
}

/// A form whose every field passed (what [`connect`] and [`update`] store).
#[derive(Clone, Debug)]
#[cfg_attr(not(feature = "server"), allow(dead_code))]
struct Checked {
    phone_number_id: String,
    waba_id: String,
    phone: PhoneNumber,
    graph_api_version: String,
    graph_api_base_url: String,
}

/// The secret fields, in form order.
const SECRET_FIELDS: [&str; 3] = ["access_token", "app_secret", "verify_token"];

impl NumberForm {
    /// Every problem with the form, one per field in form order: `(field, message)`. Empty when
    /// [`connect`] or [`update`] would take it.
    pub fn problems(&self, mode: FormMode) -> Vec<(String, String)> {
        self.check(mode).err().unwrap_or_default()
    }

    fn secrets(&self) -> [&str; 3] {
        [&self.access_token, &self.app_secret, &self.verify_token]
    }

    fn check(&self, mode: FormMode) -> Result<Checked, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let phone_number_id = match mode {
            FormMode::Connect => keep(&mut problems, parse_meta_id("phone_number_id", &self.phone_number_id)),
            // Edits carry the id only to be read back; it is never changed.
            FormMode::Edit => Some(self.phone_number_id.trim().to_owned()),
        };
        let waba_id = keep(&mut problems, parse_meta_id("waba_id", &self.waba_id));
        let phone = keep(&mut problems, PhoneNumber::parse(&self.phone_number));
        let version = or_default(&self.graph_api_version, DEFAULT_GRAPH_API_VERSION);
        let graph_api_version = keep(&mut problems, parse_graph_version(version));
        let base_url = or_default(&self.graph_api_base_url, META_GRAPH_API_BASE_URL);
        let graph_api_base_url = keep(&mut problems, parse_base_url(base_url));
        if mode == FormMode::Connect {
            for (field, value) in SECRET_FIELDS.into_iter().zip(self.secrets()) {
                keep(&mut problems, require_secret(field, value));
            }
        }
        match (phone_number_id, waba_id, phone, graph_api_version, graph_api_base_url) {
            (
                Some(phone_number_id),
                Some(waba_id),
                Some(phone),
                Some(graph_api_version),
                Some(graph_api_base_url),
            ) if problems.is_empty() => {
                Ok(Checked { phone_number_id, waba_id, phone, graph_api_version, graph_api_base_url })
            }
            _ => Err(problems),
        }
    }

    /// The first problem as the domain's validation error, or the checked details.
    #[cfg(feature = "server")]
    fn checked(&self, mode: FormMode) -> Result<Checked> {
        self.check(mode).map_err(|mut problems| {
            let (field, message) = problems.swap_remove(0);
            Error::Validation { field, message }
        })
    }
}

/// The value, or the field's problem noted in `problems`.
fn keep<T>(problems: &mut Vec<(String, String)>, result: Result<T>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(Error::Validation { field, message }) => {
            problems.push((field, message));
            None
        }
        Err(other) => {
            problems.push(("phone_number".into(), other.public_message()));
            None
        }
    }
}

fn or_default<'a>(raw: &'a str, default: &'a str) -> &'a str {
    if raw.trim().is_empty() { default } else { raw }
}

/// What to do about a connection test WhatsApp refused, by Meta's error code: the errors a
/// wrong token, id or version produce, then the calling codes in [`crate::meta_errors`].
pub fn connection_hint(meta_code: Option<i64>) -> &'static str {
    match meta_code {
        Some(190) => "The access token is wrong, expired or revoked: paste a current system-user token.",
        Some(10 | 200 | 299) => {
            "The token may not manage this number: give its system user the whatsapp_business_management and \
             whatsapp_business_messaging permissions on this WhatsApp Business Account."
        }
        Some(100) => {
            "WhatsApp does not know this phone number id for this token, or refused a parameter: check the ids."
        }
        Some(2635) => "This Graph API version is too old for calling: use v17.0 or later.",
        Some(code) => crate::meta_errors::plain_reason(code),
        None => {
            "WhatsApp could not be reached at this base URL: check it, and that this server can reach it."
        }
    }
}

#[cfg(feature = "server")]
type NumberRow = (String, String, String, String, String, String, Option<String>, String, String, i64, i64);

#[cfg(feature = "server")]
const COLUMNS: &str = "id, workspace_id, phone_number_id, waba_id, display_phone_number, e164, country, \
                       graph_api_version, graph_api_base_url, is_sandbox, created_at";

#[cfg(feature = "server")]
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
#[cfg(feature = "server")]
pub async fn connect(
    db: &Db,
    key: &SecretKey,
    workspace_id: &str,
    new: NewNumber,
    now: i64,
) -> Result<WhatsAppNumber> {
    let NewNumber {
        phone_number_id,
        waba_id,
        phone_number,
        credentials,
        graph_api_version,
        graph_api_base_url,
        is_sandbox,
    } = new;
    let form = NumberForm {
        phone_number_id,
        waba_id,
        phone_number,
        graph_api_version: graph_api_version.unwrap_or_default(),
        graph_api_base_url: graph_api_base_url.unwrap_or_default(),
        access_token: credentials.access_token,
        app_secret: credentials.app_secret,
        verify_token: credentials.verify_token,
    };
    let checked = form.checked(FormMode::Connect)?;

    let taken: Option<(String,)> =
        sqlx::query_as("SELECT id FROM whatsapp_numbers WHERE phone_number_id = $1")
            .bind(&checked.phone_number_id)
            .fetch_optional(db.pool())
            .await?;
    if taken.is_some() {
        return Err(Error::Conflict {
            code: "number_already_connected",
            message: format!("phone number id {} is already connected", checked.phone_number_id),
        });
    }

    let number = WhatsAppNumber {
        id: new_id(),
        workspace_id: workspace_id.to_owned(),
        display_phone_number: checked.phone.to_string(),
        e164: checked.phone.e164().to_owned(),
        country: checked.phone.country().map(str::to_owned),
        phone_number_id: checked.phone_number_id,
        waba_id: checked.waba_id,
        graph_api_version: checked.graph_api_version,
        graph_api_base_url: checked.graph_api_base_url,
        is_sandbox,
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
    .bind(key.seal(&form.access_token)?)
    .bind(key.seal(&form.app_secret)?)
    .bind(key.seal(&form.verify_token)?)
    .bind(&number.graph_api_version)
    .bind(&number.graph_api_base_url)
    .bind(i64::from(number.is_sandbox))
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(number)
}

/// Changes a connected number of `workspace_id`: its WABA id, display number, Graph API version
/// and base URL, and each secret given (blank ones are kept). Meta's phone number id stays;
/// the sandbox number is Switchboard's own and refused. Nothing changes unless every field
/// passes. Returns the number and the names of the secrets replaced.
#[cfg(feature = "server")]
pub async fn update(
    db: &Db,
    key: &SecretKey,
    workspace_id: &str,
    id: &str,
    form: NumberForm,
    now: i64,
) -> Result<(WhatsAppNumber, Vec<&'static str>)> {
    let current = get(db, workspace_id, id).await?;
    if current.is_sandbox {
        return Err(Error::Conflict {
            code: "sandbox_number",
            message: "the sandbox number is managed by Switchboard and cannot be edited".into(),
        });
    }
    let given = form.phone_number_id.trim();
    if !given.is_empty() && given != current.phone_number_id {
        return Err(Error::validation(
            "phone_number_id",
            "cannot change: calls and webhooks are filed under it; connect the other number instead",
        ));
    }
    let checked = NumberForm { phone_number_id: current.phone_number_id.clone(), ..form.clone() }
        .checked(FormMode::Edit)?;
    let replaced: Vec<(&'static str, &str)> =
        SECRET_FIELDS.into_iter().zip(form.secrets()).filter(|(_, value)| !value.trim().is_empty()).collect();

    let mut tx = db.pool().begin().await?;
    sqlx::query(
        "UPDATE whatsapp_numbers SET waba_id = $1, display_phone_number = $2, e164 = $3, country = $4, \
           graph_api_version = $5, graph_api_base_url = $6, updated_at = $7 WHERE workspace_id = $8 AND id = $9",
    )
    .bind(&checked.waba_id)
    .bind(checked.phone.to_string())
    .bind(checked.phone.e164())
    .bind(checked.phone.country())
    .bind(&checked.graph_api_version)
    .bind(&checked.graph_api_base_url)
    .bind(now)
    .bind(workspace_id)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    for (field, value) in &replaced {
        // The column is one of three fixed names, never user input.
        sqlx::query(&format!(
            "UPDATE whatsapp_numbers SET {field}_sealed = $1 WHERE workspace_id = $2 AND id = $3"
        ))
        .bind(key.seal(value)?)
        .bind(workspace_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok((get(db, workspace_id, id).await?, replaced.into_iter().map(|(field, _)| field).collect()))
}

#[cfg(feature = "server")]
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

#[cfg(feature = "server")]
/// The number Meta calls `phone_number_id`, in any workspace (webhook routing).
pub async fn by_phone_number_id(db: &Db, phone_number_id: &str) -> Result<Option<WhatsAppNumber>> {
    let row: Option<NumberRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM whatsapp_numbers WHERE phone_number_id = $1"))
            .bind(phone_number_id)
            .fetch_optional(db.pool())
            .await?;
    Ok(row.map(from_row))
}

#[cfg(feature = "server")]
/// [`by_phone_number_id`] on a given connection (the ingest task reads it inside the
/// transaction that processes the delivery).
pub async fn by_phone_number_id_in(
    conn: &mut sqlx::AnyConnection,
    phone_number_id: &str,
) -> Result<Option<WhatsAppNumber>> {
    let row: Option<NumberRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM whatsapp_numbers WHERE phone_number_id = $1"))
            .bind(phone_number_id)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(from_row))
}

#[cfg(feature = "server")]
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

#[cfg(feature = "server")]
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

#[cfg(feature = "server")]
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

/// What the audit log records of an edit: the number as it is now and which secrets were
/// replaced (never their values).
pub fn update_details(number: &WhatsAppNumber, replaced: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "phone_number_id": number.phone_number_id,
        "display_phone_number": number.display_phone_number,
        "waba_id": number.waba_id,
        "graph_api_version": number.graph_api_version,
        "graph_api_base_url": number.graph_api_base_url,
        "secrets_replaced": replaced,
    })
}

/// "Test connection": reads the number's calling settings from WhatsApp with its own
/// credentials. A wrong token, id or version comes back as WhatsApp's error (its code in
/// `details.meta_code`), which is the point of the test.
#[cfg(feature = "server")]
pub async fn test_connection(
    services: &crate::Services,
    workspace_id: &str,
    id: &str,
) -> Result<(WhatsAppNumber, crate::settings::CallingSettings)> {
    let number = get(&services.db, workspace_id, id).await?;
    let target = services.graph_target(&number).await?;
    let calling = crate::graph::GraphClient::new()?.get_settings(&target).await?;
    Ok((number, calling))
}

#[cfg(feature = "server")]
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

    fn form() -> NumberForm {
        NumberForm {
            phone_number_id: "1098765".into(),
            waba_id: "2098765".into(),
            phone_number: "+44 20 7946 0958".into(),
            graph_api_version: String::new(),
            graph_api_base_url: String::new(),
            access_token: "EAAG-token".into(),
            app_secret: "app-secret".into(),
            verify_token: "verify".into(),
        }
    }

    #[test]
    fn a_form_reports_every_bad_field_at_once_in_form_order() {
        assert_eq!(form().problems(FormMode::Connect), Vec::<(String, String)>::new());
        let bad = NumberForm {
            phone_number_id: "abc".into(),
            phone_number: "12".into(),
            graph_api_version: "v12.0".into(),
            access_token: " ".into(),
            verify_token: String::new(),
            ..form()
        };
        let fields: Vec<String> =
            bad.problems(FormMode::Connect).into_iter().map(|(field, _)| field).collect();
        assert_eq!(
            fields,
            ["phone_number_id", "phone_number", "graph_api_version", "access_token", "verify_token"]
        );
        // Editing keeps blank secrets and never looks at the id.
        let fields: Vec<String> = bad.problems(FormMode::Edit).into_iter().map(|(field, _)| field).collect();
        assert_eq!(fields, ["phone_number", "graph_api_version"]);
        assert!(!format!("{:?}", form()).contains("EAAG"), "Debug shows no secret");
    }

    #[cfg(feature = "server")]
    #[tokio::test]
    async fn an_edit_changes_details_and_only_the_secrets_given() {
        for test_db in crate::testing::every_database().await {
            let db = &test_db.db;
            let key = SecretKey::from_hex(&SecretKey::generate_hex()).unwrap();
            let workspace = crate::workspace::create(db, "Acme", 1).await.unwrap();
            let other = crate::workspace::create(db, "Other", 1).await.unwrap();
            let f = form();
            let new = NewNumber {
                phone_number_id: f.phone_number_id.clone(),
                waba_id: f.waba_id.clone(),
                phone_number: f.phone_number.clone(),
                credentials: NumberCredentials {
                    access_token: f.access_token.clone(),
                    app_secret: f.app_secret.clone(),
                    verify_token: f.verify_token.clone(),
                },
                graph_api_version: None,
                graph_api_base_url: None,
                is_sandbox: false,
            };
            let number = connect(db, &key, &workspace.id, new, 1).await.unwrap();
            assert_eq!(number.graph_api_version, DEFAULT_GRAPH_API_VERSION);

            let edit = NumberForm {
                phone_number_id: String::new(),
                waba_id: "3000".into(),
                phone_number: "+91 98765 43210".into(),
                graph_api_version: "v24.0".into(),
                graph_api_base_url: "http://127.0.0.1:9/graph/".into(),
                access_token: "new-token".into(),
                app_secret: "  ".into(),
                verify_token: String::new(),
            };
            let (edited, replaced) =
                update(db, &key, &workspace.id, &number.id, edit.clone(), 2).await.unwrap();
            assert_eq!(replaced, ["access_token"]);
            assert_eq!(
                (edited.waba_id.as_str(), edited.e164.as_str(), edited.country.as_deref()),
                ("3000", "+919876543210", Some("IN"))
            );
            assert_eq!(edited.graph_api_root(), "http://127.0.0.1:9/graph/v24.0");
            assert_eq!(edited.phone_number_id, number.phone_number_id);
            let stored = credentials(db, &key, &number.id).await.unwrap();
            assert_eq!(
                (stored.access_token.as_str(), stored.app_secret.as_str(), stored.verify_token.as_str()),
                ("new-token", "app-secret", "verify")
            );

            // A bad field changes nothing; another workspace's number is not found; the id stays.
            let bad = NumberForm { waba_id: "x".into(), access_token: "lost".into(), ..edit.clone() };
            let err = update(db, &key, &workspace.id, &number.id, bad, 3).await.unwrap_err();
            assert_eq!((err.code(), err.to_string().starts_with("waba_id")), ("validation_failed", true));
            assert_eq!(credentials(db, &key, &number.id).await.unwrap().access_token, "new-token");
            let err = update(db, &key, &other.id, &number.id, edit.clone(), 3).await.unwrap_err();
            assert_eq!(err.code(), "not_found");
            let moved = NumberForm { phone_number_id: "555".into(), ..edit };
            let err = update(db, &key, &workspace.id, &number.id, moved, 3).await.unwrap_err();
            assert!(err.to_string().starts_with("phone_number_id"), "{err}");
        }
    }
}
