//! The Workers runtime helpers every object's glue uses (wasm32 only): the
//! configuration from the bindings, HTTP with timeouts, signed calls to
//! core, TMS JWT verification with the JWKS cache, and object stubs.

pub mod auth;
pub mod config;
pub mod core_client;
pub mod deny_list;
pub mod http;
pub mod objects;
