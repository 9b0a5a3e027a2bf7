//! core-api: persistence, fan-out and TMS integration for the team-messaging backend.

pub mod api;
pub mod auth;
pub mod cache;
pub mod clock;
pub mod config;
pub mod error;
pub mod extract;
pub mod fanout;
pub mod group_commit;
pub mod internal;
pub mod metrics;
pub mod models;
pub mod offline_push;
pub mod oss;
pub mod rate_limit;
pub mod receipt_queue;
pub mod repositories;
pub mod send_queue;
pub mod services;
pub mod spec;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod tms;

pub use startup::{build, build_with_pool, Application};
