//! Enrollment: a one-time token traded for the device's identity, the server's certificate
//! pinned (or checked against `--pin`) and its script-signing key pinned, all saved in the
//! state directory before the agent first runs.

use std::path::Path;

use anyhow::Context;
use steward_core::CertFingerprint;
use steward_proto::agent::EnrollRequest;

use super::outbox_dir;
use crate::client::{Client, ClientError};
use crate::state::{self, AgentState, StateLock};

/// Enrolls this machine with the server using a one-time `token`, and saves the identity in
/// `state_dir`. Refuses if the directory already holds an enrolled agent.
///
/// Over HTTPS the server's certificate is pinned: it must have the fingerprint `pin` when
/// one is given; otherwise the certificate presented now is trusted and recorded (the
/// returned state's `server_cert_pin`). Plain HTTP is refused outside loopback.
pub async fn enroll(
    state_dir: &Path,
    server_url: &str,
    token: &str,
    pin: Option<CertFingerprint>,
) -> anyhow::Result<AgentState> {
    if AgentState::exists(state_dir) {
        let current = AgentState::load(state_dir)?;
        anyhow::bail!(
            "this agent is already enrolled (device {} on {}); to enroll again, stop the agent \
             and remove {}",
            current.device_id,
            current.server_url,
            AgentState::path(state_dir).display()
        );
    }
    let client = Client::for_enrollment(server_url, pin)?;
    let _lock = StateLock::acquire(state_dir)?;
    let hostname = sysinfo::System::host_name()
        .ok()
        .filter(|h| !h.trim().is_empty())
        .unwrap_or_else(|| "unnamed-device".to_owned());
    let request = EnrollRequest {
        token: token.trim().to_owned(),
        hostname: hostname.clone(),
    };
    let response = client.enroll(&request).await.map_err(|e| match e {
        ClientError::CertificateMismatch(m) => anyhow::anyhow!(
            "enrollment refused: the server at {} presented the certificate {}, not {} given \
             with --pin; nothing was sent",
            client.server_url(),
            m.presented,
            m.pinned
        ),
        ClientError::Unreachable(why) => {
            anyhow::anyhow!(
                "could not reach the server at {}: {why}",
                client.server_url()
            )
        }
        other => anyhow::anyhow!("enrollment refused: {other}"),
    })?;
    // Leftovers of an earlier identity would be sent under the new one: start clean.
    state::remove_inventory(state_dir)?;
    let outbox = outbox_dir(state_dir);
    if outbox.exists() {
        std::fs::remove_dir_all(&outbox)
            .with_context(|| format!("removing the old outbox {}", outbox.display()))?;
    }
    let agent = AgentState {
        server_url: client.server_url().to_owned(),
        device_id: response.device_id,
        credential: response.credential,
        checkin_interval_secs: response.checkin_interval_secs,
        next_seq: 1,
        server_cert_pin: client.server_pin(),
    };
    pin_script_key(state_dir, response.script_key.as_deref())?;
    agent.save(state_dir)?;
    tracing::info!(device_id = %agent.device_id, %hostname, server = %agent.server_url,
        pin = ?agent.server_cert_pin, "enrolled");
    Ok(agent)
}

/// Pins the script signing key the enrollment answer carried, replacing any key of an
/// earlier identity (a server that sent none leaves none: no script can verify).
#[cfg(unix)]
fn pin_script_key(state_dir: &Path, key: Option<&str>) -> anyhow::Result<()> {
    match key {
        Some(key) => crate::scripts::pin_script_key(state_dir, key),
        None => {
            let stale = state_dir.join(crate::scripts::SCRIPT_KEY_FILE);
            match std::fs::remove_file(&stale) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(e).with_context(|| format!("removing {}", stale.display()))
                }
                _ => Ok(()),
            }
        }
    }
}

#[cfg(not(unix))]
fn pin_script_key(_: &Path, _: Option<&str>) -> anyhow::Result<()> {
    Ok(())
}
