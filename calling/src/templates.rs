//! Calling templates: the call-button and permission-request templates a workspace submits to
//! WhatsApp, which one of each kind is the default for sends, and sending them.
//!
//! Owns the rules a template must pass before WhatsApp sees it (Meta's name, label, TTL, body,
//! header and footer limits; reference §4.4 and §6.2), the rules a send must pass (the body's
//! variables, the recipient), and [`Template`] as the API and the page show it. With the
//! `server` feature it also owns their storage: creation through
//! [`crate::graph::GraphClient::create_template`] (stored only once WhatsApp accepted it), one
//! default per kind per workspace, and [`send`]: checks, billing preflight, `send_template`,
//! the charge, and the record of the send.
//!
//! `status` is what creation answered, then what Meta's `message_template_status_update`
//! webhooks say ([`record_status`], with Meta's rejection reason). [`delete`] deletes at
//! WhatsApp first and forgets our copy only once WhatsApp no longer has it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Quoted;
use crate::phone::PhoneNumber;
use crate::{Error, Result};

/// Longest template name Meta accepts.
pub const MAX_NAME_LEN: usize = 512;
/// Longest button label (Meta's `voice_call` button text limit, applied to every call button).
pub const MAX_LABEL_CHARS: usize = 20;
/// A call button's lifetime at template creation, in minutes: 1 to 30 days (§6.2).
pub const CREATE_TTL_MINUTES: std::ops::RangeInclusive<i64> = 1440..=43_200;
/// A call button's lifetime at send time, in minutes (§6.1, §6.2).
pub const SEND_TTL_MINUTES: std::ops::RangeInclusive<i64> = 1..=43_200;
/// Longest body text Meta accepts.
pub const MAX_BODY_CHARS: usize = 1024;
/// Longest header or footer text Meta accepts.
pub const MAX_HEADER_FOOTER_CHARS: usize = 60;
/// Longest URL of a URL button.
pub const MAX_URL_CHARS: usize = 2000;
/// Longest `payload` of a call button send; it comes back as `cta_payload` (§6.1).
pub const MAX_PAYLOAD_CHARS: usize = 512;
/// Longest value of one body variable.
pub const MAX_VARIABLE_CHARS: usize = 1024;
/// The language when none is given.
pub const DEFAULT_LANGUAGE: &str = "en_US";
/// The button label when none is given (Meta's default).
pub const DEFAULT_LABEL: &str = "Call Now";
/// Meta requires a body on every template; the seed's `create-call-button` gives none.
pub const DEFAULT_CALL_BUTTON_BODY: &str = "Tap the button below to call us.";

/// A template name as Meta allows it: lowercase letters, digits and underscores, at most
/// [`MAX_NAME_LEN`] characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct TemplateName(String);

impl TemplateName {
    pub fn parse(raw: &str) -> Result<Self> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(Error::validation("name", "is required"));
        }
        if name.len() > MAX_NAME_LEN {
            return Err(Error::validation("name", format!("is longer than {MAX_NAME_LEN} characters")));
        }
        if let Some(bad) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
        {
            return Err(Error::validation(
                "name",
                format!(
                    "{name} may hold only lowercase letters, digits and underscores, not '{bad}'",
                    name = Quoted(name),
                    bad = bad.escape_debug()
                ),
            ));
        }
        Ok(TemplateName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A language code as Meta writes them: `en`, `en_US`, `pt_BR`, `fil`, `zh_HK`.
pub fn parse_language(raw: Option<&str>) -> Result<String> {
    let Some(raw) = raw.map(str::trim) else { return Ok(DEFAULT_LANGUAGE.to_owned()) };
    let (language, region) = raw.split_once('_').map_or((raw, None), |(l, r)| (l, Some(r)));
    let language_ok = (2..=3).contains(&language.len()) && language.chars().all(|c| c.is_ascii_lowercase());
    let region_ok = region.is_none_or(|r| {
        (2..=4).contains(&r.len()) && r.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    });
    if language_ok && region_ok {
        Ok(raw.to_owned())
    } else {
        Err(Error::validation(
            "language",
            format!("{raw} is not a language code like en_US or pt_BR", raw = Quoted(raw)),
        ))
    }
}

/// The two calling template variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TemplateKind {
    /// A message with a tap-to-call button.
    CallButton,
    /// A call permission request (§4.4).
    Permission,
}

impl TemplateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateKind::CallButton => "call_button",
            TemplateKind::Permission => "permission",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [TemplateKind::CallButton, TemplateKind::Permission].into_iter().find(|kind| kind.as_str() == raw)
    }
}

/// Meta's template categories allowed for calling templates (§4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Marketing,
    Utility,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Marketing => "marketing",
            Category::Utility => "utility",
        }
    }

    /// `marketing` (the default: Meta may move a utility template to marketing, never the
    /// reverse, so marketing is never refused for its category) or `utility`, any case.
    pub fn parse(raw: Option<&str>) -> Result<Self> {
        match raw.map(|raw| raw.trim().to_ascii_lowercase()).as_deref() {
            None | Some("marketing") => Ok(Category::Marketing),
            Some("utility") => Ok(Category::Utility),
            Some(other) => Err(Error::validation(
                "category",
                format!("{other} is not marketing or utility", other = Quoted(other)),
            )),
        }
    }
}

/// Where Meta's review stands. Only approved templates can be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TemplateStatus {
    Pending,
    Approved,
    Rejected,
    Paused,
    Disabled,
    InAppeal,
    PendingDeletion,
    Deleted,
    LimitExceeded,
    Archived,
}

impl TemplateStatus {
    const ALL: [TemplateStatus; 10] = [
        TemplateStatus::Pending,
        TemplateStatus::Approved,
        TemplateStatus::Rejected,
        TemplateStatus::Paused,
        TemplateStatus::Disabled,
        TemplateStatus::InAppeal,
        TemplateStatus::PendingDeletion,
        TemplateStatus::Deleted,
        TemplateStatus::LimitExceeded,
        TemplateStatus::Archived,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TemplateStatus::Pending => "pending",
            TemplateStatus::Approved => "approved",
            TemplateStatus::Rejected => "rejected",
            TemplateStatus::Paused => "paused",
            TemplateStatus::Disabled => "disabled",
            TemplateStatus::InAppeal => "in_appeal",
            TemplateStatus::PendingDeletion => "pending_deletion",
            TemplateStatus::Deleted => "deleted",
            TemplateStatus::LimitExceeded => "limit_exceeded",
            TemplateStatus::Archived => "archived",
        }
    }

    /// Meta's spelling (`APPROVED`, `IN_APPEAL`, …) or ours. A status Meta adds later reads as
    /// pending: not sendable until Meta says approved.
    pub fn from_meta(raw: &str) -> Self {
        let lower = raw.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|status| status.as_str() == lower).unwrap_or(TemplateStatus::Pending)
    }
}

