//! What every surface shares over HTTP: the route registry with its access decisions
//! ([`routes`]), the CSRF-checked console form ([`csrf`]), cookies ([`cookies`]), and the
//! layers every answer passes through — security headers and request tracing ([`layers`]).

pub mod cookies;
pub mod csrf;
pub mod layers;
pub mod routes;
