//! The Worker's configuration from its bindings: `common::config` holds the
//! rules; this reads the `Env` and caches the result per isolate.

use std::cell::RefCell;
use std::rc::Rc;

use worker::Env;

pub use crate::common::config::EdgeConfig;

/// A binding as a string, whether declared as a var or a secret.
fn binding(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()
}

thread_local! {
    static CACHED: RefCell<Option<Rc<EdgeConfig>>> = const { RefCell::new(None) };
}

impl EdgeConfig {
    /// The isolate's configuration once read (for background tasks).
    pub fn cached() -> Option<Rc<Self>> {
        CACHED.with(|c| c.borrow().clone())
    }

    /// The configuration, read from the bindings once per isolate (a
    /// deployment's bindings do not change while its isolate lives; reading
    /// them took a few per cent of the CPU under load). A misconfiguration is
    /// read again on every call, so each use logs it and refuses to serve.
    pub fn from_env(env: &Env) -> Result<Rc<Self>, String> {
        if let Some(config) = CACHED.with(|c| c.borrow().clone()) {
            return Ok(config);
        }
        let config = Rc::new(Self::read(&|name| binding(env, name))?);
        CACHED.with(|c| *c.borrow_mut() = Some(Rc::clone(&config)));
        Ok(config)
    }
}