impl TemplateStatus {
    /// The status a `message_template_status_update` `event` moves a template to. `REINSTATED`
    /// (a paused template back in use) is approved; `FLAGGED` (quality warning, still sendable)
    /// changes nothing and is `None`; anything else reads as [`TemplateStatus::from_meta`].
    pub fn from_webhook_event(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "REINSTATED" => Some(TemplateStatus::Approved),
            "FLAGGED" => None,
            other => Some(TemplateStatus::from_meta(other)),
        }
    }
}

/// Where a call button leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ButtonTarget {
    /// A WhatsApp call to the sending business number (Meta's `voice_call` button, §6.2); it
    /// works for `ttl_minutes` after delivery.
    WhatsappCall,
    /// A regular phone call to a number (Meta's `PHONE_NUMBER` button).
    PhoneNumber,
    /// A web page (Meta's `URL` button).
    Url,
}

impl ButtonTarget {
    pub fn as_str(self) -> &'static str {
        match self {
            ButtonTarget::WhatsappCall => "whatsapp_call",
            ButtonTarget::PhoneNumber => "phone_number",
            ButtonTarget::Url => "url",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [ButtonTarget::WhatsappCall, ButtonTarget::PhoneNumber, ButtonTarget::Url]
            .into_iter()
            .find(|target| target.as_str() == raw)
    }
}

/// A template as the API lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Template {
    pub template_id: String,
    #[serde(rename = "type")]
    pub kind: TemplateKind,
    pub name: String,
    pub language: String,
    pub category: Category,
    pub status: TemplateStatus,
    /// Meta's reason for the latest status change by webhook (`INVALID_FORMAT` for a
    /// rejection, …); absent when Meta gave none.
    pub status_reason: Option<String>,
    /// The template sends of this kind use when none is named; one per kind per workspace.
    pub is_default: bool,
    pub body: String,
    /// How many `{{n}}` variables the body has: a send gives exactly this many `vars`.
    pub body_variables: i64,
    pub header: Option<String>,
    pub footer: Option<String>,
    /// Call-button templates: the button's label and where it leads.
    pub label: Option<String>,
    pub target: Option<ButtonTarget>,
    /// The number a `phone_number` button dials.
    pub phone_number: Option<String>,
    pub url: Option<String>,
    /// How long a `whatsapp_call` button works after delivery; Meta's default when absent.
    pub ttl_minutes: Option<i64>,
    /// The business number (Meta's id) whose WhatsApp Business Account holds the template.
    pub phone_number_id: String,
    /// Meta's template id.
    pub meta_template_id: String,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// Our id of the business number.
    #[serde(skip)]
    pub number_id: String,
}

/// `POST /templates/call-button`, as sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct CallButtonRequest {
    pub name: Option<String>,
    pub language: Option<String>,
    pub category: Option<String>,
    /// The message text; [`DEFAULT_CALL_BUTTON_BODY`] when absent.
    pub body: Option<String>,
    /// Sample values for the body's `{{n}}` variables, which Meta requires for review.
    #[serde(default)]
    pub examples: Vec<String>,
    pub label: Option<String>,
    /// Dial this number (a `PHONE_NUMBER` button) …
    pub phone_number: Option<String>,
    /// … or open this page (a `URL` button); neither: a WhatsApp call to the business.
    pub url: Option<String>,
    /// WhatsApp call buttons only, 1440–43200 minutes.
    pub ttl_minutes: Option<i64>,
    /// Which business number's account; the workspace's first when absent.
    pub phone_number_id: Option<String>,
}

/// `POST /templates/permission`, as sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct PermissionRequest {
    pub name: Option<String>,
    pub language: Option<String>,
    pub category: Option<String>,
    pub body: Option<String>,
    #[serde(default)]
    pub examples: Vec<String>,
    pub header: Option<String>,
    pub footer: Option<String>,
    pub phone_number_id: Option<String>,
}

/// A call button that passed Meta's rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Button {
    WhatsappCall { label: String, ttl_minutes: Option<i64> },
    PhoneNumber { label: String, phone_number: PhoneNumber },
    Url { label: String, url: String },
}

impl Button {
    pub fn target(&self) -> ButtonTarget {
        match self {
            Button::WhatsappCall { .. } => ButtonTarget::WhatsappCall,
            Button::PhoneNumber { .. } => ButtonTarget::PhoneNumber,
            Button::Url { .. } => ButtonTarget::Url,
        }
    }

    pub fn label(&self) -> &str {
        match self {
            Button::WhatsappCall { label, .. }
            | Button::PhoneNumber { label, .. }
            | Button::Url { label, .. } => label,
        }
    }
}

/// A template that passed every rule we know of Meta's, ready to submit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateSpec {
    pub kind: TemplateKind,
    pub name: TemplateName,
    pub language: String,
    pub category: Category,
    pub body: String,
    pub examples: Vec<String>,
    pub body_variables: usize,
    pub header: Option<String>,
    pub footer: Option<String>,
    /// Call-button templates only.
    pub button: Option<Button>,
}

impl CallButtonRequest {
    /// Checks the request against Meta's rules; the error names the offending field.
    pub fn validate(&self) -> Result<TemplateSpec> {
        let name = TemplateName::parse(self.name.as_deref().unwrap_or_default())?;
        let language = parse_language(self.language.as_deref())?;
        let category = Category::parse(self.category.as_deref())?;
        let body = self.body.as_deref().unwrap_or(DEFAULT_CALL_BUTTON_BODY);
        let (body, body_variables) = body_text(body, &self.examples)?;
        let label = match self.label.as_deref().map(str::trim) {
            None => DEFAULT_LABEL.to_owned(),
            Some("") => return Err(Error::validation("label", "must not be blank")),
            Some(label) if label.chars().count() > MAX_LABEL_CHARS => {
                return Err(Error::validation(
                    "label",
                    format!("is {} characters; at most {MAX_LABEL_CHARS}", label.chars().count()),
                ));
            }
            Some(label) => label.to_owned(),
        };
        let button = match (self.phone_number.as_deref(), self.url.as_deref()) {
            (Some(_), Some(_)) => {
                return Err(Error::validation("url", "give phone_number or url, not both"));
            }
            (Some(raw), None) => Button::PhoneNumber { label, phone_number: phone("phone_number", raw)? },
            (None, Some(raw)) => Button::Url { label, url: url(raw)? },
            (None, None) => {
                if let Some(ttl) = self.ttl_minutes
                    && !CREATE_TTL_MINUTES.contains(&ttl)
                {
                    return Err(Error::validation(
                        "ttl_minutes",
                        format!(
                            "{ttl} is outside WhatsApp's range for call buttons, {}–{} minutes (1 to 30 days)",
                            CREATE_TTL_MINUTES.start(),
                            CREATE_TTL_MINUTES.end()
                        ),
                    ));
                }
                Button::WhatsappCall { label, ttl_minutes: self.ttl_minutes }
            }
        };
        if self.ttl_minutes.is_some() && button.target() != ButtonTarget::WhatsappCall {
            return Err(Error::validation(
                "ttl_minutes",
                "only a WhatsApp call button expires; phone_number and url buttons take no ttl_minutes",
            ));
        }
        Ok(TemplateSpec {
            kind: TemplateKind::CallButton,
            name,
            language,
            category,
            body,
            examples: self.examples.clone(),
            body_variables,
            header: None,
            footer: None,
            button: Some(button),
        })
    }
}

