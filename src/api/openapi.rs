//! The OpenAPI 3.1 document of `/api/v2`, generated from the handlers'
//! `#[utoipa::path]` annotations (the same registrations that build the
//! router, so a documented route is a served route) and served at
//! `/api/v2/openapi.json`.
//!
//! [`finish`] adds, in one place, what the gate and the extractors give every
//! operation: the security alternatives, the 401/403/429 responses and
//! rate-limit headers of gated routes, problem+json bodies for errors that
//! name no other body, 404 for path ids, 4xx for bodies and query strings, 500.

use std::sync::LazyLock;

use axum::http::header::CONTENT_TYPE;
use axum::http::Method;
use axum::response::IntoResponse;
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::gate::RouteScopes;
use super::AppState;
use crate::access::keys::Scope;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ihf-webhooks API",
        description = "Subscribe to the framework's events and inspect their delivery. \
            Authenticate with `Authorization: Bearer <key or token>`; tokens come from \
            `POST /api/v2/token` (OAuth 2.0 client credentials). Every response to an \
            authenticated request carries `RateLimit-Policy`, `RateLimit` and \
            `X-RateLimit-*` headers. Errors are RFC 9457 problem details, except at \
            the token endpoint (RFC 6749)."
    ),
    components(schemas(Problem, FieldError)),
    tags(
        (name = "auth", description = "OAuth 2.0 client credentials"),
        (name = "account", description = "The calling consumer and its usage"),
        (name = "webhooks", description = "Subscriptions and event types"),
        (name = "deliveries", description = "The attempt log"),
        (name = "admin", description = "Consumers and keys (scope `admin`)"),
        (name = "meta", description = "This document")
    )
)]
struct ApiDoc;

/// RFC 9457 problem details.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; problem.rs builds the real ones
struct Problem {
    #[schema(example = "about:blank")]
    r#type: String,
    title: String,
    status: u16,
    /// What to change to make the request work.
    detail: String,
    instance: Option<String>,
    /// On 422: the fields that are invalid.
    errors: Option<Vec<FieldError>>,
    /// On 429: `minute` and/or `day`.
    #[serde(rename = "violated-policies")]
    violated_policies: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
struct FieldError {
    field: String,
    message: String,
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(openapi_json))
}

static DOCUMENT: LazyLock<String> =
    LazyLock::new(|| serde_json::to_string(&document()).expect("the document serializes"));

/// This document.
#[utoipa::path(
    get,
    path = "/api/v2/openapi.json",
    operation_id = "getOpenApi",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object))
)]
async fn openapi_json() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], DOCUMENT.as_str())
}

/// The whole document, as served.
pub fn document() -> Value {
    let mut doc = ApiDoc::openapi();
    doc.merge(super::documented_routes().into_openapi());
    let mut value = serde_json::to_value(doc).expect("the document serializes");
    finish(&mut value);
    value
}

/// The scope each documented operation requires, for the gate.
pub fn route_scopes(doc: &Value) -> RouteScopes {
    let mut entries = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let scope = op["security"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|req| req.get("bearer"))
                .and_then(|scopes| scopes.get(0))
                .and_then(Value::as_str)
                .and_then(Scope::parse);
            entries.push((method, path.clone(), scope));
        }
    }
    RouteScopes::new(entries)
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn finish(doc: &mut Value) {
    let scopes: Map<String, Value> = Scope::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), json!(scope_description(*s))))
        .collect();
    let components = doc["components"].as_object_mut().expect("components exist");
    components.insert(
        "securitySchemes".into(),
        json!({
            "bearer": {
                "type": "http", "scheme": "bearer",
                "description": "A static key (`ihf_…`, from an operator) or a token from `POST /api/v2/token`."
            },
            "oauth2": {
                "type": "oauth2",
                "flows": { "clientCredentials": { "tokenUrl": "/api/v2/token", "scopes": scopes } }
            },
            "clientBasic": {
                "type": "http", "scheme": "basic",
                "description": "client_id = the consumer id, client_secret = one of its static keys."
            }
        }),
    );
    components.insert("headers".into(), rate_limit_headers());

    for (path, item) in doc["paths"].as_object_mut().expect("paths exist") {
        for (method, op) in item.as_object_mut().expect("path item") {
            if METHODS.contains(&method.as_str()) {
                finish_operation(path, op);
            }
        }
    }
    for (path, method, status, id, targets) in LINKS {
        let response = &mut doc["paths"][path][method]["responses"][status];
        assert!(
            response.is_object(),
            "link source {method} {path} {status} is documented"
        );
        for target in targets {
            response["links"][*target] = json!({
                "operationId": target,
                "parameters": { "id": id },
            });
        }
    }
}

/// Links from the operations that create things to those that take
/// their ids, so clients (and schemathesis' stateful phase) can follow them.
const LINKS: [(&str, &str, &str, &str, &[&str]); 3] = [
    (
        "/api/v2/webhooks",
        "post",
        "201",
        "$response.body#/id",
        &[
            "getSubscription",
            "updateSubscription",
            "deleteSubscription",
            "listDeliveries",
        ],
    ),
    (
        "/api/v2/admin/consumers",
        "post",
        "201",
        "$response.body#/id",
        &["getConsumer", "updateConsumer", "listKeys", "issueKey"],
    ),
    (
        "/api/v2/admin/consumers/{id}/keys",
        "post",
        "201",
        "$response.body#/id",
        &["revokeKey"],
    ),
];

