//! Live responses checked against the OpenAPI document: every `/api/v1/app/…` response the
//! test servers give ([`check_against_document`] wraps their router), whoever asked, must be a
//! documented status of a documented operation, and its JSON body must validate (JSON Schema
//! 2020-12, by the `jsonschema` crate) against the schema documented for that status. A
//! mismatch panics in the server's task: the request fails, and the test with it, with the
//! reason in its output.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Value, json};

/// The document, as JSON, built once per test binary.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_value(server::api::openapi::document()).unwrap())
}

/// The documented operation a request reached: its path template and operation object.
pub fn operation(method: &Method, path: &str) -> Option<(&'static str, &'static Value)> {
    let relative = path.strip_prefix(server::api::openapi::BASE_PATH)?;
    let method = method.as_str().to_ascii_lowercase();
    let segments: Vec<&str> = relative.split('/').collect();
    document()["paths"]
        .as_object()?
        .iter()
        .filter_map(|(template, item)| {
            let parts: Vec<&str> = template.split('/').collect();
            let matches = parts.len() == segments.len()
                && parts.iter().zip(&segments).all(|(part, segment)| {
                    (part.starts_with('{') && part.ends_with('}') && !segment.is_empty()) || part == segment
                });
            let literal = parts.iter().filter(|part| !part.starts_with('{')).count();
            (matches && item.get(&method).is_some()).then(|| (literal, template.as_str(), &item[&method]))
        })
        // `/templates/call-button` over `/templates/{id}`: the most literal template wins.
        .max_by_key(|(literal, ..)| *literal)
        .map(|(_, template, operation)| (template, operation))
}

/// A validator for a schema of the document, compiled once.
pub fn validator(schema: &Value) -> Arc<jsonschema::Validator> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> = OnceLock::new();
    let key = schema.to_string();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    cache
        .entry(key)
        .or_insert_with(|| {
            // The schema sits inside a document holding the components, so its
            // `#/components/schemas/…` references resolve as they do in the OpenAPI document.
            let root = json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "components": document()["components"],
                "allOf": [schema],
            });
            Arc::new(jsonschema::validator_for(&root).expect("the documented schema compiles"))
        })
        .clone()
}

/// Why `instance` does not match `schema`, or `None`.
pub fn mismatch(schema: &Value, instance: &Value) -> Option<String> {
    let validator = validator(schema);
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}

/// Panics unless the response is what the document says `method path` answers.
pub fn check_response(method: &Method, path: &str, status: StatusCode, content_type: &str, body: &str) {
    if !path.starts_with("/api/v1/app/") {
        return;
    }
    let Some((template, operation)) = operation(method, path) else {
        // Unknown routes and methods are answered 404/405 by the router, not by an operation.
        assert!(
            matches!(status, StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED),
            "{method} {path} answered {status} but is not in the OpenAPI document"
        );
        return;
    };
    let code = status.as_u16().to_string();
    let response = operation["responses"].get(&code).unwrap_or_else(|| {
        panic!("{method} {template} answered {status}, which the document does not list: {body}")
    });
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if media_type != "application/json" {
        return;
    }
    let schema = &response["content"]["application/json"]["schema"];
    assert!(
        !schema.is_null(),
        "{method} {template} {status} answered JSON, documented without a JSON body: {body}"
    );
    let instance: Value = serde_json::from_str(body).expect("a JSON response parses");
    if let Some(problem) = mismatch(schema, &instance) {
        panic!("{method} {template} {status} does not match its documented schema: {problem}\nbody: {body}");
    }
}

/// Middleware: checks each REST response (buffering JSON bodies) and passes it on unchanged.
pub async fn check_against_document(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let response = next.run(request).await;
    if !path.starts_with("/api/v1/app/") {
        return response;
    }
    let headers = response.headers();
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let compressed = headers.contains_key(axum::http::header::CONTENT_ENCODING);
    let status = response.status();
    if !content_type.starts_with("application/json") || compressed {
        check_response(&method, &path, status, if compressed { "" } else { &content_type }, "");
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("the response body reads");
    check_response(&method, &path, status, &content_type, &String::from_utf8_lossy(&bytes));
    Response::from_parts(parts, Body::from(bytes))
}
