//! Wire types: what travels between agent and server (`agent`) and what the REST API speaks
//! (`api`). Versioned by path (`/agent/v1`, `/api/v1`): a change that breaks an older agent
//! gets a new version, never an edit in place.
//!
//! Architecture invariant: plain data with serde and OpenAPI derives; no behaviour, no IO.

pub mod agent;
pub mod api;
pub mod backup;
pub mod detection;
pub mod monitoring;
pub mod patching;
pub mod posture;
pub mod scripts;

/// Path prefix of the agent protocol.
pub const AGENT_PREFIX: &str = "/agent/v1";
/// Path prefix of the REST API.
pub const API_PREFIX: &str = "/api/v1";
/// Header the agent sends its credential in: `Authorization: Bearer <device-id>.<secret>`.
pub const AUTHORIZATION: &str = "authorization";
