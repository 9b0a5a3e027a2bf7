//! HTTP routes of the stand-in. Errors are `{"error": "..."}` like a plain
//! upstream service, not core's envelope: core must translate, not forward.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use shared_types::api::{BatchUsers, UserProfile};
use tower::Layer;
use tower_http::cors::CorsLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::controls::Route;
use crate::tokens::{TokenAlg, TokenError, TokenRequest};
use crate::StandIn;

/// Header carrying the API key on the user routes.
pub const API_KEY_HEADER: &str = "x-api-key";
/// Most ids one `POST /users/batch` may ask for.
pub const MAX_BATCH_IDS: usize = 500;

/// The stand-in's routes over `state`.
pub fn router(state: StandIn) -> Router {
    // The browser demo, served by the edge on another origin, fetches its
    // tokens here: the dev-token routes allow any origin. Dev only — a real
    // TMS issues tokens its own way; the other routes stay without CORS.
    // The layer wraps the nested router whole, so it answers preflights
    // before method routing would refuse OPTIONS.
    let dev_tokens = CorsLayer::permissive().layer(
        Router::new()
            .route("/token", post(dev_token))
            .route("/token/{sub}", get(dev_token_for))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .with_state(state.clone()),
    );
    Router::new()
        .route("/health", get(health))
        .route("/users/batch", post(users_batch))
        .route("/users/{id}", get(user))
        .route("/.well-known/jwks.json", get(jwks))
        .nest_service("/dev", dev_tokens)
        .route("/__control/outage", post(control_outage))
        .route("/__control/stats", get(control_stats))
        .route("/__control/users", post(control_add_user))
        .route(
            "/__control/users/{id}",
            put(crate::webhooks::update_user).delete(crate::webhooks::delete_user),
        )
        .route("/__control/rotate-keys", post(control_rotate_keys))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(state)
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not found")
}

async fn method_not_allowed() -> Response {
    error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
}

pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

pub(crate) fn bad_json(rejection: JsonRejection) -> Response {
    error(StatusCode::BAD_REQUEST, rejection.body_text())
}

