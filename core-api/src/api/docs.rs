//! The API documents and their viewers: `/openapi.json`, `/asyncapi.json`,
//! Swagger UI at `/docs` and ReDoc at `/redoc`. The viewers' scripts are
//! vendored in `core-api/assets/` (versions and licenses in its README) and
//! compiled in, so neither the build nor the browser fetches anything.

use std::sync::LazyLock;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{Html, IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{AppError, AppResult};
use crate::extract::Path;
use crate::state::AppState;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const JS: &str = "text/javascript; charset=utf-8";

const ASSETS: &[Asset] = &[
    Asset {
        name: "swagger-ui-bundle.js",
        content_type: JS,
        body: include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js"),
    },
    Asset {
        name: "swagger-ui.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../assets/swagger-ui/swagger-ui.css"),
    },
    Asset {
        name: "swagger-init.js",
        content_type: JS,
        body: SWAGGER_INIT.as_bytes(),
    },
    Asset {
        name: "redoc.standalone.js",
        content_type: JS,
        body: include_bytes!("../../assets/redoc/redoc.standalone.js"),
    },
];

/// In a file of its own rather than inline, so a strict CSP can allow `'self'` only.
const SWAGGER_INIT: &str = r##"window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
"##;

const SWAGGER_PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>teamchat core API · Swagger UI</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/swagger-init.js"></script>
</body>
</html>
"##;

const REDOC_PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>teamchat core API · ReDoc</title>
</head>
<body>
  <redoc spec-url="/openapi.json"></redoc>
  <script src="/docs/assets/redoc.standalone.js"></script>
</body>
</html>
"##;

// Built once, from the same routes the app serves.
static OPENAPI: LazyLock<String> =
    LazyLock::new(|| serde_json::to_string(&super::openapi()).unwrap_or_default());
static ASYNCAPI: LazyLock<String> =
    LazyLock::new(|| serde_json::to_string(&crate::spec::asyncapi()).unwrap_or_default());

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(openapi_json))
        .routes(routes!(asyncapi_json))
        .routes(routes!(swagger_ui))
        .routes(routes!(redoc))
        .routes(routes!(asset))
}

fn json(body: &'static str) -> Response {
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}

/// This document (OpenAPI 3.1)
#[utoipa::path(
    get, path = "/openapi.json", operation_id = "getOpenApi", tag = "docs",
    responses(
        (status = 200, description = "The OpenAPI document", body = serde_json::Value),
    ),
)]
async fn openapi_json() -> Response {
    json(OPENAPI.as_str())
}

/// The Socket.IO events (AsyncAPI 3.0)
///
/// Namespaces, events with their payloads and ack shapes, from the same
/// schemas as this document; `docs/socket-events.md` is the same as a page.
#[utoipa::path(
    get, path = "/asyncapi.json", operation_id = "getAsyncApi", tag = "docs",
    responses(
        (status = 200, description = "The AsyncAPI document", body = serde_json::Value),
    ),
)]
async fn asyncapi_json() -> Response {
    json(ASYNCAPI.as_str())
}

/// Swagger UI
#[utoipa::path(
    get, path = "/docs", operation_id = "swaggerUi", tag = "docs",
    responses(
        (status = 200, description = "An HTML page", content_type = "text/html", body = String),
    ),
)]
async fn swagger_ui() -> Html<&'static str> {
    Html(SWAGGER_PAGE)
}

/// ReDoc
#[utoipa::path(
    get, path = "/redoc", operation_id = "redoc", tag = "docs",
    responses(
        (status = 200, description = "An HTML page", content_type = "text/html", body = String),
    ),
)]
async fn redoc() -> Html<&'static str> {
    Html(REDOC_PAGE)
}

/// A file of the viewers
#[utoipa::path(
    get, path = "/docs/assets/{file}", operation_id = "getDocsAsset", tag = "docs",
    params(
        ("file" = String, Path, description = "`swagger-ui-bundle.js`, `swagger-ui.css`, `swagger-init.js` or `redoc.standalone.js`"),
    ),
    responses(
        (status = 200, description = "The file (JavaScript or CSS)", body = String),
        (status = 404, description = "No such file"),
    ),
)]
async fn asset(Path(file): Path<String>) -> AppResult<Response> {
    let asset = ASSETS
        .iter()
        .find(|a| a.name == file)
        .ok_or_else(|| AppError::not_found("asset"))?;
    Ok((
        [
            (CONTENT_TYPE, asset.content_type),
            // the files change only with a new build
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        asset.body,
    )
        .into_response())
}
