//! JWT rules, end to end through `shared_auth::jwt::verify` with real signed tokens.

mod asymmetric;
mod fixtures;
mod hs256_and_claims;
mod lifetime;
