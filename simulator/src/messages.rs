//! `POST /{phone_number_id}/messages` and `POST /{waba_id}/message_templates` validation for the
//! calling-related message kinds (reference §4.3, §4.4, §6): interactive `voice_call` and
//! `call_permission_request`, templates with a `voice_call` button or a `call_permission_request`
//! component, with Meta's length and range rules.

use serde_json::{Value, json};

use crate::engine::{Template, normalize_phone};
use crate::error::{GraphError, GraphResult};

/// The parts of a validated message the engine needs.
pub struct Message {
    /// Recipient digits.
    pub to: String,
    /// A free-form `call_permission_request`.
    pub is_permission_request: bool,
    /// `(name, language)` for template messages.
    pub template: Option<(String, String)>,
}

fn str_field<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    v.pointer(path).and_then(Value::as_str)
}

fn max_len(v: Option<&str>, max: usize, what: &str) -> GraphResult<()> {
    match v {
        Some(s) if s.chars().count() > max => Err(GraphError::message_param(format!(
            "{what} is {} characters; the maximum is {max}",
            s.chars().count()
        ))),
        _ => Ok(()),
    }
}

fn ttl(v: Option<&Value>, lo: i64, hi: i64, what: &str) -> GraphResult<()> {
    match v {
        None => Ok(()),
        Some(t) => match t.as_i64() {
            Some(n) if (lo..=hi).contains(&n) => Ok(()),
            _ => Err(GraphError::message_param(format!(
                "{what} must be an integer between {lo} and {hi}, got {t}"
            ))),
        },
    }
}

/// Validate a message send body.
pub fn validate_message(body: &Value) -> GraphResult<Message> {
    if str_field(body, "/messaging_product") != Some("whatsapp") {
        return Err(GraphError::invalid_parameter("messaging_product must be \"whatsapp\""));
    }
    if let Some(rt) = body.get("recipient_type")
        && rt.as_str() != Some("individual")
    {
        return Err(GraphError::invalid_parameter("recipient_type must be \"individual\""));
    }
    let to_raw = str_field(body, "/to").ok_or_else(|| GraphError::missing_param("to is required"))?;
    let to = normalize_phone(to_raw).ok_or_else(|| {
        GraphError::invalid_parameter(format!("'to' is not a valid phone number: {to_raw:?}"))
    })?;
    let kind = str_field(body, "/type").unwrap_or("text");
    match kind {
        "text" => {
            let text = str_field(body, "/text/body")
                .ok_or_else(|| GraphError::missing_param("text.body is required"))?;
            max_len(Some(text), 4096, "text.body")?;
            Ok(Message { to, is_permission_request: false, template: None })
        }
        "interactive" => {
            let i = body
                .get("interactive")
                .ok_or_else(|| GraphError::missing_param("interactive is required"))?;
            let itype = str_field(i, "/type").unwrap_or("");
            match itype {
                "voice_call" => {
                    let text = str_field(i, "/body/text")
                        .ok_or_else(|| GraphError::missing_param("interactive.body.text is required"))?;
                    max_len(Some(text), 1024, "interactive.body.text")?;
                    if str_field(i, "/action/name") != Some("voice_call") {
                        return Err(GraphError::invalid_parameter(
                            "interactive.action.name must be \"voice_call\"",
                        ));
                    }
                    if let Some(p) = i.pointer("/action/parameters") {
                        if !p.is_object() {
                            return Err(GraphError::invalid_parameter("action.parameters must be an object"));
                        }
                        max_len(str_field(p, "/display_text"), 20, "display_text")?;
                        ttl(p.get("ttl_minutes"), 1, 43_200, "ttl_minutes")?;
                        max_len(str_field(p, "/payload"), 512, "payload")?;
                    }
                    Ok(Message { to, is_permission_request: false, template: None })
                }
                "call_permission_request" => {
                    if i.get("header").is_some() || i.get("footer").is_some() {
                        return Err(GraphError::invalid_parameter(
                            "header and footer are not supported for call_permission_request messages",
                        ));
                    }
                    if str_field(i, "/action/name") != Some("call_permission_request") {
                        return Err(GraphError::invalid_parameter(
                            "interactive.action.name must be \"call_permission_request\"",
                        ));
                    }
                    max_len(str_field(i, "/body/text"), 1024, "interactive.body.text")?;
                    Ok(Message { to, is_permission_request: true, template: None })
                }
                other => Err(GraphError::invalid_parameter(format!(
                    "interactive.type {other:?} is not supported by the simulator (voice_call, call_permission_request)"
                ))),
            }
        }
        "template" => {
            let name = str_field(body, "/template/name")
                .ok_or_else(|| GraphError::missing_param("template.name is required"))?;
            let lang = str_field(body, "/template/language/code")
                .ok_or_else(|| GraphError::missing_param("template.language.code is required"))?;
            Ok(Message {
                to,
                is_permission_request: false,
                template: Some((name.to_string(), lang.to_string())),
            })
        }
        other => Err(GraphError::invalid_parameter(format!(
            "message type {other:?} is not supported by the simulator"
        ))),
    }
}

