//! What the Worker decides about a request before any object or core sees it:
//! the Socket.IO handshake query and CORS. Pure, so `cargo test` covers it;
//! `glue` only reads the request and writes the answer.

pub mod fanout;
#[cfg(target_arch = "wasm32")]
mod glue;

use shared_types::origins::AllowedOrigins;

/// Engine.IO's own refusal of a handshake: HTTP 400 with `{code, message}`,
/// which the official clients surface in `connect_error` (for a polling
/// request, `err.context.responseText`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeRefusal {
    pub code: u8,
    pub message: &'static str,
}

/// Polling is refused in words a developer can act on: the default `io(url)`
/// starts with HTTP long-polling, which this edge does not serve (a held poll
/// would keep a gateway object awake and billed; every official client can
/// start on the WebSocket directly).
pub const POLLING_REFUSED: &str = "Transport unknown: this server speaks WebSocket only. \
Connect with io(url, { transports: [\"websocket\"] }).";

/// Checks `EIO`, `transport` and the `Upgrade` header of a `/socket.io/` request.
pub fn check_handshake(
    eio: Option<&str>,
    transport: Option<&str>,
    upgrade_header: Option<&str>,
) -> Result<(), HandshakeRefusal> {
    if eio != Some("4") {
        return Err(HandshakeRefusal {
            code: 5,
            message: "Unsupported protocol version",
        });
    }
    if transport != Some("websocket") {
        return Err(HandshakeRefusal {
            code: 0,
            message: POLLING_REFUSED,
        });
    }
    if !upgrade_header.is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket")) {
        return Err(HandshakeRefusal {
            code: 3,
            message: "Bad request: expected a WebSocket upgrade",
        });
    }
    Ok(())
}

