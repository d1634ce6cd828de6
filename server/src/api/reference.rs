//! `GET /api/v1/docs`: the REST API reference, rendered on the server from the OpenAPI
//! document ([`super::openapi::document`]), so it cannot drift from it. Plain HTML with the
//! site's stylesheet: no script and nothing from a CDN, so it reads offline and without
//! JavaScript.

use std::fmt::Write;

use axum::response::Html;
use serde_json::Value;

use super::openapi::{self, BASE_PATH};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The page.
pub async fn page() -> Html<String> {
    let doc = serde_json::to_value(openapi::document()).unwrap_or_default();
    Html(render(&doc))
}

/// The reference page of an OpenAPI document (as JSON).
pub fn render(doc: &Value) -> String {
    let title = text(&doc["info"]["title"]);
    let mut html = String::with_capacity(64 * 1024);
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} reference</title><link rel=\"stylesheet\" href=\"/pkg/switchboard.css\"></head>\
         <body class=\"api-reference\"><main class=\"reference\"><header><h1>{title}</h1>\
         <p>Version {version}. Machine-readable: <a href=\"{BASE_PATH}/openapi.json\"><code>{BASE_PATH}/openapi.json</code></a> (OpenAPI {openapi}).</p>\
         <p>{description}</p></header>",
        title = escape(&title),
        version = escape(&text(&doc["info"]["version"])),
        openapi = escape(&text(&doc["openapi"])),
        description = inline_code(&text(&doc["info"]["description"])),
    );

    let operations = operations(doc);
    html.push_str("<nav aria-label=\"Endpoints\"><h2>Endpoints</h2>");
    for tag in doc["tags"].as_array().into_iter().flatten() {
        let name = text(&tag["name"]);
        let _ =
            write!(html, "<h3>{}</h3><p>{}</p><ul>", escape(&name), inline_code(&text(&tag["description"])));
        for op in operations.iter().filter(|op| op.tag == name) {
            let _ = write!(
                html,
                "<li><a href=\"#{anchor}\"><span class=\"method method-{method}\">{upper}</span> <code>{path}</code></a> {summary}</li>",
                anchor = op.anchor(),
                method = op.method,
                upper = op.method.to_uppercase(),
                path = escape(&op.path),
                summary = inline_code(&text(&op.operation["summary"])),
            );
        }
        html.push_str("</ul>");
    }
    html.push_str("</nav>");

    for op in &operations {
        render_operation(&mut html, op);
    }

    html.push_str("<section id=\"schemas\"><h2>Schemas</h2>");
    for (name, schema) in doc["components"]["schemas"].as_object().into_iter().flatten() {
        let _ = write!(html, "<article id=\"schema-{0}\"><h3>{0}</h3>", escape(name));
        render_schema(&mut html, schema);
        html.push_str("</article>");
    }
    html.push_str("</section></main></body></html>");
    html
}

struct Op<'a> {
    method: &'static str,
    path: String,
    tag: String,
    operation: &'a Value,
}

impl Op<'_> {
    fn anchor(&self) -> String {
        let path: String =
            self.path.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        format!("{}{}", self.method, path)
    }
}

fn operations(doc: &Value) -> Vec<Op<'_>> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                let tag = operation["tags"][0].as_str().unwrap_or_default().to_owned();
                out.push(Op { method, path: format!("{BASE_PATH}{path}"), tag, operation });
            }
        }
    }
    out
}

fn render_operation(html: &mut String, op: &Op<'_>) {
    let operation = op.operation;
    let _ = write!(
        html,
        "<section class=\"operation\" id=\"{anchor}\"><h2><span class=\"method method-{method}\">{upper}</span> <code>{path}</code></h2><p>{summary}</p>",
        anchor = op.anchor(),
        method = op.method,
        upper = op.method.to_uppercase(),
        path = escape(&op.path),
        summary = inline_code(&text(&operation["summary"])),
    );
    let description = text(&operation["description"]);
    if !description.is_empty() {
        let _ = write!(html, "<p>{}</p>", inline_code(&description));
    }
    if let Some(parameters) = operation["parameters"].as_array().filter(|p| !p.is_empty()) {
        html.push_str(
            "<h3>Parameters</h3><div class=\"table-wrap\"><table><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">In</th><th scope=\"col\">Type</th><th scope=\"col\">Description</th></tr></thead><tbody>",
        );
        for parameter in parameters {
            let required = if parameter["required"].as_bool() == Some(true) { " (required)" } else { "" };
            let _ = write!(
                html,
                "<tr><td><code>{}</code>{required}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&text(&parameter["name"])),
                escape(&text(&parameter["in"])),
                type_of(&parameter["schema"]),
                inline_code(&text(&parameter["description"])),
            );
        }
        html.push_str("</tbody></table></div>");
    }
    if let Some(content) = operation["requestBody"]["content"].as_object() {
        html.push_str("<h3>Request body</h3>");
        for (media_type, media) in content {
            let _ = write!(html, "<p><code>{}</code>: {}</p>", escape(media_type), type_of(&media["schema"]));
            if let Some(example) = example_of(doc_schema_example(media)) {
                let _ = write!(html, "<pre><code>{}</code></pre>", escape(&example));
            }
        }
    }
    html.push_str(
        "<h3>Responses</h3><div class=\"table-wrap\"><table><thead><tr><th scope=\"col\">Status</th><th scope=\"col\">Description</th><th scope=\"col\">Body</th></tr></thead><tbody>",
    );
    for (status, response) in operation["responses"].as_object().into_iter().flatten() {
        let body = response["content"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(media_type, media)| {
                format!("<code>{}</code> {}", escape(media_type), type_of(&media["schema"]))
            })
            .collect::<Vec<_>>()
            .join("<br>");
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{body}</td></tr>",
            escape(status),
            inline_code(&text(&response["description"])),
        );
    }
    html.push_str("</tbody></table></div></section>");
}

