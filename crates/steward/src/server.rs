//! `steward server`: the control plane alone.

use anyhow::Context;
use steward_server::{SystemClock, clock::Clock};
use tokio::net::TcpListener;

use crate::cli::ServerArgs;
use crate::config::{self, Resolved};

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    crate::logging::init("info");
    let cfg = config::resolve_server(&args)?;
    // Certificate problems are reported before anything else starts.
    let identity = crate::tls::identity(&cfg)?;
    let tls = crate::tls::server_config(identity.as_ref())?;
    let (listener, state) = start(&cfg, identity.as_ref()).await?;
    print_first_admin(&state).await?;
    crate::tls::announce(listener.local_addr()?, identity.as_ref());
    serve(listener, state, tls, crate::shutdown::signal()).await
}

/// Serves over HTTPS when there is a TLS configuration, else plain HTTP.
pub async fn serve(
    listener: TcpListener,
    state: steward_server::AppState,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    match tls {
        Some(tls) => steward_server::serve_tls(listener, state, tls, shutdown).await,
        None => steward_server::serve(listener, state, shutdown).await,
    }
}

/// Opens the database (running migrations) and binds the listener.
pub async fn start(
    cfg: &Resolved,
    tls: Option<&steward_server::tls::TlsIdentity>,
) -> anyhow::Result<(TcpListener, steward_server::AppState)> {
    // The data directory holds the sealing key and TLS keys on PostgreSQL too.
    crate::private::dir(&cfg.data_dir)?;
    let db_file = steward_store::sqlite_file(&cfg.database_url);
    // Only the files themselves: a database configured outside the data directory may sit
    // in a directory shared with other things (never chmod someone's /srv).
    if let Some(db) = &db_file {
        crate::private::sqlite_files(db)?;
    }
    let store = steward_store::Store::connect(&cfg.database_url).await?;
    if let Some(db) = &db_file {
        // SQLite made its -wal and -shm files with the database file's mode; checked anyway.
        crate::private::sqlite_files(db)?;
    }
    let mut server_config = cfg.server.clone();
    server_config.sealing_key = crate::keyfile::load_or_create(&cfg.sealing_key_file)?;
    server_config.tls_fingerprint = tls.map(|t| t.fingerprint.to_string());
    // Browsers may reach the server by any name its certificate is for.
    if let Some(identity) = tls {
        server_config.host_names.extend(identity.dns_names());
    }
    tracing::info!(database = store.backend().as_str(), "database ready");
    let listener = TcpListener::bind(cfg.listen).await.with_context(|| {
        format!(
            "cannot listen on {}: is another Steward (or another program) using it? Choose another with --listen",
            cfg.listen
        )
    })?;
    // Fails here, before the server says it listens, if password hashing cannot be set up.
    let state = steward_server::state(store, server_config)?;
    Ok((listener, state))
}

/// Creates the first administrator on an empty installation and prints its one-time
/// password. Returns whether one was created.
pub async fn print_first_admin(state: &steward_server::AppState) -> anyhow::Result<bool> {
    let created = steward_server::admin::ensure_first_admin(
        &state.store,
        state.config.password_hashing,
        SystemClock.now(),
    )
    .await?;
    if let Some((user, password)) = created {
        println!();
        println!("  First administrator created. This password is shown only once:");
        println!("    username: {user}");
        println!("    password: {password}");
        println!("  You choose your own password at first sign-in.");
        println!("  (lost it? `steward admin user reset-password {user}`)");
        println!();
        return Ok(true);
    }
    Ok(false)
}