fn components(v: &Value) -> Vec<&Value> {
    v.as_array().map(|a| a.iter().collect()).unwrap_or_default()
}

fn ctype(c: &Value) -> String {
    c.get("type").and_then(Value::as_str).unwrap_or("").to_ascii_uppercase()
}

/// Number of `{{n}}` variables in a text.
fn variables(text: &str) -> usize {
    text.match_indices("{{").count()
}

/// Whether a template carries a `call_permission_request` component.
pub fn template_has_permission_request(t: &Template) -> bool {
    components(&t.components).iter().any(|c| ctype(c) == "CALL_PERMISSION_REQUEST")
}

/// Check a template send against the stored template.
pub fn check_template_send(t: &Template, body: &Value) -> GraphResult<()> {
    let tpl_body_vars = components(&t.components)
        .iter()
        .find(|c| ctype(c) == "BODY")
        .and_then(|c| c.get("text").and_then(Value::as_str))
        .map(variables)
        .unwrap_or(0);
    let has_voice_button = components(&t.components).iter().any(|c| {
        ctype(c) == "BUTTONS"
            && c.get("buttons").and_then(Value::as_array).is_some_and(|b| {
                b.iter().any(|b| {
                    b.get("type")
                        .and_then(Value::as_str)
                        .is_some_and(|t| t.eq_ignore_ascii_case("voice_call"))
                })
            })
    });
    let sent = body.pointer("/template/components").cloned().unwrap_or(json!([]));
    let mut body_params = 0usize;
    for c in components(&sent) {
        match ctype(c).as_str() {
            "BODY" => body_params = c.get("parameters").and_then(Value::as_array).map_or(0, Vec::len),
            "BUTTON" => {
                let sub = c.get("sub_type").and_then(Value::as_str).unwrap_or("");
                if sub != "voice_call" {
                    continue;
                }
                if !has_voice_button {
                    return Err(GraphError::invalid_parameter("template has no voice_call button"));
                }
                for p in c.get("parameters").and_then(Value::as_array).into_iter().flatten() {
                    match p.get("type").and_then(Value::as_str) {
                        Some("ttl_minutes") => {
                            ttl(p.get("ttl_minutes").or(Some(&Value::Null)), 1, 43_200, "ttl_minutes")?
                        }
                        Some("payload") => {
                            let payload = p.get("payload").and_then(Value::as_str);
                            if payload.is_none() {
                                return Err(GraphError::missing_param(
                                    "payload parameter needs a payload string",
                                ));
                            }
                            max_len(payload, 512, "payload")?;
                        }
                        other => {
                            return Err(GraphError::invalid_parameter(format!(
                                "voice_call button parameter type {other:?} is not valid (ttl_minutes, payload)"
                            )));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if body_params != tpl_body_vars {
        let mut e = GraphError::invalid_parameter(format!(
            "body: number of localizable_params ({body_params}) does not match the expected number of params ({tpl_body_vars})"
        ));
        e.code = 132000;
        e.message = "(#132000) Number of parameters does not match the expected number of params".into();
        return Err(e);
    }
    Ok(())
}

/// Validate a template creation body.
pub fn validate_template(body: &Value) -> GraphResult<Template> {
    let bad = GraphError::invalid_parameter;
    let name = str_field(body, "/name").ok_or_else(|| bad("name is required".to_string()))?;
    if name.is_empty()
        || name.len() > 512
        || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(bad(format!(
            "Invalid template name {name:?}: lowercase letters, digits and underscores, at most 512"
        )));
    }
    let language = str_field(body, "/language").ok_or_else(|| bad("language is required".to_string()))?;
    let category = str_field(body, "/category").unwrap_or("").to_ascii_uppercase();
    if !["MARKETING", "UTILITY"].contains(&category.as_str()) {
        return Err(bad(format!("category must be MARKETING or UTILITY, got {category:?}")));
    }
    let comps = body
        .get("components")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("components is required".to_string()))?;
    let (mut bodies, mut perm, mut voice) = (0, 0, 0);
    for c in comps {
        match ctype(c).as_str() {
            "BODY" => {
                bodies += 1;
                let text = c.get("text").and_then(Value::as_str).unwrap_or("");
                if text.trim().is_empty() || text.chars().count() > 1024 {
                    return Err(bad("BODY text is required and at most 1024 characters".to_string()));
                }
            }
            "HEADER" => {
                let fmt = c.get("format").and_then(Value::as_str).unwrap_or("TEXT");
                if !fmt.eq_ignore_ascii_case("TEXT") {
                    return Err(bad("only TEXT headers are supported by the simulator".to_string()));
                }
                let text = c.get("text").and_then(Value::as_str).unwrap_or("");
                if text.is_empty() || text.chars().count() > 60 {
                    return Err(bad("HEADER text is required and at most 60 characters".to_string()));
                }
            }
            "FOOTER" => {
                let text = c.get("text").and_then(Value::as_str).unwrap_or("");
                if text.is_empty() || text.chars().count() > 60 {
                    return Err(bad("FOOTER text is required and at most 60 characters".to_string()));
                }
            }
            "BUTTONS" => {
                let buttons = c
                    .get("buttons")
                    .and_then(Value::as_array)
                    .ok_or_else(|| bad("BUTTONS needs buttons".to_string()))?;
                if buttons.is_empty() || buttons.len() > 10 {
                    return Err(bad("BUTTONS holds 1 to 10 buttons".to_string()));
                }
                for b in buttons {
                    let bt = b.get("type").and_then(Value::as_str).unwrap_or("");
                    if bt.eq_ignore_ascii_case("voice_call") {
                        voice += 1;
                        if let Some(text) = b.get("text").and_then(Value::as_str)
                            && (text.is_empty() || text.chars().count() > 20)
                        {
                            return Err(bad("voice_call button text is at most 20 characters".to_string()));
                        }
                        if b.get("text").is_some_and(|t| !t.is_string()) {
                            return Err(bad("voice_call button text must be a string".to_string()));
                        }
                        match b.get("ttl_minutes").map(Value::as_i64) {
                            None => {}
                            Some(Some(n)) if (1440..=43_200).contains(&n) => {}
                            Some(_) => {
                                return Err(bad(
                                    "voice_call button ttl_minutes must be between 1440 and 43200"
                                        .to_string(),
                                ));
                            }
                        }
                    } else {
                        let text = b.get("text").and_then(Value::as_str).unwrap_or("");
                        if text.is_empty() || text.chars().count() > 25 {
                            return Err(bad(format!(
                                "{bt} button text is required and at most 25 characters"
                            )));
                        }
                    }
                }
            }
            "CALL_PERMISSION_REQUEST" => perm += 1,
            other => return Err(bad(format!("Unknown component type {other:?}"))),
        }
    }
    if bodies != 1 {
        return Err(bad("A template needs exactly one BODY component".to_string()));
    }
    if perm > 1 || voice > 1 {
        return Err(bad(
            "At most one call_permission_request component and one voice_call button".to_string()
        ));
    }
    Ok(Template {
        id: crate::ids::numeric_id(),
        waba_id: String::new(),
        name: name.to_string(),
        language: language.to_string(),
        category,
        components: Value::Array(comps.clone()),
        status: "APPROVED".to_owned(),
    })
}