impl PermissionRequest {
    /// Checks the request against Meta's rules (§4.4: optional text header, required body,
    /// optional footer); the error names the offending field.
    pub fn validate(&self) -> Result<TemplateSpec> {
        let name = TemplateName::parse(self.name.as_deref().unwrap_or_default())?;
        let language = parse_language(self.language.as_deref())?;
        let category = Category::parse(self.category.as_deref())?;
        let raw_body = self.body.as_deref().ok_or_else(|| Error::validation("body", "is required"))?;
        let (body, body_variables) = body_text(raw_body, &self.examples)?;
        Ok(TemplateSpec {
            kind: TemplateKind::Permission,
            name,
            language,
            category,
            body,
            examples: self.examples.clone(),
            body_variables,
            header: short_text("header", self.header.as_deref())?,
            footer: short_text("footer", self.footer.as_deref())?,
            button: None,
        })
    }
}

/// Checks a body: not blank, at most [`MAX_BODY_CHARS`], variables `{{1}}`…`{{n}}` with one
/// example each. Returns the trimmed text and `n`.
fn body_text(raw: &str, examples: &[String]) -> Result<(String, usize)> {
    let body = raw.trim();
    if body.is_empty() {
        return Err(Error::validation("body", "must not be blank"));
    }
    let chars = body.chars().count();
    if chars > MAX_BODY_CHARS {
        return Err(Error::validation("body", format!("is {chars} characters; at most {MAX_BODY_CHARS}")));
    }
    let variables = count_variables(body)?;
    if examples.len() != variables {
        return Err(Error::validation(
            "examples",
            format!(
                "the body has {variables} variable(s); WhatsApp's review needs exactly one example for each, got {}",
                examples.len()
            ),
        ));
    }
    if examples.iter().any(|example| example.trim().is_empty()) {
        return Err(Error::validation("examples", "must not be blank"));
    }
    Ok((body.to_owned(), variables))
}

/// The number of `{{n}}` variables in `text`, which must be exactly `{{1}}`…`{{n}}` (in any
/// order, each any number of times), as Meta requires.
pub fn count_variables(text: &str) -> Result<usize> {
    let mut seen = std::collections::BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end =
            after.find("}}").ok_or_else(|| Error::validation("body", "has a {{ without a closing }}"))?;
        let inner = after[..end].trim();
        let n: usize = inner.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
            Error::validation(
                "body",
                format!("{{{{{inner}}}}} is not a variable; write {{{{1}}}}, {{{{2}}}}, …"),
            )
        })?;
        seen.insert(n);
        rest = &after[end + 2..];
    }
    if seen.iter().copied().ne(1..=seen.len()) {
        return Err(Error::validation("body", "variables must be numbered {{1}}, {{2}}, … without gaps"));
    }
    Ok(seen.len())
}

fn short_text(field: &str, raw: Option<&str>) -> Result<Option<String>> {
    let Some(text) = raw.map(str::trim) else { return Ok(None) };
    if text.is_empty() {
        return Err(Error::validation(field, "must not be blank (leave it out instead)"));
    }
    let chars = text.chars().count();
    if chars > MAX_HEADER_FOOTER_CHARS {
        return Err(Error::validation(
            field,
            format!("is {chars} characters; at most {MAX_HEADER_FOOTER_CHARS}"),
        ));
    }
    if text.contains("{{") {
        return Err(Error::validation(field, "variables are supported in the body only"));
    }
    Ok(Some(text.to_owned()))
}

fn url(raw: &str) -> Result<String> {
    let url = raw.trim();
    let has_host = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
    if !has_host || url.chars().any(char::is_whitespace) {
        return Err(Error::validation(
            "url",
            format!("{url} is not an http:// or https:// address", url = Quoted(url)),
        ));
    }
    if url.len() > MAX_URL_CHARS {
        return Err(Error::validation("url", format!("is longer than {MAX_URL_CHARS} characters")));
    }
    if url.contains("{{") {
        return Err(Error::validation("url", "URL variables are not supported"));
    }
    Ok(url.to_owned())
}

/// [`PhoneNumber::parse`], with the error naming `field`.
fn phone(field: &str, raw: &str) -> Result<PhoneNumber> {
    PhoneNumber::parse(raw).map_err(|err| match err {
        Error::Validation { message, .. } => Error::validation(field, message),
        other => other,
    })
}

/// `POST /send`, as sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct SendRequest {
    pub template_id: Option<String>,
    pub to: Option<String>,
    /// The body's variables: `["John", "ORD-1024"]` or `{"1": "John", "2": "ORD-1024"}`.
    #[serde(default)]
    pub vars: Value,
    /// WhatsApp call buttons only: how long this message's button works (1–43200 minutes).
    pub ttl_minutes: Option<i64>,
    /// WhatsApp call buttons only: comes back as `cta_payload` when the user calls.
    pub payload: Option<String>,
}

/// A send that passed every check against its template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedSend {
    pub to: PhoneNumber,
    /// The body's values in variable order.
    pub vars: Vec<String>,
    pub ttl_minutes: Option<i64>,
    pub payload: Option<String>,
}