fn finish_operation(path: &str, op: &mut Value) {
    let gated = op["security"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|req| req.get("bearer"))
        .cloned();
    if let Some(scopes) = &gated {
        op["security"] = json!([{ "bearer": scopes }, { "oauth2": scopes }]);
        add_response(op, "401", "No key or token, or one that is unknown, revoked or expired, or whose consumer is inactive", &["WWW-Authenticate"]);
        if scopes.as_array().is_some_and(|s| !s.is_empty()) {
            add_response(
                op,
                "403",
                "The key or token lacks the scope this operation needs",
                &["WWW-Authenticate"],
            );
        }
        add_response(
            op,
            "429",
            "The consumer's rate limit or daily quota is used up",
            &["Retry-After"],
        );
    }
    if path.contains('{') {
        add_response(op, "404", "Not found", &[]);
    }
    let has_query = op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| p["in"] == "query");
    if has_query {
        add_response(op, "400", "A query parameter is not valid", &[]);
    }
    if op["requestBody"]["content"]
        .get("application/json")
        .is_some()
    {
        add_response(op, "400", "The body is not valid JSON", &[]);
        add_response(op, "413", "The body is larger than 64 KiB", &[]);
        add_response(op, "415", "The body is not `application/json`", &[]);
        add_response(
            op,
            "422",
            "A field is missing, unknown or of the wrong type",
            &[],
        );
    }
    add_response(op, "500", "The server could not complete the request", &[]);

    for (status, response) in op["responses"].as_object_mut().expect("responses") {
        let is_error = status.starts_with('4') || status.starts_with('5');
        if is_error && response.get("content").is_none() {
            response["content"] = json!({
                "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } }
            });
        }
        if gated.is_some() {
            let headers = response
                .as_object_mut()
                .expect("response")
                .entry("headers")
                .or_insert_with(|| json!({}));
            for name in [
                "RateLimit-Policy",
                "RateLimit",
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
            ] {
                if status != "401" {
                    headers[name] = json!({ "$ref": format!("#/components/headers/{name}") });
                }
            }
        }
    }
}

/// Adds a response unless the operation documents that status itself.
fn add_response(op: &mut Value, status: &str, description: &str, headers: &[&str]) {
    let responses = op["responses"].as_object_mut().expect("responses");
    if responses.contains_key(status) {
        return;
    }
    let mut response = json!({ "description": description });
    for name in headers {
        response["headers"][*name] = json!({ "$ref": format!("#/components/headers/{name}") });
    }
    responses.insert(status.to_string(), response);
}

fn rate_limit_headers() -> Value {
    let text =
        |description: &str| json!({ "description": description, "schema": { "type": "string" } });
    let number = |description: &str| json!({ "description": description, "schema": { "type": "integer", "minimum": 0 } });
    json!({
        "RateLimit-Policy": text("The consumer's policies: `\"minute\";q=60;w=60, \"day\";q=10000;w=86400`"),
        "RateLimit": text("What is left of each: `\"minute\";r=59;t=37, \"day\";r=9876;t=41234` (`t`: seconds until more)"),
        "X-RateLimit-Limit": number("Requests allowed per rolling minute"),
        "X-RateLimit-Remaining": number("Requests left in the current minute"),
        "X-RateLimit-Reset": number("When more requests are allowed (UTC epoch seconds)"),
        "Retry-After": number("Seconds until a request would be admitted"),
        "WWW-Authenticate": text("The RFC 6750 challenge"),
    })
}

fn scope_description(scope: Scope) -> &'static str {
    match scope {
        Scope::WebhooksRead => "Read subscriptions",
        Scope::WebhooksWrite => "Create, change and delete subscriptions",
        Scope::DeliveriesRead => "Read the attempt log",
        Scope::UsageRead => "Read request usage",
        Scope::Admin => "Manage consumers and keys",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_with_every_operation_secured_or_public_on_purpose() {
        let doc = document();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        let public = ["/api/v2/token", "/api/v2/openapi.json"];
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let secured = op["security"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
                assert!(
                    secured || public.contains(&path.as_str()),
                    "{method} {path} declares no bearer security"
                );
                assert!(op["responses"]["500"].is_object(), "{method} {path}");
            }
        }
    }

    #[test]
    fn links_name_operations_that_exist() {
        let doc = document();
        let ids: Vec<&str> = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .filter_map(|op| op["operationId"].as_str())
            .collect();
        for (_, _, _, _, targets) in LINKS {
            for target in targets {
                assert!(ids.contains(target), "link to unknown operation {target}");
            }
        }
    }

    #[test]
    fn operation_ids_are_unique() {
        let doc = document();
        let mut seen = std::collections::HashSet::new();
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                let id = op["operationId"]
                    .as_str()
                    .expect("every operation has an id");
                assert!(
                    seen.insert(id.to_string()),
                    "operationId {id} is used twice"
                );
            }
        }
    }

    #[test]
    fn scopes_come_from_the_document() {
        let scopes = route_scopes(&document());
        assert_eq!(
            scopes.required(&Method::GET, "/api/v2/webhooks"),
            Some(Scope::WebhooksRead)
        );
        assert_eq!(
            scopes.required(&Method::HEAD, "/api/v2/webhooks/{id}/deliveries"),
            Some(Scope::DeliveriesRead)
        );
        assert_eq!(
            scopes.required(&Method::DELETE, "/api/v2/admin/keys/{id}"),
            Some(Scope::Admin)
        );
        assert_eq!(scopes.required(&Method::GET, "/api/v2/me"), None);
    }
}
