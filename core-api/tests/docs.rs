//! The API documents: every route the app serves is in the OpenAPI document
//! (and nothing else is), the documents are valid and served, the viewers
//! work offline, and the events page is current.

mod common;

use std::collections::BTreeSet;

use common::TestApp;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use shared_types::socket::{client_events, server_events, NAMESPACES};
use shared_types::ErrorCode;
use sqlx::PgPool;

/// Routes deliberately left out of the public document: the edge's signed API.
const UNDOCUMENTED_PREFIX: &str = "/internal/v1/";

/// The paths the router holds, read from its `Debug` output (axum has no
/// public listing). An axum that prints them differently leaves this empty
/// and the coverage test fails, never passes.
fn router_paths(router: &axum::Router) -> BTreeSet<String> {
    let debug = format!("{router:?}");
    // the routes; what follows is the fallback's own catch-all paths
    let routes = debug.split("fallback_router").next().unwrap_or_default();
    let mut paths = BTreeSet::new();
    for chunk in routes.split("RouteId(").skip(1) {
        if let Some(rest) = chunk.split_once("): \"").map(|(_, r)| r) {
            if let Some((path, _)) = rest.split_once('"') {
                paths.insert(path.to_string());
            }
        }
    }
    paths
}

/// A concrete URL for a path template.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment {
            "{id}" => "0192f1c4-5d6e-7f80-9a1b-2c3d4e5f6a7b",
            "{emoji}" => "%F0%9F%91%8D",
            s if s.starts_with('{') => "x",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn every_served_route_is_documented_and_nothing_else(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let router = core_api::startup::router(app.state.clone());
    let paths = router_paths(&router);
    assert!(
        paths.contains("/health/live") && paths.contains("/api/v1/messages"),
        "could not read the router's paths: {paths:?}"
    );
    // a method is served unless the path answers it 405; ids are random and
    // bodies absent, so no probe changes anything
    let token = app.token("alice");
    let mut served = BTreeSet::new();
    for path in paths.iter().filter(|p| !p.starts_with(UNDOCUMENTED_PREFIX)) {
        for method in METHODS {
            let r = app
                .http
                .request(method.clone(), format!("{}{}", app.base, concrete(path)))
                .bearer_auth(&token)
                .send()
                .await
                .expect("probe sent");
            if r.status() != StatusCode::METHOD_NOT_ALLOWED {
                served.insert((method.to_string(), path.clone()));
            }
        }
    }
    let documented = core_api::spec::operations(&core_api::api::openapi());
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let not_served: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served but missing from the OpenAPI document (annotate the handler with \
         #[utoipa::path] and register it with routes!): {undocumented:?}"
    );
    assert!(
        not_served.is_empty(),
        "documented but not served: {not_served:?}"
    );
}