/// The example a media type or its schema carries, if any.
fn doc_schema_example(media: &Value) -> Option<&Value> {
    media
        .get("example")
        .or_else(|| media["schema"].get("example"))
        .or_else(|| media["schema"]["examples"].get(0))
}

fn example_of(example: Option<&Value>) -> Option<String> {
    example.and_then(|value| serde_json::to_string_pretty(value).ok())
}

fn render_schema(html: &mut String, schema: &Value) {
    let description = text(&schema["description"]);
    if !description.is_empty() {
        let _ = write!(html, "<p>{}</p>", inline_code(&description));
    }
    let Some(properties) = schema["properties"].as_object() else {
        let _ = write!(html, "<p>{}</p>", type_of(schema));
        return;
    };
    let required: Vec<&str> =
        schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    html.push_str(
        "<div class=\"table-wrap\"><table><thead><tr><th scope=\"col\">Field</th><th scope=\"col\">Type</th><th scope=\"col\">Description</th></tr></thead><tbody>",
    );
    for (name, property) in properties {
        let mark = if required.contains(&name.as_str()) { "" } else { " (optional)" };
        let _ = write!(
            html,
            "<tr><td><code>{}</code>{mark}</td><td>{}</td><td>{}</td></tr>",
            escape(name),
            type_of(property),
            inline_code(&text(&property["description"])),
        );
    }
    html.push_str("</tbody></table></div>");
    if let Some(example) = example_of(schema.get("example").or_else(|| schema["examples"].get(0))) {
        let _ = write!(html, "<p>Example:</p><pre><code>{}</code></pre>", escape(&example));
    }
}

/// A schema's type in a few words, with links to the named schemas it uses.
fn type_of(schema: &Value) -> String {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!("<a href=\"#schema-{0}\">{0}</a>", escape(name));
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if let Some(parts) = schema[combinator].as_array() {
            let parts: Vec<String> = parts.iter().map(type_of).collect();
            return parts.join(if combinator == "allOf" { " and " } else { " or " });
        }
    }
    let kinds: Vec<String> = match &schema["type"] {
        Value::String(kind) => vec![kind.clone()],
        Value::Array(kinds) => kinds.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    let mut words: Vec<String> = kinds
        .iter()
        .map(|kind| match kind.as_str() {
            "array" => format!("array of {}", type_of(&schema["items"])),
            "object" if schema["additionalProperties"].is_object() => {
                format!("map of {}", type_of(&schema["additionalProperties"]))
            }
            other => escape(other),
        })
        .collect();
    if words.is_empty() {
        words.push("any".to_owned());
    }
    let mut out = words.join(" or ");
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<String> =
            values.iter().map(|v| format!("<code>{}</code>", escape(&v.to_string()))).collect();
        let _ = write!(out, ": {}", values.join(", "));
    }
    if let Some(format) = schema["format"].as_str() {
        let _ = write!(out, " ({})", escape(format));
    }
    out
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes the text and shows its `backticked` parts as code, as the doc comments write them.
fn inline_code(raw: &str) -> String {
    escape(raw)
        .split('`')
        .enumerate()
        .map(|(i, part)| if i % 2 == 1 { format!("<code>{part}</code>") } else { part.to_owned() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_lists_every_operation_and_schema_and_escapes_text() {
        let doc = serde_json::to_value(openapi::document()).unwrap();
        let html = render(&doc);
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in METHODS {
                if item.get(method).is_some() {
                    let op = Op {
                        method,
                        path: format!("{BASE_PATH}{path}"),
                        tag: String::new(),
                        operation: &item[method],
                    };
                    assert!(html.contains(&format!("id=\"{}\"", op.anchor())), "{method} {path} is missing");
                }
            }
        }
        for name in doc["components"]["schemas"].as_object().unwrap().keys() {
            assert!(html.contains(&format!("id=\"schema-{name}\"")), "schema {name} is missing");
        }
        assert_eq!(inline_code("a `<b>` c"), "a <code>&lt;b&gt;</code> c");
    }
}
