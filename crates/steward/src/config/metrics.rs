//! Who may read `/metrics`, resolved from flags, environment and the config file.

use std::net::IpAddr;

use super::FileConfig;
use crate::cli::ServerArgs;

/// Who may read `/metrics`: the token from flags or environment (directly or from a file),
/// else from the config file; the allowed networks likewise. See
/// `steward_server::telemetry::access` for what each combination means.
pub(super) fn access(
    args: &ServerArgs,
    file: &FileConfig,
) -> anyhow::Result<steward_server::telemetry::MetricsAccess> {
    let token = match crate::secret_file::pick(
        "metrics_token",
        args.metrics_token.clone(),
        args.metrics_token_file.as_deref(),
    )? {
        Some(token) => Some(token),
        None => crate::secret_file::pick(
            "metrics_token (config file)",
            file.metrics_token.clone(),
            file.metrics_token_file.as_deref(),
        )?,
    };
    let token = token
        .map(|t| steward_server::telemetry::MetricsToken::new(&t))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let allow = super::first_non_empty(&args.metrics_allow, &file.metrics_allow)
        .iter()
        .map(|entry| {
            let entry = entry.trim();
            entry
                .parse::<ipnet::IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    anyhow::anyhow!(
                        "metrics_allow: {entry:?} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)"
                    )
                })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(steward_server::telemetry::MetricsAccess { token, allow })
}
