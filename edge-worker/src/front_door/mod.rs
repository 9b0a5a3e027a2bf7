//! What the Worker decides about a request before any object or core sees it:
//! the Engine.IO route of a `/socket.io/` request and CORS. Pure, so `cargo test` covers it;
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

/// Where a `/socket.io/` request goes, by the Engine.IO rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineRoute {
    /// A new session on a WebSocket: any open shard of the location.
    WebSocket,
    /// The WebSocket that upgrades the polling session `sid`, on its gateway.
    Upgrade { gateway: String, sid: String },
    /// A new polling session (the handshake GET): any open shard.
    PollOpen,
    /// A GET or POST of the polling session `sid`, on its gateway.
    Poll { gateway: String, sid: String },
}

/// `Session ID unknown`, Engine.IO's error code 1 (also what a gateway
/// answers for a well-formed sid it does not hold).
pub const UNKNOWN_SID: HandshakeRefusal = HandshakeRefusal {
    code: 1,
    message: "Session ID unknown",
};

/// The largest polling POST body: the `maxPayload` the handshake advertises
/// (engine.io's `maxHttpBufferSize`), refused by its declared length before
/// it is read (`check_content_length`), or by its length once read.
pub const POLLING_MAX_BODY_BYTES: usize = shared_types::limits::MAX_WS_FRAME_BYTES;

/// Engine.IO's `Bad request`, code 3.
pub const BAD_REQUEST: HandshakeRefusal = HandshakeRefusal {
    code: 3,
    message: "Bad request",
};

/// Routes a `/socket.io/` request from its method, `EIO`, `transport`,
/// `sid` and `Upgrade` header, refusing it as the reference server would.
/// A `sid` is routed only when it could be one this edge issued
/// (`names::routable_gateway`).
pub fn route_engine_io(
    method: &str,
    eio: Option<&str>,
    transport: Option<&str>,
    sid: Option<&str>,
    upgrade_header: Option<&str>,
    max_shards: u32,
) -> Result<EngineRoute, HandshakeRefusal> {
    if eio != Some("4") {
        return Err(HandshakeRefusal {
            code: 5,
            message: "Unsupported protocol version",
        });
    }
    let session = match sid {
        None => None,
        Some(sid) => {
            let gateway =
                crate::gateway::names::routable_gateway(sid, max_shards).ok_or(UNKNOWN_SID)?;
            Some((gateway.to_owned(), sid.to_owned()))
        }
    };
    let websocket = upgrade_header.is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"));
    match transport {
        Some("websocket") if !websocket => Err(HandshakeRefusal {
            code: 3,
            message: "Bad request: expected a WebSocket upgrade",
        }),
        Some("websocket") if method != "GET" => Err(BAD_REQUEST),
        Some("websocket") => Ok(match session {
            None => EngineRoute::WebSocket,
            Some((gateway, sid)) => EngineRoute::Upgrade { gateway, sid },
        }),
        Some("polling") => match (method, session) {
            ("GET", None) => Ok(EngineRoute::PollOpen),
            (_, None) => Err(HandshakeRefusal {
                code: 2,
                message: "Bad handshake method",
            }),
            ("GET" | "POST", Some((gateway, sid))) => Ok(EngineRoute::Poll { gateway, sid }),
            (_, Some(_)) => Err(BAD_REQUEST),
        },
        _ => Err(HandshakeRefusal {
            code: 0,
            message: "Transport unknown",
        }),
    }
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

    const SID: &str = "local.2.0123456789abcdef0123456789abcdef";

    fn route(
        method: &str,
        transport: &str,
        sid: Option<&str>,
        upgrade: Option<&str>,
    ) -> Result<EngineRoute, HandshakeRefusal> {
        route_engine_io(method, Some("4"), Some(transport), sid, upgrade, 64)
    }

    #[test]
    fn websocket_sessions_and_upgrades_are_routed() {
        assert_eq!(
            route("GET", "websocket", None, Some("WebSocket")),
            Ok(EngineRoute::WebSocket)
        );
        assert_eq!(
            route("GET", "websocket", Some(SID), Some("websocket")),
            Ok(EngineRoute::Upgrade {
                gateway: "local.2".into(),
                sid: SID.into()
            })
        );
        assert_eq!(route("GET", "websocket", None, None).unwrap_err().code, 3);
        assert_eq!(
            route_engine_io(
                "GET",
                Some("3"),
                Some("websocket"),
                None,
                Some("websocket"),
                64
            )
            .unwrap_err()
            .code,
            5
        );
    }

    #[test]
    fn polling_handshakes_and_requests_are_routed() {
        assert_eq!(
            route("GET", "polling", None, None),
            Ok(EngineRoute::PollOpen)
        );
        let poll = Ok(EngineRoute::Poll {
            gateway: "local.2".into(),
            sid: SID.into(),
        });
        assert_eq!(route("GET", "polling", Some(SID), None), poll);
        assert_eq!(route("POST", "polling", Some(SID), None), poll);
        // the reference server's codes
        assert_eq!(route("POST", "polling", None, None).unwrap_err().code, 2);
        assert_eq!(
            route("PUT", "polling", Some(SID), None).unwrap_err(),
            BAD_REQUEST
        );
        assert_eq!(route("GET", "flashsocket", None, None).unwrap_err().code, 0);
        assert_eq!(
            route_engine_io("GET", None, Some("polling"), None, None, 64)
                .unwrap_err()
                .code,
            5
        );
    }

    #[test]
    fn a_polling_post_over_the_advertised_max_payload_is_refused_before_it_is_read() {
        let open = crate::gateway::polling::open_frame("s", Default::default());
        let advertised = format!("\"maxPayload\":{POLLING_MAX_BODY_BYTES}");
        assert!(open.contains(&advertised), "{open}");
        let at_limit = POLLING_MAX_BODY_BYTES.to_string();
        let over = (POLLING_MAX_BODY_BYTES + 1).to_string();
        let limit = POLLING_MAX_BODY_BYTES;
        assert_eq!(check_content_length(Some(&at_limit), limit), Ok(()));
        assert_eq!(
            check_content_length(Some(&over), limit),
            Err(BodyRefusal::TooLarge)
        );
    }

    #[test]
    fn a_sid_this_edge_could_not_have_issued_is_unknown() {
        for sid in [
            "x",
            "local.2.abc",
            "local.64.0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(route("GET", "polling", Some(sid), None), Err(UNKNOWN_SID));
            assert_eq!(
                route("GET", "websocket", Some(sid), Some("websocket")),
                Err(UNKNOWN_SID)
            );
        }
        assert_eq!(UNKNOWN_SID.message, "Session ID unknown");
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
