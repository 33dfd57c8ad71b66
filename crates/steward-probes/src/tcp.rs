//! TCP: a port that opens is OK.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::judged::Judged;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tcp {
    pub host: String,
    pub port: u16,
}

impl Tcp {
    pub(crate) fn check(&self) -> Result<(), String> {
        check_host("host", &self.host)?;
        if self.port == 0 {
            return Err("port is 1 to 65535".into());
        }
        Ok(())
    }
}

pub(crate) async fn look(p: &Tcp) -> Judged {
    let started = Instant::now();
    match tokio::net::TcpStream::connect((p.host.as_str(), p.port)).await {
        Ok(_) => Judged::ok(format!(
            "port {} open in {} ms",
            p.port,
            started.elapsed().as_millis()
        )),
        Err(e) => Judged::critical(format!("port {}: {e}", p.port)),
    }
}

/// A host name or address as a probe takes it: not empty, at most a DNS name's length, no
/// spaces or control characters.
pub(crate) fn check_host(field: &str, host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err(format!("{field} is missing"));
    }
    if host.len() > 253 {
        return Err(format!("{field} is at most 253 characters"));
    }
    if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{field} must be a host name or address without spaces, not {host:?}"
        ));
    }
    Ok(())
}
