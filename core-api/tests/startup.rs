//! The binary refuses to start on bad configuration, naming every problem at once.

use std::process::Command;

#[test]
fn bad_configuration_is_named_in_one_message_and_exits_non_zero() {
    let out = Command::new(env!("CARGO_BIN_EXE_core-api"))
        .env_clear()
        .env("JWT_SECRET", "too-short-secret")
        .env("PORT", "not-a-port")
        .env("REDIS_URL", "http://wrong-scheme")
        .output()
        .expect("core-api runs");
    assert_eq!(out.status.code(), Some(2), "exit code");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for problem in [
        "DATABASE_URL: missing",
        "REDIS_URL: must be a redis/rediss URL",
        "TMS_API_URL: missing",
        "TMS_API_KEY: missing",
        "INTERNAL_API_SECRET: missing",
        "JWT_SECRET: must be at least 32 bytes",
        "PORT:",
    ] {
        assert!(stderr.contains(problem), "`{problem}` not in:\n{stderr}");
    }
    assert!(
        !stderr.contains("too-short-secret"),
        "secrets are never echoed:\n{stderr}"
    );
}