impl SendRequest {
    /// The template to send: `template_id`, required.
    pub fn template_id(&self) -> Result<&str> {
        self.template_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| Error::validation("template_id", "is required"))
    }

    /// Checks the send against `template`: approved, a valid recipient, one value per body
    /// variable (Meta refuses newlines, tabs and more than 4 spaces in a row in them), and
    /// button parameters only for a WhatsApp call button.
    pub fn prepare(&self, template: &Template) -> Result<PreparedSend> {
        let to = phone("to", self.to.as_deref().ok_or_else(|| Error::validation("to", "is required"))?)?;
        let vars = variables(&self.vars)?;
        let expected = usize::try_from(template.body_variables).unwrap_or_default();
        if vars.len() != expected {
            return Err(Error::validation(
                "vars",
                format!("template {} has {expected} body variable(s); got {}", template.name, vars.len()),
            ));
        }
        for (index, value) in vars.iter().enumerate() {
            let field = format!("vars.{}", index + 1);
            if value.trim().is_empty() {
                return Err(Error::validation(field, "must not be blank"));
            }
            if value.contains(['\n', '\t']) || value.contains("     ") {
                return Err(Error::validation(
                    field,
                    "WhatsApp refuses newlines, tabs and more than 4 spaces in a row in a variable",
                ));
            }
            if value.chars().count() > MAX_VARIABLE_CHARS {
                return Err(Error::validation(
                    field,
                    format!("is longer than {MAX_VARIABLE_CHARS} characters"),
                ));
            }
        }
        let voice_call = template.target == Some(ButtonTarget::WhatsappCall);
        for (field, given) in
            [("ttl_minutes", self.ttl_minutes.is_some()), ("payload", self.payload.is_some())]
        {
            if given && !voice_call {
                return Err(Error::validation(
                    field,
                    "applies to templates with a WhatsApp call button only",
                ));
            }
        }
        if let Some(ttl) = self.ttl_minutes
            && !SEND_TTL_MINUTES.contains(&ttl)
        {
            return Err(Error::validation(
                "ttl_minutes",
                format!("{ttl} is outside {}–{} minutes", SEND_TTL_MINUTES.start(), SEND_TTL_MINUTES.end()),
            ));
        }
        if let Some(payload) = &self.payload
            && payload.chars().count() > MAX_PAYLOAD_CHARS
        {
            return Err(Error::validation(
                "payload",
                format!("is longer than {MAX_PAYLOAD_CHARS} characters"),
            ));
        }
        if template.status != TemplateStatus::Approved {
            return Err(Error::Conflict {
                code: "template_not_approved",
                message: format!(
                    "template {} is {} at WhatsApp; only approved templates can be sent",
                    template.name,
                    template.status.as_str()
                ),
            });
        }
        Ok(PreparedSend { to, vars, ttl_minutes: self.ttl_minutes, payload: self.payload.clone() })
    }
}

/// `vars` as positional values: an array, or an object keyed `"1"`…`"n"`. Numbers are taken
/// as their text.
fn variables(raw: &Value) -> Result<Vec<String>> {
    let text = |field: &str, value: &Value| match value {
        Value::String(text) => Ok(text.clone()),
        Value::Number(number) => Ok(number.to_string()),
        _ => Err(Error::validation(field.to_owned(), "must be text")),
    };
    match raw {
        Value::Null => Ok(Vec::new()),
        Value::Array(values) => values
            .iter()
            .enumerate()
            .map(|(index, value)| text(&format!("vars.{}", index + 1), value))
            .collect(),
        Value::Object(map) => {
            let mut ordered = BTreeMap::new();
            for (key, value) in map {
                let n: usize = key.trim().parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    Error::validation(
                        "vars",
                        format!("key {key} is not a variable number like \"1\"", key = Quoted(key)),
                    )
                })?;
                ordered.insert(n, text(&format!("vars.{n}"), value)?);
            }
            if ordered.keys().copied().ne(1..=ordered.len()) {
                return Err(Error::validation("vars", "variables must be numbered 1, 2, … without gaps"));
            }
            Ok(ordered.into_values().collect())
        }
        _ => Err(Error::validation("vars", "must be an array of text or an object like {\"1\": \"John\"}")),
    }
}

/// A template message WhatsApp accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct SentTemplate {
    /// Our id of the send.
    pub message_id: String,
    /// Meta's message id (`wamid.…`); delivery statuses refer to it.
    pub wa_message_id: String,
    pub template_id: String,
    pub template_name: String,
    #[serde(rename = "type")]
    pub kind: TemplateKind,
    pub to: String,
    pub phone_number_id: String,
    pub vars: Vec<String>,
    /// What the wallet paid, in micro-units of its currency (0 for sandbox numbers).
    pub cost_micros: i64,
    pub sent_at: i64,
}

#[cfg(feature = "server")]
pub use store::*;

#[cfg(feature = "server")]
mod store {
    use super::*;
    use crate::Services;
    use crate::billing::{self, Billable, MessageKind, Policy};
    use crate::graph::{
        GraphClient, GraphTarget, NewTemplate, TemplateButton, TemplateCategory, TemplateComponent,
        TemplateSend, VoiceCallParameters,
    };
    use crate::ids::new_id;
    use crate::ledger;
    use crate::numbers::{self, WhatsAppNumber};
    use crate::permissions::{self, PermissionEvent, PermissionLimits, PermissionRecord};
    use crate::storage::Db;

    const COLUMNS: &str = "t.id, t.kind, t.name, t.language, t.category, t.status, t.is_default, t.body, \
        t.body_variables, t.header, t.footer, t.button_label, t.button_target, t.button_phone_number, \
        t.button_url, t.ttl_minutes, n.phone_number_id, t.meta_template_id, t.created_by, t.created_at, \
        t.updated_at, t.number_id, t.status_reason";

    fn select(filter: &str) -> String {
        format!(
            "SELECT {COLUMNS} FROM calling_templates t JOIN whatsapp_numbers n ON n.id = t.number_id \
             WHERE t.workspace_id = $1 {filter}"
        )
    }

    /// Rows are decoded by position: a template has more columns than sqlx's tuples hold.
    async fn fetch(db: &Db, sql: &str, workspace_id: &str, id: Option<&str>) -> Result<Vec<Template>> {
        let mut query = sqlx::query(sql).bind(workspace_id);
        if let Some(id) = id {
            query = query.bind(id);
        }
        let rows = query.fetch_all(db.pool()).await?;
        rows.iter().map(decode).collect()
    }

    fn decode(row: &sqlx::any::AnyRow) -> Result<Template> {
        use sqlx::Row as _;
        let get_s = |i: usize| row.try_get::<String, _>(i);
        let get_os = |i: usize| row.try_get::<Option<String>, _>(i);
        let kind_raw = get_s(1)?;
        let category_raw = get_s(4)?;
        let target = get_os(12)?;
        Ok(Template {
            template_id: get_s(0)?,
            kind: TemplateKind::parse(&kind_raw)
                .ok_or_else(|| Error::internal(format!("unknown template kind {kind_raw:?}")))?,
            name: get_s(2)?,
            language: get_s(3)?,
            category: Category::parse(Some(&category_raw))?,
            status: TemplateStatus::from_meta(&get_s(5)?),
            is_default: row.try_get::<i64, _>(6)? == 1,
            body: get_s(7)?,
            body_variables: row.try_get(8)?,
            header: get_os(9)?,
            footer: get_os(10)?,
            label: get_os(11)?,
            target: target.as_deref().and_then(ButtonTarget::parse),
            phone_number: get_os(13)?,
            url: get_os(14)?,
            ttl_minutes: row.try_get(15)?,
            phone_number_id: get_s(16)?,
            meta_template_id: get_s(17)?,
            created_by: get_s(18)?,
            created_at: row.try_get(19)?,
            updated_at: row.try_get(20)?,
            number_id: get_s(21)?,
            status_reason: get_os(22)?,
        })
    }

    /// Every template of the workspace: call buttons first, oldest first within a kind.
    pub async fn list(db: &Db, workspace_id: &str) -> Result<Vec<Template>> {
        fetch(db, &select("ORDER BY t.kind, t.created_at, t.id"), workspace_id, None).await
    }

