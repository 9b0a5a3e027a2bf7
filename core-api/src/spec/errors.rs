//! The error envelope in the document: its schema, what each `ErrorCode`
//! means and which status carries it, and the error responses every
//! operation shares. Everything is derived from `ErrorCode::ALL`, so a new
//! code shows up here (and `meaning` refuses to compile until it has one).

use std::collections::BTreeMap;

use serde_json::json;
use shared_types::ErrorCode;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{Components, Ref, RefOr, Response, ResponseBuilder};

pub const ERROR_ENVELOPE: &str = "ErrorEnvelope";

/// Every `/api/v1` operation may answer these, whatever the route.
const AUTHENTICATED: &[(u16, &str)] = &[
    (401, "Missing or invalid token; `error.code` says why"),
    (
        500,
        "Unexpected failure (logged here, never detailed to the client)",
    ),
    (
        429,
        "`RATE_LIMITED`: over the per-user API limit; retry after `Retry-After`",
    ),
    (
        503,
        "Postgres, Redis or TMS is down; retry after `Retry-After` when given",
    ),
];

/// Operations with a JSON body.
const WITH_BODY: &[(u16, &str)] = &[
    (400, "The body is not valid JSON"),
    (413, "The body is over 256 KiB"),
    (415, "The body is not `application/json`"),
    (
        422,
        "A field is missing, of the wrong type or breaks a rule",
    ),
];

/// Operations with path or query parameters.
const WITH_PARAMS: &[(u16, &str)] = &[(422, "A parameter is not valid")];

/// What a code means, for the `ErrorCode` schema's table.
pub fn meaning(code: ErrorCode) -> &'static str {
    use ErrorCode::*;
    match code {
        BadRequest => "The request cannot be read (other than bad JSON)",
        InvalidJson => "The body is not valid JSON",
        ValidationError => "Input parses but breaks a rule; `message` names the field",
        TokenMissing => "No bearer token",
        TokenMalformed => "The token is not a well-formed JWT",
        TokenAlgorithmNotAllowed => "`alg` is `none` or not the one configured for the key",
        TokenSignatureInvalid => "The signature does not verify",
        TokenExpired => "`exp` has passed (beyond a small leeway)",
        TokenNotYetValid => "`nbf` is in the future",
        TokenLifetimeTooLong => "`exp - iat` is over `JWT_MAX_LIFETIME_SECS`",
        TokenIssuerInvalid => "`iss` is not the configured issuer",
        TokenAudienceInvalid => "`aud` is not the configured audience",
        TokenSubjectMissing => "The user-id claim is missing or empty",
        TokenUnknownKey => "`kid` is not in the TMS JWKS, even after a refetch",
        TokenRevoked => "The token's user was deleted in TMS",
        InternalAuthFailed => "The edge's signed identity did not verify",
        Forbidden => "Authenticated but not allowed (not a member, not the owner…)",
        NotFound => "No such resource, or no such route",
        MethodNotAllowed => "The route does not take this method",
        Conflict => "The resource's state forbids it (a closed poll, a deleted message…)",
        PayloadTooLarge => "The body is over 256 KiB",
        UnsupportedMediaType => "The body is not `application/json`",
        UnknownUser => "TMS does not know a user id; `details.unknown_ids` lists them",
        Unprocessable => {
            "The request contradicts stored data (a reply to another conversation's message…)"
        }
        SyncCursorExpired => {
            "`GET /sync`: the cursor is older than the feed keeps changes; reload lists and messages"
        }
        RateLimited => "Too many requests; retry after `Retry-After`",
        TooManySockets => "Socket CONNECT only: the user already holds `MAX_SOCKETS_PER_USER` sockets on this gateway",
        InternalError => "Unexpected failure",
        TmsUnavailable => "TMS is unreachable and no cached copy can answer",
        ServiceUnavailable => "Not ready, or a part of the system is unavailable; retry later",
        EdgeUnavailable => "Core could not reach the edge",
        CoreUnavailable => "The edge could not reach core in time",
        CacheUnavailable => "Redis is down and the answer needs it; retry after `Retry-After`",
        DatabaseUnavailable => {
            "Postgres is down or its pool is exhausted; retry after `Retry-After`"
        }
        WebhookSignatureInvalid => {
            "`X-TMS-Signature` is missing, wrong, older than 5 minutes or replayed"
        }
        Busy => "The caller, or every callee, is already in a call; `details.busy_user_ids`",
        StorageNotConfigured => "File storage (OSS) is not configured on this server",
    }
}

