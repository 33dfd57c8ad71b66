//! `steward admin …`: administration straight against the installation's database, so it
//! works whether or not the server is running.

use anyhow::{Context, bail};
use steward_core::{DeviceStatus, JobKind, Role};
use steward_server::secrets::PasswordHashing;
use steward_server::{SystemClock, clock::Clock};
use steward_store::{DeviceFilter, DeviceRecord, Store};

use crate::cli::{
    AdminArgs, AdminCommand, ApiTokenCommand, AuditCommand, DeviceCommand, EnrollTokenCommand,
    UserCommand,
};

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    crate::logging::init("warn");
    let url = crate::config::resolve_admin(&args.target)?;
    let store = Store::connect(&url).await?;
    let now = SystemClock.now();
    match args.command {
        AdminCommand::EnrollToken(EnrollTokenCommand::Create { uses, expires }) => {
            let ttl = humantime::parse_duration(&expires).with_context(|| {
                format!("--expires takes a duration such as 30m, 24h or 7d, not {expires:?}")
            })?;
            let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
            let token = steward_server::admin::create_enroll_token(
                &store,
                uses,
                now.plus_millis(ttl_ms),
                now,
            )
            .await?;
            println!("{token}");
            cli_audit(
                &store,
                now,
                "enroll_token_created",
                "",
                &format!("{uses} use(s), expires in {expires}"),
            )
            .await;
            eprintln!(
                "Enrollment token for {uses} device(s), valid for {}. On each machine run:\n  steward agent enroll --server URL --token {token}",
                humantime::format_duration(ttl)
            );
        }
        AdminCommand::ApiToken(ApiTokenCommand::Create {
            name,
            role,
            expires,
        }) => {
            let role = Role::parse(&role).with_context(|| {
                format!("--role must be viewer, technician or admin, not {role:?}")
            })?;
            let expires_at = match expires.as_str() {
                "never" => None,
                text => {
                    let ttl = humantime::parse_duration(text).with_context(|| {
                        format!("--expires takes a duration such as 30d, or never, not {text:?}")
                    })?;
                    Some(now.plus_millis(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)))
                }
            };
            let token =
                steward_server::admin::create_api_token(&store, &name, role, expires_at, now)
                    .await?;
            println!("{token}");
            cli_audit(&store, now, "api_token_created", &name, role.as_str()).await;
            let validity = match expires_at {
                Some(_) => format!("expires in {expires}"),
                None => "never expires".to_string(),
            };
            eprintln!(
                "API token {name:?} ({}, {validity}) created. Use it as `Authorization: Bearer {token}`; it is shown only once.",
                role.as_str()
            );
        }
        AdminCommand::ApiToken(ApiTokenCommand::List) => {
            for t in store.list_api_tokens().await? {
                let state = match (t.revoked_at, t.expires_at) {
                    (Some(_), _) => "revoked",
                    (None, Some(e)) if e <= now => "expired",
                    _ => "active",
                };
                println!("{}\t{}\t{}\t{}", t.id, t.name, t.role, state);
            }
        }
        AdminCommand::Device(DeviceCommand::List) => {
            let (devices, _) = store
                .list_devices(&DeviceFilter {
                    limit: 10_000,
                    ..Default::default()
                })
                .await?;
            for d in devices {
                let status = DeviceStatus::derive(
                    now,
                    d.last_seen_at,
                    d.checkin_interval_secs,
                    d.revoked_at.is_some(),
                );
                println!(
                    "{}\t{}\t{}\t{} {}",
                    d.id,
                    d.name,
                    status.as_str(),
                    d.os_name,
                    d.os_version
                );
            }
        }
        AdminCommand::Device(DeviceCommand::Refresh { name }) => {
            let device = find_device(&store, &name).await?;
            if device.revoked_at.is_some() {
                bail!("device {} is revoked and takes no jobs", device.name);
            }
            let job =
                steward_server::admin::new_job(&device.id, JobKind::CollectInventory, "cli", now);
            store.create_job(&job).await?;
            cli_audit(
                &store,
                now,
                "job_queued",
                &device.id,
                &format!("collect_inventory ({}) on {}", job.id, device.name),
            )
            .await;
            println!("{}", job.id);
            eprintln!(
                "Queued inventory collection for {}; a connected agent picks it up within a second.",
                device.name
            );
        }
        AdminCommand::Device(DeviceCommand::Revoke { name }) => {
            let device = find_device(&store, &name).await?;
            store.revoke_device(&device.id, now).await?;
            cli_audit(&store, now, "device_revoked", &device.id, &device.name).await;
            eprintln!(
                "Device {} revoked: its agent can no longer report.",
                device.name
            );
        }
        AdminCommand::Device(DeviceCommand::RotateCredential { name }) => {
            let device = find_device(&store, &name).await?;
            if device.revoked_at.is_some() {
                bail!("device {} is revoked: enroll it again instead", device.name);
            }
            let job =
                steward_server::admin::new_job(&device.id, JobKind::RotateCredential, "cli", now);
            store.create_job(&job).await?;
            cli_audit(
                &store,
                now,
                "credential_rotation_requested",
                &device.id,
                &format!("job {} on {}", job.id, device.name),
            )
            .await;
            println!("{}", job.id);
            eprintln!(
                "Queued a credential rotation for {}: its agent fetches a new credential when it \
                 next polls for jobs, and the old one stops working once it has switched. \
                 `steward admin device list` and the device's jobs show the result.",
                device.name
            );
        }
        AdminCommand::Audit(AuditCommand::Verify) => {
            match steward_server::audit::verify(&store).await? {
                Ok(n) => println!("audit log intact: {n} entries verified"),
                Err(broken) => {
                    store.close().await;
                    bail!("the audit log has been tampered with: {broken}");
                }
            }
        }
        AdminCommand::Audit(AuditCommand::Export { action }) => {
            let mut out = std::io::stdout().lock();
            steward_server::audit::export_csv(&store, action.as_deref(), &mut out).await?;
        }
        AdminCommand::User(UserCommand::ResetPassword { name }) => {
            let password =
                steward_server::admin::reset_password(&store, &name, PasswordHashing::Production)
                    .await?;
            cli_audit(&store, now, "password_reset", &name, "").await;
            println!("{password}");
            eprintln!("New password for {name} (shown once); their sessions were ended.");
        }
    }
    store.close().await;
    Ok(())
}

/// A device by exact name, or by id; an ambiguous name is an error listing the candidates.
async fn find_device(store: &Store, name_or_id: &str) -> anyhow::Result<DeviceRecord> {
    if let Some(d) = store.device(name_or_id).await? {
        return Ok(d);
    }
    let mut found = store.devices_named(name_or_id).await?;
    match found.len() {
        0 => bail!("no device named {name_or_id:?}; `steward admin device list` shows them"),
        1 => Ok(found.remove(0)),
        _ => bail!(
            "{} devices are named {name_or_id:?}; use an id instead: {}",
            found.len(),
            found
                .iter()
                .map(|d| d.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Audits an action taken from the shell, naming the operating-system user who ran it.
async fn cli_audit(
    store: &Store,
    now: steward_core::Timestamp,
    action: &str,
    target: &str,
    detail: &str,
) {
    let who = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_default();
    let actor = if who.is_empty() {
        "cli".to_string()
    } else {
        format!("cli:{who}")
    };
    steward_server::audit::record(store, now, &actor, action, target, detail, "cli").await;
}