/// The CORS verdict on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cors {
    /// No `Origin` header: not a browser's cross-origin request; nothing to add.
    NoOrigin,
    /// The origin may proceed; answer with these headers.
    Allowed(Vec<(&'static str, String)>),
    /// The origin is not in `ALLOWED_ORIGINS`: 403, and no CORS headers.
    Refused,
}

/// Methods the API serves, announced in preflight answers.
const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
/// Request headers a browser client may send.
const ALLOWED_HEADERS: &str = "authorization, content-type, x-request-id";
/// Response headers a browser client may read besides the simple ones.
const EXPOSED_HEADERS: &str =
    "retry-after, x-request-id, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset";
/// How long a browser may cache a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE_SECS: u32 = 600;

/// The verdict for a request from `origin` to a server at `own_origin`
/// (a page served by the edge itself is always allowed). `preflight` adds
/// the method, header and max-age answers of an `OPTIONS` preflight.
pub fn cors(
    allowed: &AllowedOrigins,
    own_origin: &str,
    origin: Option<&str>,
    preflight: bool,
) -> Cors {
    let Some(origin) = origin.map(str::trim).filter(|o| !o.is_empty()) else {
        return Cors::NoOrigin;
    };
    if !(origin.eq_ignore_ascii_case(own_origin) || allowed.allows(origin)) {
        return Cors::Refused;
    }
    let mut headers = vec![
        ("access-control-allow-origin", origin.to_string()),
        ("vary", "Origin".to_string()),
    ];
    if preflight {
        headers.push(("access-control-allow-methods", ALLOWED_METHODS.to_string()));
        headers.push(("access-control-allow-headers", ALLOWED_HEADERS.to_string()));
        headers.push(("access-control-max-age", PREFLIGHT_MAX_AGE_SECS.to_string()));
    } else {
        headers.push(("access-control-expose-headers", EXPOSED_HEADERS.to_string()));
    }
    Cors::Allowed(headers)
}

/// Why a body is refused before it is read: a declared `Content-Length`
/// over `limit` (or one that is not a number) costs nothing to refuse, while
/// reading it first would hold up to the platform's limit in memory. A body
/// without the header (chunked) is read and measured after.
pub fn check_content_length(header: Option<&str>, limit: usize) -> Result<(), BodyRefusal> {
    let Some(value) = header else {
        return Ok(());
    };
    match value.trim().parse::<u64>() {
        Ok(n) if n <= limit as u64 => Ok(()),
        Ok(_) => Err(BodyRefusal::TooLarge),
        Err(_) => Err(BodyRefusal::BadLength),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRefusal {
    /// 413 PAYLOAD_TOO_LARGE
    TooLarge,
    /// 400 BAD_REQUEST
    BadLength,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_is_checked_before_the_body_is_read() {
        assert_eq!(check_content_length(None, 10), Ok(()));
        assert_eq!(check_content_length(Some("10"), 10), Ok(()));
        assert_eq!(check_content_length(Some(" 0 "), 10), Ok(()));
        assert_eq!(
            check_content_length(Some("11"), 10),
            Err(BodyRefusal::TooLarge)
        );
        assert_eq!(
            check_content_length(Some("99999999999999999999999"), 10),
            Err(BodyRefusal::BadLength)
        );
        assert_eq!(
            check_content_length(Some("-1"), 10),
            Err(BodyRefusal::BadLength)
        );
    }

    #[test]
    fn handshake_accepts_only_engine_io_4_websocket_upgrades() {
        assert_eq!(
            check_handshake(Some("4"), Some("websocket"), Some("WebSocket")),
            Ok(())
        );
        assert_eq!(
            check_handshake(Some("3"), Some("websocket"), Some("websocket"))
                .unwrap_err()
                .code,
            5
        );
        let polling = check_handshake(Some("4"), Some("polling"), None).unwrap_err();
        assert_eq!(polling.code, 0);
        assert!(polling.message.contains("transports: [\"websocket\"]"));
        assert!(polling.message.starts_with("Transport unknown"));
        assert_eq!(
            check_handshake(Some("4"), Some("websocket"), None)
                .unwrap_err()
                .code,
            3
        );
    }

    fn list() -> AllowedOrigins {
        AllowedOrigins::parse("https://app.example.com").unwrap()
    }

    fn header<'a>(verdict: &'a Cors, name: &str) -> Option<&'a str> {
        match verdict {
            Cors::Allowed(h) => h.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str()),
            _ => None,
        }
    }

    #[test]
    fn a_listed_origin_is_echoed_with_vary() {
        let v = cors(
            &list(),
            "https://edge.test",
            Some("https://app.example.com"),
            false,
        );
        assert_eq!(
            header(&v, "access-control-allow-origin"),
            Some("https://app.example.com")
        );
        assert_eq!(header(&v, "vary"), Some("Origin"));
        assert!(header(&v, "access-control-expose-headers")
            .unwrap()
            .contains("retry-after"));
        assert_eq!(header(&v, "access-control-allow-methods"), None);
    }

    #[test]
    fn a_preflight_names_methods_headers_and_max_age() {
        let v = cors(
            &list(),
            "https://edge.test",
            Some("https://app.example.com"),
            true,
        );
        assert!(header(&v, "access-control-allow-methods")
            .unwrap()
            .contains("PATCH"));
        assert!(header(&v, "access-control-allow-headers")
            .unwrap()
            .contains("authorization"));
        assert_eq!(header(&v, "access-control-max-age"), Some("600"));
    }

    #[test]
    fn other_origins_are_refused_but_the_edge_itself_and_non_browsers_pass() {
        assert_eq!(
            cors(
                &list(),
                "https://edge.test",
                Some("https://evil.test"),
                true
            ),
            Cors::Refused
        );
        assert!(matches!(
            cors(
                &list(),
                "https://edge.test",
                Some("https://edge.test"),
                false
            ),
            Cors::Allowed(_)
        ));
        assert_eq!(
            cors(&list(), "https://edge.test", None, false),
            Cors::NoOrigin
        );
        let none = AllowedOrigins::default();
        assert_eq!(
            cors(
                &none,
                "https://edge.test",
                Some("https://app.example.com"),
                false
            ),
            Cors::Refused
        );
    }
}