/// `ErrorEnvelope` into the components, and the code table into `ErrorCode`'s description.
pub fn add_schemas(components: &mut Components) {
    let envelope = ObjectBuilder::new()
        .description(Some(
            "Every failure: `success` false, `data` null, `error` says what went wrong.",
        ))
        .property(
            "success",
            ObjectBuilder::new()
                .schema_type(Type::Boolean)
                .enum_values(Some([false])),
        )
        .required("success")
        .property("data", ObjectBuilder::new().schema_type(Type::Null))
        .required("data")
        .property("error", Ref::from_schema_name("ApiErrorBody"))
        .required("error")
        .build();
    components
        .schemas
        .insert(ERROR_ENVELOPE.into(), RefOr::T(Schema::Object(envelope)));
    describe_codes(&mut components.schemas);
    for code in ErrorCode::ALL {
        let value = json!({
            "success": false,
            "data": null,
            "error": { "code": code, "message": meaning(*code), "details": null },
        });
        let example = ExampleBuilder::new()
            .summary(code.as_str())
            .value(Some(value))
            .build();
        components
            .examples
            .insert(code.as_str().into(), RefOr::T(example));
    }
}

/// The table of codes, statuses and meanings, as `ErrorCode`'s description.
pub fn describe_codes(schemas: &mut BTreeMap<String, RefOr<Schema>>) {
    if let Some(RefOr::T(Schema::Object(code))) = schemas.get_mut("ErrorCode") {
        code.description = Some(code_table());
    }
}

fn code_table() -> String {
    let mut table = String::from(
        "`error.code` of the envelope and of Socket.IO ack errors; the HTTP status follows from it.\n\n\
         | code | status | meaning |\n|---|---|---|\n",
    );
    for code in ErrorCode::ALL {
        table.push_str(&format!(
            "| `{}` | {} | {} |\n",
            code.as_str(),
            code.http_status(),
            meaning(*code)
        ));
    }
    table
}

/// Adds the shared error responses an operation lacks, then gives every
/// error response the envelope with one example per code of its status.
pub fn complete(operation: &mut Operation, authenticated: bool) {
    let has_body = operation.request_body.is_some();
    let has_params = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let mut shared: Vec<(u16, &str)> = Vec::new();
    if authenticated {
        shared.extend(AUTHENTICATED);
        if has_body {
            shared.extend(WITH_BODY);
        }
        if has_params {
            shared.extend(WITH_PARAMS);
        }
    }
    let responses = &mut operation.responses.responses;
    for (status, description) in shared {
        responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::T(ResponseBuilder::new().description(description).build()));
    }
    for (status, response) in responses.iter_mut() {
        let (Ok(status), RefOr::T(response)) = (status.parse::<u16>(), response) else {
            continue;
        };
        if status >= 400 && response.content.is_empty() {
            fill(response, status);
        }
    }
}

fn fill(response: &mut Response, status: u16) {
    // one shared example per code, referenced from every response of its status
    let examples = ErrorCode::ALL
        .iter()
        .filter(|c| c.http_status() == status)
        .map(|code| {
            let example = Ref::new(format!("#/components/examples/{}", code.as_str()));
            (code.as_str(), RefOr::Ref(example))
        });
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(ERROR_ENVELOPE)))
        .examples_from_iter(examples)
        .build();
    response
        .content
        .insert("application/json".into(), RefOr::T(content));
    if status == 503 || status == 429 {
        let header = HeaderBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
            .description(Some("Seconds to wait before retrying, when known"))
            .build();
        response
            .headers
            .insert("Retry-After".into(), RefOr::T(header));
    }
}
