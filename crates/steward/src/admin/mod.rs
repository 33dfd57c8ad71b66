//! `steward admin …`: administration straight against the installation's database, so it
//! works whether or not the server is running. Monitoring's commands are in `monitoring`.

use anyhow::{Context, bail};
use steward_core::{DeviceStatus, Escaped, JobKind, TwoFactorPolicy};
use steward_server::secrets::PasswordHashing;
use steward_server::service::Caller;
use steward_server::{AppState, ServerConfig, SystemClock, clock::Clock};
use steward_server::{devices, groups};
use steward_store::{DeviceFilter, Store};

mod backup;
mod backup_policies;
mod detection;
mod monitoring;
mod patching;
mod posture;
mod scripts;

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
    // The same services the console and the API use, as the operator: their rules, scope
    // and audit entries, with the operating-system user named as the actor.
    let mut config = ServerConfig {
        password_hashing: PasswordHashing::Production,
        ..ServerConfig::default()
    };
    // Channel settings are sealed: opening them takes the installation's key.
    if matches!(args.command, AdminCommand::Channels(_)) {
        config.sealing_key = monitoring::sealing_key(&args.target)?;
    }
    if matches!(&args.command, AdminCommand::Backup(c) if c.uses_repositories()) {
        backup::configure(&args.target, &mut config)?;
    }
    let state = steward_server::state(store.clone(), config)?;
    let caller = Caller::cli(&os_user(), now);
    let result = command(&state, &caller, args.command).await;
    store.close().await;
    result
}

async fn command(state: &AppState, caller: &Caller, command: AdminCommand) -> anyhow::Result<()> {
    let store = &state.store;
    let now = caller.now;
    match command {
        AdminCommand::EnrollToken(EnrollTokenCommand::Create { uses, expires }) => {
            let ttl = humantime::parse_duration(&expires).with_context(|| {
                format!("--expires takes a duration such as 30m, 24h or 7d, not {expires:?}")
            })?;
            let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
            let token = steward_server::enrollment::create(state, caller, uses, ttl_ms)
                .await?
                .secret;
            println!("{token}");
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
            let days = match expires.as_str() {
                "never" => 0,
                text => {
                    let ttl = humantime::parse_duration(text).with_context(|| {
                        format!("--expires takes a duration such as 30d, or never, not {text:?}")
                    })?;
                    // Whole days, at least one: the same unit as the console and the API.
                    u32::try_from(ttl.as_secs().div_ceil(86_400).max(1)).unwrap_or(u32::MAX)
                }
            };
            let new = steward_server::tokens::NewToken {
                name: &name,
                role: &role,
                expires_in_days: Some(days),
            };
            let created =
                steward_server::tokens::create_owned_by(state, caller, &new, &owner).await?;
            let token = created.secret;
            let expires_at = created.expires_at;
            println!("{token}");
            let validity = match expires_at {
                Some(_) => format!("expires in {expires}"),
                None => "never expires".to_string(),
            };
            eprintln!(
                "API token {name:?} ({role}, {validity}, owned by {owner}) created. Use it as `Authorization: Bearer {token}`; it is shown only once."
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
            let filter = DeviceFilter {
                limit: 10_000,
                ..Default::default()
            };
            let (devices, _) = devices::list(state, caller, &filter).await?;
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
            let device = devices::find_by_name_or_id(state, caller, &name).await?;
            let job =
                devices::queue_job(state, caller, &device.id, JobKind::CollectInventory).await?;
            println!("{}", job.id);
            eprintln!(
                "Queued inventory collection for {}; a connected agent picks it up within a second.",
                Escaped(&device.name)
            );
        }
        AdminCommand::Device(DeviceCommand::Revoke { name }) => {
            let device = devices::find_by_name_or_id(state, caller, &name).await?;
            let outcome = devices::revoke(state, caller, &device.id).await?;
            let done = match outcome {
                devices::Revoked::Now => "revoked",
                devices::Revoked::Already => "was already revoked",
            };
            eprintln!(
                "Device {} {done}: its agent can no longer report.",
                Escaped(&device.name)
            );
        }
        AdminCommand::Device(DeviceCommand::RotateCredential { name }) => {
            let device = devices::find_by_name_or_id(state, caller, &name).await?;
            let job = devices::request_rotation(state, caller, &device.id).await?;
            println!("{}", job.id);
            eprintln!(
                "Queued a credential rotation for {}: its agent fetches a new credential when it \
                 next polls for jobs, and the old one stops working once it has switched. \
                 `steward admin device list` and the device's jobs show the result.",
                Escaped(&device.name)
            );
        }
        AdminCommand::Audit(AuditCommand::Verify) => {
            match steward_server::audit::verify(store).await? {
                Ok(n) => println!("audit log intact: {n} entries verified"),
                Err(broken) => bail!("the audit log has been tampered with: {broken}"),
            }
        }
        AdminCommand::Audit(AuditCommand::Export { action }) => {
            let mut out = std::io::stdout().lock();
            steward_server::audit::export_csv(store, action.as_deref(), &mut out).await?;
        }
        AdminCommand::Checks(cmd) => monitoring::checks(state, caller, cmd).await?,
        AdminCommand::Alerts(cmd) => monitoring::alerts(state, caller, cmd).await?,
        AdminCommand::Maintenance(cmd) => monitoring::maintenance(state, caller, cmd).await?,
        AdminCommand::Channels(cmd) => monitoring::channels(state, caller, cmd).await?,
        AdminCommand::Backup(cmd) => backup::run(state, caller, cmd).await?,
        AdminCommand::Posture(cmd) => posture::run(state, caller, cmd).await?,
        AdminCommand::Updates(cmd) => patching::run(state, caller, cmd).await?,
        AdminCommand::Script(cmd) => scripts::run(state, caller, cmd).await?,
        AdminCommand::Batch(cmd) => scripts::batch(state, caller, cmd).await?,
        AdminCommand::Detections(cmd) => detection::detections(state, caller, cmd).await?,
        AdminCommand::DetectionPolicy(cmd) => detection::policy(state, caller, cmd).await?,
        AdminCommand::Drill(cmd) => detection::drill(state, caller, cmd).await?,
        AdminCommand::User(cmd) => user_command(state, caller, cmd).await?,
        AdminCommand::Group(cmd) => group_command(state, caller, cmd).await?,
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
            let roles: Vec<String> = roles.split(',').map(str::to_string).collect();
            let policy =
                steward_server::security::set_two_factor_policy(state, caller, &roles).await?;
            eprintln!(
                "Two-factor sign-in is now required for: {}",
                match policy.to_setting().as_str() {
                    "" => "nobody".to_string(),
                    s => s.to_string(),
                }
            );
        }
    }
    Ok(())
}

