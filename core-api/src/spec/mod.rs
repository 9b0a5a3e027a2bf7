//! The API documents: OpenAPI 3.1 for REST, from the routes' `#[utoipa::path]`
//! annotations and the shared types' schemas, and AsyncAPI 3.0 for the
//! Socket.IO events, from the same schemas. What holds for every operation
//! (the bearer token, the error envelope and its codes) is added here once
//! rather than written on each route.

mod asyncapi;
mod envelopes;
mod errors;
pub mod events;
mod examples;

use std::collections::BTreeSet;

use shared_types::{ApiErrorBody, ErrorCode, Pagination};
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, RefOr};
use utoipa::OpenApi;

pub use asyncapi::{asyncapi, events_markdown};
pub use envelopes::{Data, List, Page};

/// The security scheme's name in the document.
pub const BEARER: &str = "bearer";

const DESCRIPTION: &str = "\
The REST API of teamchat's core. Clients usually call it through the edge \
(`https://<edge>/api/v1/…`), which verifies the token and forwards the call; \
core also accepts the token directly.

**Authentication.** Every `/api/v1` route needs `Authorization: Bearer <TMS JWT>` \
(HS256, or RS256/ES256 with keys from the TMS JWKS). The user is the token's \
user-id claim (`sub` by default).

**Envelope.** Every answer is `{\"success\", \"data\", \"error\"}`: on success \
`data` holds the result and `error` is null; on failure `data` is null and \
`error` is `{code, message, details}` (see `ErrorCode` for every code and its \
status). Lists add `pagination: {next_cursor, has_more}`: pass `next_cursor` \
back as `?cursor=` while `has_more`.

**Live events** travel over Socket.IO (namespaces `/messaging`, `/calls`, \
`/notifications`); they are described by the AsyncAPI document at \
[`/asyncapi.json`](/asyncapi.json), built from the same schemas.";

#[derive(OpenApi)]
#[openapi(
    info(title = "teamchat core API", version = env!("CARGO_PKG_VERSION")),
    tags(
        (name = "auth", description = "The caller"),
        (name = "users", description = "TMS profiles, through the cache"),
        (name = "conversations", description = "DMs and groups, their members and roles"),
        (name = "messages", description = "Send, list and catch up, edit, delete, receipts"),
        (name = "polls", description = "Polls, posted as messages of type `poll`"),
        (name = "reactions", description = "Emoji reactions on messages"),
        (name = "presence", description = "Who is online"),
        (name = "sync", description = "The change feed: every change since a cursor"),
        (name = "health", description = "Liveness and readiness, without authentication"),
        (name = "docs", description = "These documents and their viewers"),
    ),
    components(schemas(ApiErrorBody, ErrorCode, Pagination))
)]
pub struct ApiDoc;

/// Completes the document of the routes the app serves (`api::openapi`
/// builds it from `api::public_routes`): description, the envelope, every
/// error code with its examples, the typed examples and the bearer scheme.
pub fn complete(doc: &mut Document) {
    doc.info.description = Some(DESCRIPTION.into());
    // utoipa copies the crate's (empty) license, which is not a valid License object
    doc.info.license = None;
    let components = doc.components.get_or_insert_with(Default::default);
    envelopes::reference_data(components);
    errors::add_schemas(components);
    examples::attach(components);
    components.security_schemes.insert(
        BEARER.into(),
        RefOr::T(SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some(
                    "A TMS JWT. The edge verifies it and forwards the call with a signed identity; \
                     core running alone verifies it itself.",
                ))
                .build(),
        )),
    );
    for (path, item) in doc.paths.paths.iter_mut() {
        // the TMS webhook is signed by TMS, not by a user
        let authenticated = path.starts_with("/api/v1/") && !path.starts_with("/api/v1/webhooks/");
        for operation in operations_mut(item) {
            if authenticated {
                operation.security =
                    Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
            }
            errors::complete(operation, authenticated);
        }
    }
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

/// `(METHOD, path)` of every operation in the document.
pub fn operations(doc: &Document) -> BTreeSet<(String, String)> {
    let mut all = BTreeSet::new();
    for (path, item) in &doc.paths.paths {
        let methods = [
            ("GET", &item.get),
            ("PUT", &item.put),
            ("POST", &item.post),
            ("DELETE", &item.delete),
            ("OPTIONS", &item.options),
            ("HEAD", &item.head),
            ("PATCH", &item.patch),
            ("TRACE", &item.trace),
        ];
        for (method, operation) in methods {
            if operation.is_some() {
                all.insert((method.to_string(), path.clone()));
            }
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_has_its_schema_in_a_document() {
        let rest = crate::api::openapi().components.unwrap_or_default();
        let mut missing = examples::attach(&mut rest.clone());
        let events = asyncapi();
        missing.retain(|name| events["components"]["schemas"].get(name).is_none());
        assert!(missing.is_empty(), "examples of no schema: {missing:?}");
        let message = serde_json::to_value(&rest.schemas["Message"]).unwrap_or_default();
        assert!(message["examples"][0].is_object(), "{message}");
    }
}
