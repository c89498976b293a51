//! The Rust front: an HTTP server (hyper and tokio) that answers hot routes with native
//! entry points itself, with no Python and no GIL, and proxies everything else to
//! gunicorn on a private Unix socket, buffering each request first.
//!
//! Started by `flask rustpath serve` through [`run`], which blocks until `SIGTERM` or
//! `SIGINT` and a graceful drain (`SIGHUP` reloads the app behind it). The route
//! table and every setting come from the Python side as a [`Config`]: the front
//! parses no `RUSTPATH_*` key itself, so both sides apply the same limits, admission
//! bounds and deadline.
//!
//! Modules: [`config`] (what Python sends), [`routes`] (matching a URL to a native
//! route), [`json_body`] (a route's arguments from a JSON body), [`native`] (one native call: limits, admission, deadline, the JSON answer),
//! [`proxy`] (gunicorn, through the front's own connection pool), [`spool`]
//! (buffering a proxied response in memory, then a temporary file), [`wire`] (JSON
//! for malformed HTTP), [`body`] (the response body and the front's own JSON errors),
//! [`template`] (filling the answers the Flask side rendered), [`metrics`],
//! [`shadow`], [`access_log`], [`server`] (accepting, serving, draining).
//!
//! They import one way: [`server`] uses the others; [`native`], [`proxy`], [`shadow`]
//! and [`wire`] use only the modules below them ([`shadow`] uses [`proxy`], [`proxy`]
//! uses [`spool`], [`native`] uses [`template`]); [`spool`], [`template`] and
//! [`routes`] use only [`config`] and [`body`], [`json_body`] only [`config`] and
//! [`routes`]; [`body`], [`config`], [`metrics`] and
//! [`access_log`] use none of the front's modules.

pub mod access_log;
pub mod body;
pub mod config;
pub mod json_body;
pub mod metrics;
pub mod native;
pub mod proxy;
pub mod routes;
pub mod server;
pub mod shadow;
pub mod spool;
pub mod template;
pub mod wire;

pub use config::Config;
pub use server::run;