    /// One template; another workspace's is "not found".
    pub async fn get(db: &Db, workspace_id: &str, id: &str) -> Result<Template> {
        fetch(db, &select("AND t.id = $2"), workspace_id, Some(id))
            .await?
            .pop()
            .ok_or(Error::NotFound { what: "template" })
    }

    /// The workspace number a request names by Meta's `phone_number_id`, or its first.
    pub async fn number_for(
        db: &Db,
        workspace_id: &str,
        phone_number_id: Option<&str>,
    ) -> Result<WhatsAppNumber> {
        let all = numbers::list(db, workspace_id).await?;
        match phone_number_id {
            Some(id) => all
                .into_iter()
                .find(|n| n.phone_number_id == id)
                .ok_or(Error::NotFound { what: "WhatsApp number" }),
            None => all.into_iter().next().ok_or(Error::NotFound { what: "connected WhatsApp number" }),
        }
    }

    /// What Meta's `POST message_templates` receives for `spec`.
    pub fn to_graph(spec: &TemplateSpec) -> NewTemplate {
        let mut components = Vec::new();
        if let Some(text) = &spec.header {
            components.push(TemplateComponent::Header { text: text.clone(), example: Vec::new() });
        }
        components.push(TemplateComponent::Body { text: spec.body.clone(), example: spec.examples.clone() });
        if let Some(text) = &spec.footer {
            components.push(TemplateComponent::Footer { text: text.clone() });
        }
        match &spec.button {
            Some(Button::WhatsappCall { label, ttl_minutes }) => {
                components.push(TemplateComponent::Buttons(vec![TemplateButton::VoiceCall {
                    text: Some(label.clone()),
                    ttl_minutes: ttl_minutes.and_then(|ttl| u32::try_from(ttl).ok()),
                }]));
            }
            Some(Button::PhoneNumber { label, phone_number }) => {
                components.push(TemplateComponent::Buttons(vec![TemplateButton::PhoneNumber {
                    text: label.clone(),
                    phone_number: phone_number.e164().to_owned(),
                }]));
            }
            Some(Button::Url { label, url }) => {
                components.push(TemplateComponent::Buttons(vec![TemplateButton::Url {
                    text: label.clone(),
                    url: url.clone(),
                }]));
            }
            None => {}
        }
        if spec.kind == TemplateKind::Permission {
            components.push(TemplateComponent::CallPermissionRequest);
        }
        NewTemplate {
            name: spec.name.as_str().to_owned(),
            language: spec.language.clone(),
            category: match spec.category {
                Category::Marketing => TemplateCategory::Marketing,
                Category::Utility => TemplateCategory::Utility,
            },
            components,
        }
    }

    fn duplicate(spec: &TemplateSpec) -> Error {
        Error::Conflict {
            code: "template_exists",
            message: format!(
                "a template named {} in {} already exists for this number",
                spec.name.as_str(),
                spec.language
            ),
        }
    }

