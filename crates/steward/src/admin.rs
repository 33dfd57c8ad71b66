//! `steward admin …`: administration straight against the installation's database, so it
//! works whether or not the server is running.

use anyhow::{Context, bail};
use steward_core::{DeviceStatus, Escaped, JobKind, Role, TwoFactorPolicy};
use steward_server::secrets::PasswordHashing;
use steward_server::{SystemClock, clock::Clock};
use steward_store::{DeviceFilter, DeviceRecord, Store};

use crate::cli::{
    AdminArgs, AdminCommand, ApiTokenCommand, AuditCommand, DeviceCommand, EnrollTokenCommand,
    GroupCommand, SecurityCommand, UserCommand,
};

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    crate::logging::init("warn");
    let url = crate::config::resolve_admin(&args.target)?;
    if let Some(db) = steward_store::sqlite_file(&url) {
        crate::private::sqlite_files(&db)?;
    }
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
                "Enrollment token for {uses} device(s), valid for {}. On each machine run (the variable keeps it out of `ps`):\n  STEWARD_ENROLL_TOKEN={token} steward agent enroll --server URL",
                humantime::format_duration(ttl)
            );
        }
        AdminCommand::ApiToken(ApiTokenCommand::Create {
            name,
            role,
            expires,
            owner,
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
            let token = steward_server::admin::create_owned_api_token(
                &store, &name, role, expires_at, &owner, now,
            )
            .await?;
            println!("{token}");
            cli_audit(
                &store,
                now,
                "api_token_created",
                &name,
                &format!("{}, owned by {owner}", role.as_str()),
            )
            .await;
            let validity = match expires_at {
                Some(_) => format!("expires in {expires}"),
                None => "never expires".to_string(),
            };
            eprintln!(
                "API token {name:?} ({}, {validity}, owned by {owner}) created. Use it as `Authorization: Bearer {token}`; it is shown only once.",
                role.as_str()
            );
        }
        AdminCommand::ApiToken(ApiTokenCommand::List) => {
            let users = store.list_users().await?;
            for t in store.list_api_tokens().await? {
                let state = match (t.revoked_at, t.expires_at) {
                    (Some(_), _) => "revoked",
                    (None, Some(e)) if e <= now => "expired",
                    _ => "active",
                };
                // Whose it is: tokens made before owners were recorded have none.
                let owner = match &t.created_by {
                    None => "-".to_string(),
                    Some(id) => users
                        .iter()
                        .find(|u| &u.id == id)
                        .map_or_else(|| format!("deleted user {id}"), |u| u.username.clone()),
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    Escaped(&t.id),
                    Escaped(&t.name),
                    Escaped(&t.role),
                    state,
                    Escaped(&owner)
                );
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
                // Names and OS strings come from agents: escaped, so a newline cannot forge
                // a row and an escape sequence cannot reach the admin's terminal.
                println!(
                    "{}\t{}\t{}\t{} {}",
                    Escaped(&d.id),
                    Escaped(&d.name),
                    status.as_str(),
                    Escaped(&d.os_name),
                    Escaped(&d.os_version)
                );
            }
        }
        AdminCommand::Device(DeviceCommand::Refresh { name }) => {
            let device = find_device(&store, &name).await?;
            if device.revoked_at.is_some() {
                bail!(
                    "device {} is revoked and takes no jobs",
                    Escaped(&device.name)
                );
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
                Escaped(&device.name)
            );
        }
        AdminCommand::Device(DeviceCommand::Revoke { name }) => {
            let device = find_device(&store, &name).await?;
            store.revoke_device(&device.id, now).await?;
            cli_audit(&store, now, "device_revoked", &device.id, &device.name).await;
            eprintln!(
                "Device {} revoked: its agent can no longer report.",
                Escaped(&device.name)
            );
        }
        AdminCommand::Device(DeviceCommand::RotateCredential { name }) => {
            let device = find_device(&store, &name).await?;
            if device.revoked_at.is_some() {
                bail!(
                    "device {} is revoked: enroll it again instead",
                    Escaped(&device.name)
                );
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
                Escaped(&device.name)
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
        AdminCommand::User(cmd) => user_command(&store, cmd, now).await?,
        AdminCommand::Group(cmd) => group_command(&store, cmd, now).await?,
        AdminCommand::Security(SecurityCommand::Show) => {
            let policy = store
                .setting(TwoFactorPolicy::SETTING)
                .await?
                .unwrap_or_default();
            let shown = if policy.is_empty() {
                "nobody"
            } else {
                policy.as_str()
            };
            println!("two-factor sign-in required for: {shown}");
        }
        AdminCommand::Security(SecurityCommand::Require2fa { roles }) => {
            let policy = TwoFactorPolicy::parse(&roles).map_err(|e| anyhow::anyhow!(e))?;
            steward_server::admin::set_two_factor_policy(&store, &policy, &cli_actor(), "cli", now)
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
            eprintln!(
                "Two-factor sign-in is now required for: {}",
                match policy.to_setting().as_str() {
                    "" => "nobody".to_string(),
                    s => s.to_string(),
                }
            );
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

/// The operating-system user running the command, as named in the audit log.
fn cli_actor() -> String {
    let who = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_default();
    if who.is_empty() {
        "cli".to_string()
    } else {
        format!("cli:{who}")
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
    steward_server::audit::record(store, now, &cli_actor(), action, target, detail, "cli").await;
}

async fn find_user(store: &Store, name: &str) -> anyhow::Result<steward_store::UserRecord> {
    store
        .user_by_username(name)
        .await?
        .with_context(|| format!("no user named {name:?}; `steward admin user list` shows them"))
}

async fn group_id(store: &Store, name: &str) -> anyhow::Result<String> {
    store
        .list_groups()
        .await?
        .into_iter()
        .find(|g| g.name == name)
        .map(|g| g.id)
        .with_context(|| format!("no group named {name:?}; `steward admin group list` shows them"))
}

/// User administration through the same operations (and rules) as the console and API.
async fn user_command(
    store: &Store,
    cmd: UserCommand,
    now: steward_core::Timestamp,
) -> anyhow::Result<()> {
    use steward_server::users;
    let actor = users::Actor {
        user_id: None,
        label: cli_actor(),
        source: "cli".into(),
        now,
    };
    let hashing = PasswordHashing::Production;
    let err = |e: steward_server::error::AppError| anyhow::anyhow!(e.message);
    match cmd {
        UserCommand::List => {
            for u in store.list_users().await? {
                let state = if u.disabled_at.is_some() {
                    "disabled"
                } else {
                    "enabled"
                };
                let tfa = if u.totp_enabled_at.is_some() {
                    "2fa"
                } else {
                    "no-2fa"
                };
                println!(
                    "{}\t{}\t{state}\t{tfa}",
                    Escaped(&u.username),
                    Escaped(&u.role)
                );
            }
        }
        UserCommand::Create { name, role, groups } => {
            let role = users::parse_role(&role).map_err(err)?;
            let mut ids = Vec::new();
            for g in &groups {
                ids.push(group_id(store, g).await?);
            }
            // No group named: every device, as in the console and the API.
            let scope = users::scope_for_new_user(None, ids).map_err(err)?;
            let (_, password) = users::create(store, hashing, &actor, &name, role, &scope)
                .await
                .map_err(err)?;
            println!("{password}");
            eprintln!(
                "Created {name} ({}). This one-time password is shown only once.",
                role.as_str()
            );
        }
        UserCommand::SetRole { name, role } => {
            let role = users::parse_role(&role).map_err(err)?;
            let u = find_user(store, &name).await?;
            users::set_role_and_scope(store, &actor, &u.id, Some(role), None)
                .await
                .map_err(err)?;
        }
        UserCommand::Disable { name } => {
            let u = find_user(store, &name).await?;
            users::set_disabled(store, &actor, &u.id, true)
                .await
                .map_err(err)?;
        }
        UserCommand::Enable { name } => {
            let u = find_user(store, &name).await?;
            users::set_disabled(store, &actor, &u.id, false)
                .await
                .map_err(err)?;
        }
        UserCommand::Delete { name } => {
            let u = find_user(store, &name).await?;
            users::delete(store, &actor, &u.id).await.map_err(err)?;
        }
        UserCommand::ResetPassword { name } => {
            let u = find_user(store, &name).await?;
            let password = users::reset_password(store, hashing, &actor, &u.id)
                .await
                .map_err(err)?;
            println!("{password}");
            eprintln!("New password for {name} (shown once); their sessions were ended.");
        }
        UserCommand::ResetTwoFactor { name } => {
            let u = find_user(store, &name).await?;
            users::reset_two_factor(store, &actor, &u.id)
                .await
                .map_err(err)?;
            eprintln!(
                "Two-factor sign-in of {name} is off; they can set it up again after signing in."
            );
        }
    }
    Ok(())
}

async fn group_command(
    store: &Store,
    cmd: GroupCommand,
    now: steward_core::Timestamp,
) -> anyhow::Result<()> {
    match cmd {
        GroupCommand::List => {
            for g in store.list_groups().await? {
                println!(
                    "{}\t{} device(s)\t{}",
                    Escaped(&g.name),
                    g.devices,
                    Escaped(&g.id)
                );
            }
        }
        GroupCommand::Create { name } => {
            let g = steward_server::admin::create_group(store, &name, now)
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
            cli_audit(store, now, "group_created", &g.name, "").await;
        }
        GroupCommand::Assign {
            device,
            group,
            none,
        } => {
            let device = find_device(store, &device).await?;
            let gid = match (group, none) {
                (Some(name), false) => Some(group_id(store, &name).await?),
                (None, true) => None,
                _ => bail!("name a group, or pass --none"),
            };
            steward_server::admin::organize_device(
                store,
                &device,
                Some(gid.as_deref()),
                None,
                &steward_core::Scope::Everything,
                &cli_actor(),
                "cli",
                now,
            )
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?;
        }
    }
    Ok(())
}