/// Every `"$ref": "#/…"` in `doc` points at something in it.
fn dangling_refs(doc: &Value) -> Vec<String> {
    fn walk(node: &Value, doc: &Value, out: &mut Vec<String>) {
        match node {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    let found = r.strip_prefix('#').and_then(|pointer| doc.pointer(pointer));
                    if found.is_none() {
                        out.push(r.clone());
                    }
                }
                map.values().for_each(|v| walk(v, doc, out));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, doc, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(doc, doc, &mut out);
    out
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.http
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .expect("request sent")
}

fn content_type(r: &reqwest::Response) -> String {
    r.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn openapi_json_is_a_3_1_document_of_the_api(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let r = get(&app, "/openapi.json").await;
    assert_eq!(r.status(), 200);
    assert!(content_type(&r).starts_with("application/json"));
    let doc: Value = r.json().await.expect("valid JSON");
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")),
        "openapi: {}",
        doc["openapi"]
    );
    assert_eq!(doc, serde_json::to_value(core_api::api::openapi()).unwrap());
    assert_eq!(dangling_refs(&doc), Vec::<String>::new());
    let bearer = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(
        (bearer["type"].as_str(), bearer["scheme"].as_str()),
        (Some("http"), Some("bearer"))
    );

    // every /api/v1 operation: the bearer token, and the envelope on each error
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            for (status, response) in responses {
                if status.as_str() >= "400" {
                    let schema = &response["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(
                        schema, "#/components/schemas/ErrorEnvelope",
                        "{method} {path} {status}"
                    );
                }
            }
            if path.starts_with("/api/v1/webhooks/") {
                // signed by TMS (`X-TMS-Signature`), no user token
                assert_eq!(op["security"], serde_json::json!([{}]), "{method} {path}");
            } else if path.starts_with("/api/v1/") {
                assert_eq!(
                    op["security"],
                    serde_json::json!([{ "bearer": [] }]),
                    "{method} {path}"
                );
                assert!(responses.contains_key("401"), "{method} {path}");
                assert!(
                    responses.keys().any(|s| s.starts_with('2')),
                    "{method} {path} documents no success"
                );
                checked += 1;
            } else {
                assert!(op.get("security").is_none(), "{method} {path} is public");
            }
        }
    }
    assert!(checked >= 25, "only {checked} /api/v1 operations");

    // the error codes: every one, with its status, in the ErrorCode schema
    let codes = &doc["components"]["schemas"]["ErrorCode"];
    let listed: BTreeSet<&str> = codes["enum"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let description = codes["description"].as_str().unwrap();
    for code in ErrorCode::ALL {
        assert!(
            listed.contains(code.as_str()),
            "{code} missing from the enum"
        );
        let row = format!("| `{}` | {} |", code.as_str(), code.http_status());
        assert!(description.contains(&row), "{row} missing from the table");
    }
    // a 401 shows every token code as an example
    let unauthorized = &doc["paths"]["/api/v1/auth/me"]["get"]["responses"]["401"];
    let examples = unauthorized["content"]["application/json"]["examples"]
        .as_object()
        .unwrap();
    assert!(examples.contains_key("TOKEN_EXPIRED") && examples.contains_key("TOKEN_MISSING"));
    // examples come from typed values
    let message = &doc["components"]["schemas"]["Message"]["examples"][0];
    serde_json::from_value::<shared_types::api::Message>(message.clone()).expect("a Message");
    // operation ids name client methods: one each
    let ids: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|op| op["operationId"].as_str().unwrap_or_default())
        .collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "operation ids repeat: {ids:?}");

    // real answers have exactly the documented envelope fields
    let schemas = &doc["components"]["schemas"];
    let fields = |schema: &str| -> BTreeSet<String> {
        let required = schemas[schema]["required"].as_array().unwrap();
        required
            .iter()
            .map(|f| f.as_str().unwrap().to_string())
            .collect()
    };
    let keys =
        |body: &Value| -> BTreeSet<String> { body.as_object().unwrap().keys().cloned().collect() };
    let me = app.get("/api/v1/auth/me", "alice").await;
    assert_eq!(keys(&me.body), fields("Data_Me"));
    let page = app.get("/api/v1/conversations", "alice").await;
    assert_eq!(keys(&page.body), fields("Page_ConversationSummary"));
    let error = app.get("/api/v1/conversations/not-a-uuid", "alice").await;
    assert_eq!(keys(&error.body), fields("ErrorEnvelope"));
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn viewers_are_served_from_local_assets(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for (page, expected) in [
        (
            "/docs",
            &[
                "/docs/assets/swagger-ui-bundle.js",
                "/docs/assets/swagger-ui.css",
                "/docs/assets/swagger-init.js",
            ][..],
        ),
        (
            "/redoc",
            &[
                "/docs/assets/redoc.standalone.js",
                "spec-url=\"/openapi.json\"",
            ][..],
        ),
    ] {
        let r = get(&app, page).await;
        assert_eq!(r.status(), 200, "{page}");
        assert!(content_type(&r).starts_with("text/html"), "{page}");
        let html = r.text().await.unwrap();
        for needle in expected {
            assert!(html.contains(needle), "{page} lacks {needle}: {html}");
        }
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{page} loads nothing from elsewhere"
        );
        // every file the page loads is served
        for reference in html
            .split(['"', '\''])
            .filter(|s| s.starts_with("/docs/assets/"))
        {
            let asset = get(&app, reference).await;
            assert_eq!(asset.status(), 200, "{reference}");
            let kind = content_type(&asset);
            assert!(
                kind.starts_with("text/javascript") || kind.starts_with("text/css"),
                "{reference}: {kind}"
            );
            assert!(!asset.bytes().await.unwrap().is_empty(), "{reference}");
        }
    }
    let init = get(&app, "/docs/assets/swagger-init.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(init.contains("url: \"/openapi.json\""), "{init}");
    let bundle = get(&app, "/docs/assets/swagger-ui-bundle.js")
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        &bundle[..],
        include_bytes!("../assets/swagger-ui/swagger-ui-bundle.js")
    );
    let r = get(&app, "/docs/assets/..%2F..%2FCargo.toml").await;
    assert_eq!(r.status(), 404);
    let r = TestApp::read(get(&app, "/docs/assets/nope.js").await).await;
    r.expect_error(404, "NOT_FOUND");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn asyncapi_json_documents_every_event(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let r = get(&app, "/asyncapi.json").await;
    assert_eq!(r.status(), 200);
    assert!(content_type(&r).starts_with("application/json"));
    let doc: Value = r.json().await.expect("valid JSON");
    assert_eq!(doc["asyncapi"], "3.0.0");
    assert_eq!(dangling_refs(&doc), Vec::<String>::new());
    for namespace in NAMESPACES {
        let channel = &doc["channels"][namespace.trim_start_matches('/')];
        assert_eq!(channel["address"], *namespace);
    }
    let operations = doc["operations"].as_object().unwrap();
    for event in client_events::ALL {
        let (_, op) = operations
            .iter()
            .find(|(key, op)| key.ends_with(&format!(".{event}")) && op["action"] == "receive")
            .unwrap_or_else(|| panic!("{event} is not documented"));
        let ack = op["reply"]["messages"][0]["$ref"].as_str().unwrap();
        assert!(ack.ends_with(&format!("{event}.ack")), "{event}: {ack}");
    }
    for event in server_events::ALL {
        assert!(
            operations
                .iter()
                .any(|(key, op)| key.ends_with(&format!(".{event}")) && op["action"] == "send"),
            "{event} is not documented"
        );
    }
    // the send ack carries the stored message's schema
    let send_ack = &doc["components"]["messages"]["messaging.send_message.ack"]["payload"];
    assert_eq!(
        send_ack["oneOf"][0]["properties"]["data"]["$ref"],
        "#/components/schemas/Message"
    );
}

#[test]
fn the_event_catalogue_names_every_event_constant() {
    let events = core_api::spec::events::all();
    let names: BTreeSet<&str> = events.iter().map(|e| e.name).collect();
    let constants: BTreeSet<&str> = client_events::ALL
        .iter()
        .chain(server_events::ALL)
        .copied()
        .collect();
    assert_eq!(names, constants);
}

#[test]
fn socket_events_page_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/socket-events.md");
    let generated = core_api::spec::events_markdown();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(path, &generated).expect("write docs/socket-events.md");
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/socket-events.md is stale: run UPDATE_DOCS=1 cargo test -p core-api --test docs"
    );
}