/// The operating-system user running the command, as named in the audit log (`cli:NAME`).
fn os_user() -> String {
    std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_default()
}

/// User administration through the same service (and rules) as the console and API.
async fn user_command(state: &AppState, caller: &Caller, cmd: UserCommand) -> anyhow::Result<()> {
    use steward_server::users;
    match cmd {
        UserCommand::List => {
            for u in users::list(state, caller).await? {
                let enabled = if u.disabled_at.is_some() {
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
                    "{}\t{}\t{enabled}\t{tfa}",
                    Escaped(&u.username),
                    Escaped(&u.role)
                );
            }
        }
        UserCommand::Create { name, role, groups } => {
            let mut ids = Vec::new();
            for g in &groups {
                ids.push(groups::find_by_name(state, caller, g).await?.id);
            }
            // No group named: every device, as in the console and the API.
            let new = users::NewUserRequest {
                username: &name,
                role: &role,
                all_devices: None,
                groups: ids,
            };
            let (created, password) = users::create(state, caller, new).await?;
            println!("{password}");
            eprintln!(
                "Created {name} ({}). This one-time password is shown only once.",
                created.role
            );
        }
        UserCommand::SetRole { name, role } => {
            let u = users::find_by_name(state, caller, &name).await?;
            let changes = users::UserChanges {
                role: Some(role),
                ..Default::default()
            };
            users::update(state, caller, &u.id, &changes).await?;
        }
        UserCommand::Disable { name } => {
            let u = users::find_by_name(state, caller, &name).await?;
            let changes = users::UserChanges {
                disabled: Some(true),
                ..Default::default()
            };
            users::update(state, caller, &u.id, &changes).await?;
        }
        UserCommand::Enable { name } => {
            let u = users::find_by_name(state, caller, &name).await?;
            let changes = users::UserChanges {
                disabled: Some(false),
                ..Default::default()
            };
            users::update(state, caller, &u.id, &changes).await?;
        }
        UserCommand::Delete { name } => {
            let u = users::find_by_name(state, caller, &name).await?;
            users::delete(state, caller, &u.id).await?;
        }
        UserCommand::ResetPassword { name } => {
            let u = users::find_by_name(state, caller, &name).await?;
            let password = users::reset_password(state, caller, &u.id).await?;
            println!("{password}");
            eprintln!("New password for {name} (shown once); their sessions were ended.");
        }
        UserCommand::ResetTwoFactor { name } => {
            let u = users::find_by_name(state, caller, &name).await?;
            users::reset_two_factor(state, caller, &u.id).await?;
            eprintln!(
                "Two-factor sign-in of {name} is off; they can set it up again after signing in."
            );
        }
    }
    Ok(())
}

async fn group_command(state: &AppState, caller: &Caller, cmd: GroupCommand) -> anyhow::Result<()> {
    match cmd {
        GroupCommand::List => {
            for g in groups::list(state, caller).await? {
                println!(
                    "{}\t{} device(s)\t{}",
                    Escaped(&g.name),
                    g.devices,
                    Escaped(&g.id)
                );
            }
        }
        GroupCommand::Create { name } => {
            groups::create(state, caller, &name).await?;
        }
        GroupCommand::Assign {
            device,
            group,
            none,
        } => {
            let device = devices::find_by_name_or_id(state, caller, &device).await?;
            let gid = match (group, none) {
                (Some(name), false) => Some(groups::find_by_name(state, caller, &name).await?.id),
                (None, true) => None,
                _ => bail!("name a group, or pass --none"),
            };
            devices::organize(state, caller, &device.id, Some(gid.as_deref()), None).await?;
        }
    }
    Ok(())
}