    /// Submits `spec` to WhatsApp on the number's Business Account and stores it with Meta's
    /// id and review status. Nothing is stored when WhatsApp refuses. The workspace's first
    /// template of a kind becomes that kind's default.
    pub async fn create(
        services: &Services,
        client: &GraphClient,
        workspace_id: &str,
        spec: &TemplateSpec,
        phone_number_id: Option<&str>,
        actor: &str,
    ) -> Result<Template> {
        let db = &services.db;
        let number = number_for(db, workspace_id, phone_number_id).await?;
        let exists: Option<(String,)> = sqlx::query_as(
            "SELECT id FROM calling_templates WHERE number_id = $1 AND name = $2 AND language = $3",
        )
        .bind(&number.id)
        .bind(spec.name.as_str())
        .bind(&spec.language)
        .fetch_optional(db.pool())
        .await?;
        if exists.is_some() {
            return Err(duplicate(spec));
        }
        let created = client.create_template(&services.graph_target(&number).await?, &to_graph(spec)).await?;

        let id = new_id();
        let now = services.clock.now();
        let (label, target, phone_number, url, ttl_minutes) = match &spec.button {
            None => (None, None, None, None, None),
            Some(button) => {
                let (phone_number, url, ttl) = match button {
                    Button::WhatsappCall { ttl_minutes, .. } => (None, None, *ttl_minutes),
                    Button::PhoneNumber { phone_number, .. } => {
                        (Some(phone_number.e164().to_owned()), None, None)
                    }
                    Button::Url { url, .. } => (None, Some(url.clone()), None),
                };
                (Some(button.label().to_owned()), Some(button.target().as_str()), phone_number, url, ttl)
            }
        };
        let inserted = sqlx::query(
            "INSERT INTO calling_templates (id, workspace_id, number_id, kind, name, language, category, status, \
               is_default, body, body_variables, header, footer, button_label, button_target, button_phone_number, \
               button_url, ttl_minutes, meta_template_id, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $20)",
        )
        .bind(&id)
        .bind(workspace_id)
        .bind(&number.id)
        .bind(spec.kind.as_str())
        .bind(spec.name.as_str())
        .bind(&spec.language)
        .bind(spec.category.as_str())
        .bind(TemplateStatus::from_meta(&created.status).as_str())
        .bind(&spec.body)
        .bind(i64::try_from(spec.body_variables).unwrap_or(i64::MAX))
        .bind(&spec.header)
        .bind(&spec.footer)
        .bind(label)
        .bind(target)
        .bind(phone_number)
        .bind(url)
        .bind(ttl_minutes)
        .bind(&created.id)
        .bind(actor)
        .bind(now)
        .execute(db.pool())
        .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(err)) if err.is_unique_violation() => return Err(duplicate(spec)),
            Err(err) => {
                // WhatsApp has the template and we could not record it: say so in the log, as
                // the user will meet Meta's "already exists" when trying again.
                tracing::error!(error = %err, meta_template_id = %created.id, "template accepted by WhatsApp but not stored");
                return Err(err.into());
            }
        }
        // The first of its kind becomes the default. Two concurrent first templates race on
        // the one-default index: the loser stays non-default, which is what we want.
        let promoted = sqlx::query(
            "UPDATE calling_templates SET is_default = 1 WHERE id = $1 AND NOT EXISTS \
               (SELECT 1 FROM calling_templates WHERE workspace_id = $2 AND kind = $3 AND is_default = 1)",
        )
        .bind(&id)
        .bind(workspace_id)
        .bind(spec.kind.as_str())
        .execute(db.pool())
        .await;
        match promoted {
            Ok(_) => {}
            Err(sqlx::Error::Database(err)) if err.is_unique_violation() => {}
            Err(err) => return Err(err.into()),
        }
        get(db, workspace_id, &id).await
    }

    /// Locks every template of the kind `id` has, as the transaction's first statement (a
    /// write: SQLite takes its write lock, PostgreSQL the rows), so default switches of one
    /// kind queue. Fails with "not found" when `id` is not the workspace's.
    async fn lock_kind(conn: &mut sqlx::AnyConnection, workspace_id: &str, id: &str) -> Result<TemplateKind> {
        let locked = sqlx::query(
            "UPDATE calling_templates SET updated_at = updated_at WHERE workspace_id = $1 AND kind = \
               (SELECT kind FROM calling_templates WHERE workspace_id = $1 AND id = $2)",
        )
        .bind(workspace_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
        if locked.rows_affected() == 0 {
            return Err(Error::NotFound { what: "template" });
        }
        let (kind,): (String,) = sqlx::query_as("SELECT kind FROM calling_templates WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
        TemplateKind::parse(&kind).ok_or_else(|| Error::internal(format!("unknown template kind {kind:?}")))
    }

    /// Makes `id` the default of its kind; the previous default stops being one in the same
    /// transaction, so there is always exactly one.
    pub async fn set_default(db: &Db, workspace_id: &str, id: &str, now: i64) -> Result<Template> {
        let mut tx = db.pool().begin().await?;
        let kind = lock_kind(&mut tx, workspace_id, id).await?;
        sqlx::query(
            "UPDATE calling_templates SET is_default = 0, updated_at = $1 \
             WHERE workspace_id = $2 AND kind = $3 AND is_default = 1 AND id <> $4",
        )
        .bind(now)
        .bind(workspace_id)
        .bind(kind.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE calling_templates SET is_default = 1, updated_at = $1 \
             WHERE workspace_id = $2 AND id = $3 AND is_default = 0",
        )
        .bind(now)
        .bind(workspace_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        get(db, workspace_id, id).await
    }

    /// Deletes a template at WhatsApp, then here. WhatsApp goes first so a template is never
    /// gone from the page while WhatsApp can still send it; the local row is removed only once
    /// WhatsApp accepted the delete, or said it no longer has the template (deleted in the
    /// Business Manager, or an earlier delete whose local half failed): that is treated as
    /// already done. Any other refusal or failure deletes nothing and is WhatsApp's error.
    /// When it was the default, the newest remaining template of its kind takes over, so a
    /// workspace with templates of a kind always has a default.
    pub async fn delete(
        services: &Services,
        client: &GraphClient,
        workspace_id: &str,
        id: &str,
    ) -> Result<Template> {
        let db = &services.db;
        let template = get(db, workspace_id, id).await?;
        let number = numbers::get(db, workspace_id, &template.number_id).await?;
        let target = services.graph_target(&number).await?;
        delete_at_whatsapp(client, &target, &template).await?;
        forget(db, workspace_id, id).await
    }

    /// Meta's delete of one template: by name, narrowed to this language by `hsm_id`.
    async fn delete_at_whatsapp(
        client: &GraphClient,
        target: &GraphTarget,
        template: &Template,
    ) -> Result<()> {
        let err = match client.delete_template(target, &template.name, Some(&template.meta_template_id)).await
        {
            Ok(()) => return Ok(()),
            Err(err) => err,
        };
        // Meta answers a template it does not have with the same "Invalid parameter" (100) as
        // other bad deletes, so ask WhatsApp whether it still has this one.
        if err.meta_code() != Some(100) {
            return Err(err.into());
        }
        match client.templates_named(target, &template.name).await {
            Ok(remote) if !remote.iter().any(|remote| remote.id == template.meta_template_id) => {
                tracing::info!(meta_template_id = %template.meta_template_id, "template already gone at WhatsApp; forgetting it");
                Ok(())
            }
            Ok(_) => Err(err.into()),
            Err(lookup) => {
                tracing::warn!(error = %lookup, "could not check whether WhatsApp still has a template it refused to delete");
                Err(err.into())
            }
        }
    }

    /// Removes the row, handing the default over, in one transaction.
    async fn forget(db: &Db, workspace_id: &str, id: &str) -> Result<Template> {
        let template = get(db, workspace_id, id).await?;
        let mut tx = db.pool().begin().await?;
        let kind = lock_kind(&mut tx, workspace_id, id).await?;
        let (was_default,): (i64,) =
            sqlx::query_as("SELECT is_default FROM calling_templates WHERE workspace_id = $1 AND id = $2")
                .bind(workspace_id)
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        sqlx::query("DELETE FROM calling_templates WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if was_default == 1 {
            sqlx::query(
                "UPDATE calling_templates SET is_default = 1 WHERE id = \
                   (SELECT id FROM calling_templates WHERE workspace_id = $1 AND kind = $2 \
                    ORDER BY created_at DESC, id DESC LIMIT 1)",
            )
            .bind(workspace_id)
            .bind(kind.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(template)
    }

    /// Meta's review moved template `meta_template_id` of WABA `waba_id` to `status`, at `at`
    /// (a `message_template_status_update` webhook): every such template here takes it, with
    /// `reason`, inside the caller's transaction. An update older than the one already applied
    /// changes nothing (webhooks may arrive out of order). Returns how many templates took it:
    /// 0 for a template this database does not have.
    pub async fn record_status(
        conn: &mut sqlx::AnyConnection,
        waba_id: &str,
        meta_template_id: &str,
        status: TemplateStatus,
        reason: Option<&str>,
        at: i64,
        now: i64,
    ) -> Result<u64> {
        let updated = sqlx::query(
            "UPDATE calling_templates SET status = $1, status_reason = $2, status_at = $3, updated_at = $4 \
             WHERE meta_template_id = $5 AND (status_at IS NULL OR status_at <= $3) \
               AND number_id IN (SELECT id FROM whatsapp_numbers WHERE waba_id = $6)",
        )
        .bind(status.as_str())
        .bind(reason)
        .bind(at)
        .bind(now)
        .bind(meta_template_id)
        .bind(waba_id)
        .execute(&mut *conn)
        .await?;
        Ok(updated.rows_affected())
    }

    /// Sends a template message: the checks of [`SendRequest::prepare`]; for a permission
    /// template, the permission-request quota of the permission ledger (Meta's 138009/138017,
    /// refused before WhatsApp hears of it); billing's preflight (`subscription_expired`,
    /// `insufficient_balance`; sandbox numbers are free); then WhatsApp. The hold is charged
    /// once WhatsApp accepted the message and released if it refused.
    pub async fn send(
        services: &Services,
        client: &GraphClient,
        workspace_id: &str,
        request: &SendRequest,
        actor: &str,
    ) -> Result<SentTemplate> {
        let db = &services.db;
        let template = get(db, workspace_id, request.template_id()?).await?;
        let prepared = request.prepare(&template)?;
        let number = numbers::get(db, workspace_id, &template.number_id).await?;
        let now = services.clock.now();
        let limits = PermissionLimits::PRODUCTION;
        if template.kind == TemplateKind::Permission {
            let history = ledger::history(db, &number.id, &prepared.to).await?;
            permissions::check_permission_request(&history, now, &limits)?;
        }

        let paid = billing::preflight(
            db,
            &number,
            &Billable::Message { kind: MessageKind::CallingTemplate },
            now,
            &Policy::default(),
        )
        .await?;
        let message = TemplateSend {
            name: template.name.clone(),
            language: template.language.clone(),
            header_parameters: Vec::new(),
            body_parameters: prepared.vars.clone(),
            voice_call: (prepared.ttl_minutes.is_some() || prepared.payload.is_some()).then(|| {
                VoiceCallParameters {
                    ttl_minutes: prepared.ttl_minutes.and_then(|ttl| u32::try_from(ttl).ok()),
                    payload: prepared.payload.clone(),
                }
            }),
        };
        let sent: Result<_> = async {
            Ok(client.send_template(&services.graph_target(&number).await?, &prepared.to, &message).await?)
        }
        .await;
        let sent = match sent {
            Ok(sent) => sent,
            Err(err) => {
                // WhatsApp sent nothing: give the hold back (if this fails, expiry will).
                if let Err(release_err) = billing::release(db, &paid, services.clock.now()).await {
                    tracing::error!(error = %release_err, "could not release the hold of a failed template send");
                }
                return Err(err);
            }
        };

        let at = services.clock.now();
        billing::charge_message(db, &paid, &sent.id, at).await?;
        if template.kind == TemplateKind::Permission {
            let pair = ledger::Pair { workspace_id, number_id: &number.id, contact: &prepared.to };
            let fact = PermissionRecord::new(at, PermissionEvent::RequestSent);
            ledger::record(db.pool(), &pair, &fact, ledger::Source::Send, &sent.id, at).await?;
        }
        let cost_micros = paid.hold().map_or(0, |hold| hold.amount.get());
        let message_id = new_id();
        let vars_json = serde_json::to_string(&prepared.vars).map_err(Error::internal)?;
        sqlx::query(
            "INSERT INTO calling_template_sends (id, workspace_id, template_id, template_name, number_id, \
               to_number, wa_message_id, variables, cost_micros, sent_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&message_id)
        .bind(workspace_id)
        .bind(&template.template_id)
        .bind(&template.name)
        .bind(&number.id)
        .bind(prepared.to.e164())
        .bind(&sent.id)
        .bind(vars_json)
        .bind(cost_micros)
        .bind(actor)
        .bind(at)
        .execute(db.pool())
        .await?;
        Ok(SentTemplate {
            message_id,
            wa_message_id: sent.id,
            template_id: template.template_id,
            template_name: template.name,
            kind: template.kind,
            to: prepared.to.e164().to_owned(),
            phone_number_id: number.phone_number_id,
            vars: prepared.vars,
            cost_micros,
            sent_at: at,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn call_button(name: &str) -> CallButtonRequest {
        CallButtonRequest { name: Some(name.into()), ..CallButtonRequest::default() }
    }

    fn field(err: Error) -> String {
        match err {
            Error::Validation { field, .. } => field,
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn names_follow_metas_rules() {
        assert_eq!(TemplateName::parse(" support_cb_2 ").unwrap().as_str(), "support_cb_2");
        for bad in ["", "Support", "support-cb", "call us", "émoji", &"a".repeat(513)] {
            assert_eq!(field(TemplateName::parse(bad).unwrap_err()), "name", "{bad:?}");
        }
        assert!(TemplateName::parse(&"a".repeat(512)).is_ok());
    }

    #[test]
    fn languages_look_like_metas_codes() {
        assert_eq!(parse_language(None).unwrap(), "en_US");
        for good in ["en", "en_US", "pt_BR", "fil", "zh_HK"] {
            assert_eq!(parse_language(Some(good)).unwrap(), good);
        }
        for bad in ["", "EN", "en-US", "english", "en_us"] {
            assert_eq!(field(parse_language(Some(bad)).unwrap_err()), "language", "{bad:?}");
        }
    }

    #[test]
    fn a_call_button_defaults_to_a_whatsapp_call_with_metas_label() {
        let spec = call_button("support_cb").validate().unwrap();
        assert_eq!(spec.kind, TemplateKind::CallButton);
        assert_eq!(spec.language, "en_US");
        assert_eq!(spec.category, Category::Marketing);
        assert_eq!(spec.body, DEFAULT_CALL_BUTTON_BODY);
        assert_eq!(spec.button, Some(Button::WhatsappCall { label: "Call Now".into(), ttl_minutes: None }));
    }

    #[test]
    fn call_button_targets_and_their_rules() {
        let phone = CallButtonRequest {
            label: Some("Call support".into()),
            phone_number: Some("+91 98765 43210".into()),
            ..call_button("support_cb")
        };
        let spec = phone.validate().unwrap();
        assert_eq!(
            spec.button,
            Some(Button::PhoneNumber {
                label: "Call support".into(),
                phone_number: PhoneNumber::parse("+919876543210").unwrap()
            })
        );
        let web = CallButtonRequest { url: Some("https://example.com/call".into()), ..call_button("web") };
        assert_eq!(web.validate().unwrap().button.unwrap().target(), ButtonTarget::Url);

        let cases = [
            (CallButtonRequest { label: Some("x".repeat(21)), ..call_button("a") }, "label"),
            (CallButtonRequest { label: Some("  ".into()), ..call_button("a") }, "label"),
            (CallButtonRequest { phone_number: Some("12".into()), ..call_button("a") }, "phone_number"),
            (CallButtonRequest { url: Some("ftp://x".into()), ..call_button("a") }, "url"),
            (CallButtonRequest { url: Some("https://".into()), ..call_button("a") }, "url"),
            (
                CallButtonRequest {
                    url: Some("https://x.io".into()),
                    phone_number: Some("+919876543210".into()),
                    ..call_button("a")
                },
                "url",
            ),
            (CallButtonRequest { ttl_minutes: Some(1439), ..call_button("a") }, "ttl_minutes"),
            (CallButtonRequest { ttl_minutes: Some(43_201), ..call_button("a") }, "ttl_minutes"),
            (
                CallButtonRequest {
                    ttl_minutes: Some(1440),
                    url: Some("https://x.io".into()),
                    ..call_button("a")
                },
                "ttl_minutes",
            ),
            (CallButtonRequest { body: Some(" ".into()), ..call_button("a") }, "body"),
            (CallButtonRequest { body: Some("x".repeat(1025)), ..call_button("a") }, "body"),
            (CallButtonRequest { category: Some("auth".into()), ..call_button("a") }, "category"),
            (CallButtonRequest { name: None, ..call_button("a") }, "name"),
        ];
        for (request, expected) in cases {
            assert_eq!(field(request.validate().unwrap_err()), expected, "{request:?}");
        }
        for ttl in [1440, 10_080, 43_200] {
            let spec = CallButtonRequest { ttl_minutes: Some(ttl), ..call_button("a") }.validate().unwrap();
            assert_eq!(
                spec.button,
                Some(Button::WhatsappCall { label: "Call Now".into(), ttl_minutes: Some(ttl) })
            );
        }
        assert_eq!("ab12345678901234567é".chars().count(), 20, "labels count characters, not bytes");
        assert!(
            CallButtonRequest { label: Some("ab12345678901234567é".into()), ..call_button("a") }
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn body_variables_need_examples_and_no_gaps() {
        assert_eq!(count_variables("Hi {{1}}, order {{2}} ({{1}})").unwrap(), 2);
        assert_eq!(count_variables("no variables").unwrap(), 0);
        for bad in ["{{2}}", "{{1}} {{3}}", "{{name}}", "{{1}", "{{0}}"] {
            assert_eq!(field(count_variables(bad).unwrap_err()), "body", "{bad:?}");
        }
        let request = PermissionRequest {
            name: Some("ask_perm".into()),
            body: Some("Hi {{1}}, may we call you about {{2}}?".into()),
            examples: vec!["Ada".into()],
            ..PermissionRequest::default()
        };
        assert_eq!(field(request.validate().unwrap_err()), "examples");
        let ok = PermissionRequest { examples: vec!["Ada".into(), "ORD-1".into()], ..request };
        assert_eq!(ok.validate().unwrap().body_variables, 2);
    }

    #[test]
    fn permission_templates_have_a_body_and_short_header_and_footer() {
        let base = PermissionRequest {
            name: Some("ask_perm".into()),
            body: Some("Tap to allow us to call you".into()),
            ..PermissionRequest::default()
        };
        let spec =
            PermissionRequest { header: Some("Calls".into()), footer: Some("Acme".into()), ..base.clone() }
                .validate()
                .unwrap();
        assert_eq!((spec.header.as_deref(), spec.footer.as_deref()), (Some("Calls"), Some("Acme")));
        assert_eq!(spec.button, None);
        let cases = [
            (PermissionRequest { body: None, ..base.clone() }, "body"),
            (PermissionRequest { header: Some("h".repeat(61)), ..base.clone() }, "header"),
            (PermissionRequest { header: Some("Hi {{1}}".into()), ..base.clone() }, "header"),
            (PermissionRequest { footer: Some("".into()), ..base.clone() }, "footer"),
            (PermissionRequest { name: Some("Ask".into()), ..base.clone() }, "name"),
        ];
        for (request, expected) in cases {
            assert_eq!(field(request.validate().unwrap_err()), expected, "{request:?}");
        }
    }

    fn template(kind: TemplateKind, target: Option<ButtonTarget>, variables: i64) -> Template {
        Template {
            template_id: "t1".into(),
            kind,
            name: "support_cb".into(),
            language: "en_US".into(),
            category: Category::Marketing,
            status: TemplateStatus::Approved,
            status_reason: None,
            is_default: true,
            body: "Hi".into(),
            body_variables: variables,
            header: None,
            footer: None,
            label: None,
            target,
            phone_number: None,
            url: None,
            ttl_minutes: None,
            phone_number_id: "1".into(),
            meta_template_id: "2".into(),
            created_by: "test".into(),
            created_at: 0,
            updated_at: 0,
            number_id: "n".into(),
        }
    }

    #[test]
    fn sends_are_checked_against_their_template() {
        let two = template(TemplateKind::CallButton, Some(ButtonTarget::WhatsappCall), 2);
        let send = |vars: Value| SendRequest {
            template_id: Some("t1".into()),
            to: Some("+919876543210".into()),
            vars,
            ..SendRequest::default()
        };
        assert_eq!(send(json!(["John", "ORD-1024"])).prepare(&two).unwrap().vars, ["John", "ORD-1024"]);
        assert_eq!(
            send(json!({"2": "ORD-1024", "1": "John"})).prepare(&two).unwrap().vars,
            ["John", "ORD-1024"]
        );
        assert_eq!(send(json!(["John", 1024])).prepare(&two).unwrap().vars, ["John", "1024"]);
        let cases = [
            (send(json!(["John"])), "vars"),
            (send(json!(null)), "vars"),
            (send(json!("John")), "vars"),
            (send(json!({"1": "John", "3": "x"})), "vars"),
            (send(json!(["John", "two\nlines"])), "vars.2"),
            (send(json!(["  ", "x"])), "vars.1"),
            (send(json!([{}, "x"])), "vars.1"),
            (SendRequest { to: None, ..send(json!(["a", "b"])) }, "to"),
            (SendRequest { to: Some("not a number".into()), ..send(json!(["a", "b"])) }, "to"),
            (SendRequest { ttl_minutes: Some(0), ..send(json!(["a", "b"])) }, "ttl_minutes"),
            (SendRequest { payload: Some("p".repeat(513)), ..send(json!(["a", "b"])) }, "payload"),
        ];
        for (request, expected) in cases {
            assert_eq!(field(request.prepare(&two).unwrap_err()), expected, "{request:?}");
        }
        let ok =
            SendRequest { ttl_minutes: Some(100), payload: Some("lead-7".into()), ..send(json!(["a", "b"])) };
        assert_eq!(ok.prepare(&two).unwrap().ttl_minutes, Some(100));

        let permission = template(TemplateKind::Permission, None, 0);
        let no_vars = SendRequest { ttl_minutes: Some(100), ..send(Value::Null) };
        assert_eq!(field(no_vars.prepare(&permission).unwrap_err()), "ttl_minutes");
        assert!(send(Value::Null).prepare(&permission).is_ok());
        assert!(send(json!([])).prepare(&permission).is_ok());

        let pending = Template { status: TemplateStatus::Pending, ..permission };
        assert_eq!(send(Value::Null).prepare(&pending).unwrap_err().code(), "template_not_approved");
        assert_eq!(
            field(SendRequest { template_id: None, ..send(Value::Null) }.template_id().unwrap_err()),
            "template_id"
        );
    }

    #[test]
    fn metas_statuses_are_read_in_either_spelling() {
        assert_eq!(TemplateStatus::from_meta("APPROVED"), TemplateStatus::Approved);
        assert_eq!(TemplateStatus::from_meta("IN_APPEAL"), TemplateStatus::InAppeal);
        assert_eq!(TemplateStatus::from_meta("paused"), TemplateStatus::Paused);
        assert_eq!(TemplateStatus::from_meta("SOMETHING_NEW"), TemplateStatus::Pending);
        assert_eq!(TemplateStatus::from_webhook_event("REJECTED"), Some(TemplateStatus::Rejected));
        assert_eq!(
            TemplateStatus::from_webhook_event("pending_deletion"),
            Some(TemplateStatus::PendingDeletion)
        );
        assert_eq!(TemplateStatus::from_webhook_event("REINSTATED"), Some(TemplateStatus::Approved));
        assert_eq!(TemplateStatus::from_webhook_event("FLAGGED"), None);
    }
}