/// Counts the request, applies the delay and the outage switch, then checks
/// the API key when `headers` are given. `Some(response)` rejects.
async fn reject(state: &StandIn, route: Route, headers: Option<&HeaderMap>) -> Option<Response> {
    let controls = state.controls();
    controls.count(route);
    let delay = controls.delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if controls.is_down() {
        return Some(error(StatusCode::SERVICE_UNAVAILABLE, "unavailable"));
    }
    let headers = headers?;
    let given = headers
        .get(API_KEY_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if constant_time_eq(given, state.config().api_key.as_bytes()) {
        None
    } else {
        Some(error(StatusCode::UNAUTHORIZED, "unauthorized"))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `GET /health`
async fn health(State(state): State<StandIn>) -> Response {
    if let Some(resp) = reject(&state, Route::Health, None).await {
        return resp;
    }
    Json(json!({ "status": "ok" })).into_response()
}

/// `GET /users/{id}`
async fn user(
    State(state): State<StandIn>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(resp) = reject(&state, Route::User, Some(&headers)).await {
        return resp;
    }
    match state.controls().user(&id) {
        Some(profile) => Json(profile).into_response(),
        None => error(StatusCode::NOT_FOUND, "not found"),
    }
}

/// `POST /users/batch` `{"ids":[...]}` → `{"users":[...]}`
async fn users_batch(
    State(state): State<StandIn>,
    headers: HeaderMap,
    body: Result<Json<BatchUsers>, JsonRejection>,
) -> Response {
    if let Some(resp) = reject(&state, Route::UsersBatch, Some(&headers)).await {
        return resp;
    }
    let Json(BatchUsers { ids }) = match body {
        Ok(body) => body,
        Err(rejection) => return bad_json(rejection),
    };
    state.controls().count_batch_ids(ids.len());
    if ids.len() > MAX_BATCH_IDS {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "at most {MAX_BATCH_IDS} ids per request (got {})",
                ids.len()
            ),
        );
    }
    let users = state.controls().users(&ids);
    Json(json!({ "users": users })).into_response()
}

/// `GET /.well-known/jwks.json`
async fn jwks(State(state): State<StandIn>) -> Response {
    state.controls().count(Route::Jwks);
    Json(state.jwks()).into_response()
}

fn token_response(state: &StandIn, req: &TokenRequest) -> Response {
    match state.issue_token(req) {
        Ok(issued) => Json(issued).into_response(),
        Err(TokenError::UnknownUser(_)) => error(
            StatusCode::NOT_FOUND,
            "unknown user (pass \"allow_unknown\": true to issue anyway)",
        ),
        Err(TokenError::Signing(e)) => {
            tracing::error!(error = %e, "token signing failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, "signing failed")
        }
    }
}

/// `POST /dev/token` `{"sub","alg"?,"ttl_secs"?,"extra"?,"allow_unknown"?,"kid"?}`
async fn dev_token(
    State(state): State<StandIn>,
    body: Result<Json<TokenRequest>, JsonRejection>,
) -> Response {
    state.controls().count(Route::DevToken);
    match body {
        Ok(Json(req)) => token_response(&state, &req),
        Err(rejection) => bad_json(rejection),
    }
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    #[serde(default)]
    alg: TokenAlg,
    ttl_secs: Option<i64>,
    /// `text`: answer the bare token as text/plain, for `TOKEN=$(curl …)`.
    format: Option<String>,
}

/// `GET /dev/token/{sub}?alg=&ttl_secs=&format=text` (HS256, one hour by default)
async fn dev_token_for(
    State(state): State<StandIn>,
    Path(sub): Path<String>,
    query: Result<Query<TokenQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    state.controls().count(Route::DevToken);
    let Query(query) = match query {
        Ok(q) => q,
        Err(rejection) => return error(StatusCode::BAD_REQUEST, rejection.body_text()),
    };
    let mut req = TokenRequest::new(sub).alg(query.alg);
    if let Some(ttl) = query.ttl_secs {
        req = req.ttl_secs(ttl);
    }
    if query.format.as_deref() == Some("text") {
        return match state.issue_token(&req) {
            Ok(issued) => issued.token.into_response(),
            Err(_) => token_response(&state, &req),
        };
    }
    token_response(&state, &req)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Outage {
    down: bool,
    #[serde(default)]
    delay_ms: Option<u64>,
}

/// `POST /__control/outage` `{"down":bool,"delay_ms"?:u64}`
async fn control_outage(
    State(state): State<StandIn>,
    body: Result<Json<Outage>, JsonRejection>,
) -> Response {
    let Json(outage) = match body {
        Ok(body) => body,
        Err(rejection) => return bad_json(rejection),
    };
    let controls = state.controls();
    controls.set_down(outage.down);
    if let Some(ms) = outage.delay_ms {
        controls.set_delay(std::time::Duration::from_millis(ms));
    }
    tracing::info!(down = outage.down, delay_ms = ?outage.delay_ms, "outage switch");
    Json(controls.stats()).into_response()
}

/// `GET /__control/stats`
async fn control_stats(State(state): State<StandIn>) -> Response {
    Json(state.controls().stats()).into_response()
}

/// `POST /__control/users` with a profile: adds (or replaces) a user.
async fn control_add_user(
    State(state): State<StandIn>,
    body: Result<Json<UserProfile>, JsonRejection>,
) -> Response {
    match body {
        Ok(Json(profile)) if !profile.id.is_empty() => {
            state.controls().add_user(profile.clone());
            (StatusCode::CREATED, Json(profile)).into_response()
        }
        Ok(_) => error(StatusCode::BAD_REQUEST, "id must not be empty"),
        Err(rejection) => bad_json(rejection),
    }
}

/// `POST /__control/rotate-keys`: new RS256/ES256 keys; old ones stay in the JWKS.
async fn control_rotate_keys(State(state): State<StandIn>) -> Response {
    let rotating = state.clone();
    match tokio::task::spawn_blocking(move || rotating.rotate_keys()).await {
        Ok(kids) => Json(json!({ "rs256_kid": kids.0, "es256_kid": kids.1 })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "key rotation failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, "key rotation failed")
        }
    }
}
