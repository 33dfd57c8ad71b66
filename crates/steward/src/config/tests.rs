use super::*;

#[test]
fn flags_override_file_which_overrides_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("steward.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:9000\"\ncheckin_interval_secs = 30\n",
    )
    .unwrap();
    let args = ServerArgs {
        config: Some(file.clone()),
        ..Default::default()
    };
    let r = resolve_server(&args).unwrap();
    assert_eq!(r.listen.port(), 9000);
    assert_eq!(r.server.checkin_interval_secs, 30);
    assert_eq!(r.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
    assert_eq!(
        r.server.backups_dir,
        Some(PathBuf::from(DEFAULT_DATA_DIR).join("backups"))
    );
    let args = ServerArgs {
        config: Some(file),
        listen: Some("127.0.0.1:9100".into()),
        ..Default::default()
    };
    assert_eq!(resolve_server(&args).unwrap().listen.port(), 9100);
}

#[test]
fn tls_is_on_off_loopback_unless_said_otherwise() {
    let data = Path::new("/srv/steward");
    let lan: IpAddr = "192.0.2.7".parse().unwrap();
    let any: IpAddr = "0.0.0.0".parse().unwrap();
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    let lo6: IpAddr = "::1".parse().unwrap();
    let self_signed = Tls::SelfSigned {
        dir: data.join("tls"),
    };
    let decide = |ip, mode, cert: Option<&str>, key: Option<&str>| {
        decide_tls(
            ip,
            mode,
            cert.map(PathBuf::from),
            key.map(PathBuf::from),
            data,
        )
    };
    for ip in [lo, lo6] {
        assert_eq!(decide(ip, TlsMode::Auto, None, None).unwrap(), Tls::Plain);
        assert_eq!(decide(ip, TlsMode::Off, None, None).unwrap(), Tls::Plain);
        assert_eq!(decide(ip, TlsMode::On, None, None).unwrap(), self_signed);
    }
    for ip in [lan, any] {
        assert_eq!(decide(ip, TlsMode::Auto, None, None).unwrap(), self_signed);
        assert_eq!(
            decide(ip, TlsMode::Off, None, None).unwrap(),
            Tls::BehindProxy
        );
    }
    let files = Tls::Files {
        cert: "c.pem".into(),
        key: "k.pem".into(),
    };
    for (ip, mode) in [
        (lo, TlsMode::Auto),
        (lan, TlsMode::Auto),
        (lan, TlsMode::On),
    ] {
        assert_eq!(
            decide(ip, mode, Some("c.pem"), Some("k.pem")).unwrap(),
            files
        );
    }
    let err = |r: anyhow::Result<Tls>| r.unwrap_err().to_string();
    assert!(err(decide(lan, TlsMode::Auto, Some("c.pem"), None)).contains("--tls-key"));
    assert!(err(decide(lan, TlsMode::Auto, None, Some("k.pem"))).contains("--tls-cert"));
    assert!(err(decide(lan, TlsMode::Off, Some("c"), Some("k"))).contains("contradict"));
}

#[test]
fn tls_settings_come_from_file_env_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("steward.toml");
    std::fs::write(
        &file,
        "listen = \"0.0.0.0:8443\"\ndata_dir = \"/srv/s\"\ntls_cert = \"/etc/c.pem\"\ntls_key = \"/etc/k.pem\"\n",
    )
    .unwrap();
    let args = ServerArgs {
        config: Some(file.clone()),
        ..Default::default()
    };
    assert_eq!(
        resolve_server(&args).unwrap().tls,
        Tls::Files {
            cert: "/etc/c.pem".into(),
            key: "/etc/k.pem".into()
        }
    );
    std::fs::write(&file, "listen = \"0.0.0.0:8443\"\ntls = \"off\"\n").unwrap();
    assert_eq!(resolve_server(&args).unwrap().tls, Tls::BehindProxy);
    std::fs::write(&file, "listen = \"0.0.0.0:8443\"\ntls = \"sometimes\"\n").unwrap();
    let e = format!("{:#}", resolve_server(&args).unwrap_err());
    assert!(
        e.contains("sometimes") || e.contains("unknown variant"),
        "{e}"
    );
    let args = ServerArgs {
        listen: Some("0.0.0.0:8443".into()),
        no_tls: true,
        ..Default::default()
    };
    assert_eq!(resolve_server(&args).unwrap().tls, Tls::BehindProxy);
    let args = ServerArgs::default();
    assert_eq!(resolve_server(&args).unwrap().tls, Tls::Plain);
}

#[test]
fn network_limits_and_names_come_from_file_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("steward.toml");
    std::fs::write(
        &file,
        "max_connections = 100\nmax_connections_per_address = 10\nheader_timeout_secs = 5\n\
         body_timeout_secs = 7\ntls_handshake_timeout_secs = 3\nmax_request_body_bytes = 1000\n\
         public_names = [\"Steward.Example.COM\"]\ntrusted_proxies = [\"10.0.0.5\", \"192.0.2.0/24\"]\n",
    )
    .unwrap();
    let args = ServerArgs {
        config: Some(file.clone()),
        ..Default::default()
    };
    let r = resolve_server(&args).unwrap().server;
    assert_eq!(r.net.max_connections, 100);
    assert_eq!(r.net.max_connections_per_address, 10);
    assert_eq!(r.net.header_timeout, Duration::from_secs(5));
    assert_eq!(r.net.body_timeout, Duration::from_secs(7));
    assert_eq!(r.net.tls_handshake_timeout, Duration::from_secs(3));
    assert_eq!(r.max_request_body_bytes, 1000);
    assert!(r.host_names.contains(&"localhost".to_string()));
    assert!(r.host_names.contains(&"steward.example.com".to_string()));
    assert_eq!(
        r.trusted_proxies,
        vec![
            "10.0.0.5/32".parse::<ipnet::IpNet>().unwrap(),
            "192.0.2.0/24".parse().unwrap()
        ]
    );
    let args = ServerArgs {
        config: Some(file),
        max_connections: Some(7),
        trusted_proxies: vec!["::1".into()],
        ..Default::default()
    };
    let r = resolve_server(&args).unwrap().server;
    assert_eq!(r.net.max_connections, 7);
    assert_eq!(r.trusted_proxies, vec!["::1/128".parse().unwrap()]);
    let defaults = resolve_server(&ServerArgs::default()).unwrap().server;
    assert_eq!(defaults.net, steward_server::NetLimits::default());

    let bad = |args: ServerArgs| format!("{:#}", resolve_server(&args).unwrap_err());
    let e = bad(ServerArgs {
        trusted_proxies: vec!["proxy.lan".into()],
        ..Default::default()
    });
    assert!(e.contains("proxy.lan"), "{e}");
    let e = bad(ServerArgs {
        header_timeout: Some(0),
        ..Default::default()
    });
    assert!(e.contains("header_timeout_secs"), "{e}");
    let e = bad(ServerArgs {
        public_names: vec!["evil/x".into()],
        ..Default::default()
    });
    assert!(e.contains("evil/x"), "{e}");
}

#[test]
fn bad_config_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("steward.toml");
    std::fs::write(&file, "lisen = \"127.0.0.1:1\"\n").unwrap();
    let args = ServerArgs {
        config: Some(file),
        ..Default::default()
    };
    let err = format!("{:#}", resolve_server(&args).unwrap_err());
    assert!(
        err.contains("unknown field") && err.contains("listen"),
        "{err}"
    );
    let args = ServerArgs {
        listen: Some("localhost".into()),
        ..Default::default()
    };
    let err = format!("{:#}", resolve_server(&args).unwrap_err());
    assert!(err.contains("ADDRESS:PORT"), "{err}");
}
/// `text` as a config file in a fresh directory, and `ServerArgs` reading it.
fn config(text: &str) -> (tempfile::TempDir, ServerArgs) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("steward.toml");
    std::fs::write(&file, text).unwrap();
    let args = ServerArgs {
        config: Some(file),
        ..Default::default()
    };
    (dir, args)
}

fn secret(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let _ = mode;
    path
}

#[test]
fn sections_give_the_same_settings_as_the_flat_keys() {
    let nested = FileConfig::parse(
        r#"
        [server]
        data_dir = "/srv/s"
        listen = "0.0.0.0:8443"
        checkin_interval_secs = 30
        public_names = ["steward.example.com"]
        trusted_proxies = ["10.0.0.5"]
        sealing_key_file = "/etc/steward/secret.key"

        [database]
        url = "postgres://steward@db/steward"

        [tls]
        mode = "on"
        cert = "/etc/c.pem"
        key = "/etc/k.pem"

        [sessions]
        secure_cookies = true
        idle_minutes = 10
        max_hours = 2

        [limits]
        max_connections = 100
        max_connections_per_address = 10
        header_timeout_secs = 5
        body_timeout_secs = 7
        tls_handshake_timeout_secs = 3
        write_stall_timeout_secs = 9
        max_request_body_bytes = 1000
        report_rate_burst = 4
        report_rate_per_minute = 5
        report_kib_burst = 9000
        report_kib_per_minute = 6

        [retention]
        change_days = 30
        "#,
    )
    .unwrap();
    let flat = FileConfig::parse(
        r#"
        data_dir = "/srv/s"
        listen = "0.0.0.0:8443"
        checkin_interval_secs = 30
        public_names = ["steward.example.com"]
        trusted_proxies = ["10.0.0.5"]
        sealing_key_file = "/etc/steward/secret.key"
        database_url = "postgres://steward@db/steward"
        tls = "on"
        tls_cert = "/etc/c.pem"
        tls_key = "/etc/k.pem"
        secure_cookies = true
        session_idle_minutes = 10
        session_max_hours = 2
        max_connections = 100
        max_connections_per_address = 10
        header_timeout_secs = 5
        body_timeout_secs = 7
        tls_handshake_timeout_secs = 3
        write_stall_timeout_secs = 9
        max_request_body_bytes = 1000
        report_rate_burst = 4
        report_rate_per_minute = 5
        report_kib_burst = 9000
        report_kib_per_minute = 6
        change_retention_days = 30
        "#,
    )
    .unwrap();
    assert_eq!(format!("{nested:?}"), format!("{flat:?}"));
    assert_eq!(nested.tls, Some(TlsMode::On));
    assert_eq!(nested.change_retention_days, Some(30));
    assert_eq!(nested.write_stall_timeout_secs, Some(9));
    assert_eq!(nested.session_idle_minutes, Some(10));
    // Sections and flat keys mix.
    let mixed =
        FileConfig::parse("listen = \"127.0.0.1:1\"\n[limits]\nmax_connections = 3\n").unwrap();
    assert_eq!(mixed.listen.as_deref(), Some("127.0.0.1:1"));
    assert_eq!(mixed.max_connections, Some(3));
}

#[test]
fn a_setting_given_twice_or_unknown_in_a_section_is_refused() {
    let err = |text: &str| format!("{:#}", FileConfig::parse(text).unwrap_err());
    let e = err("listen = \"127.0.0.1:1\"\n[server]\nlisten = \"127.0.0.1:2\"\n");
    assert!(
        e.contains("`listen`") && e.contains("[server] listen"),
        "{e}"
    );
    let e = err("max_connections = 1\n[limits]\nmax_connections = 2\n");
    assert!(e.contains("[limits] max_connections"), "{e}");
    let e = err("tls_cert = \"a\"\n[tls]\ncert = \"b\"\n");
    assert!(e.contains("[tls] cert"), "{e}");
    let e = err("[server]\nlisen = \"127.0.0.1:1\"\n");
    assert!(e.contains("unknown field") && e.contains("listen"), "{e}");
    let e = err("[tls]\nmode = \"sometimes\"\n");
    assert!(e.contains("sometimes"), "{e}");
    let e = err("[smtp]\nhost = \"mail\"\n");
    assert!(e.contains("unknown field") && e.contains("smtp"), "{e}");
    let e = err("[limits]\nmax_connections = \"many\"\n");
    assert!(e.contains("max_connections"), "{e}");
}

#[test]
fn the_database_url_can_come_from_a_private_file() {
    let (dir, args) = config("");
    let url_file = secret(
        dir.path(),
        "db-url",
        "postgres://steward:pw@db/steward\n",
        0o600,
    );
    // Flag (or STEWARD_DATABASE_URL_FILE).
    let from_flag = resolve_server(&ServerArgs {
        database_file: Some(url_file.clone()),
        ..args.clone()
    })
    .unwrap();
    assert_eq!(from_flag.database_url, "postgres://steward:pw@db/steward");
    // The config file, in its section or as the flat alias.
    for text in [
        format!(
            "[database]\nurl_file = {:?}\n",
            url_file.display().to_string()
        ),
        format!("database_url_file = {:?}\n", url_file.display().to_string()),
    ] {
        let (_d, args) = config(&text);
        let r = resolve_server(&args).unwrap();
        assert_eq!(r.database_url, "postgres://steward:pw@db/steward");
        assert_eq!(
            resolve_admin(&AdminTarget {
                config: args.config.clone(),
                ..Default::default()
            })
            .unwrap(),
            "postgres://steward:pw@db/steward"
        );
    }
    // A flag beats the file's setting; the file's secret file is then not read at all.
    let (_d, args) = config("[database]\nurl_file = \"/nonexistent/db-url\"\n");
    let r = resolve_server(&ServerArgs {
        database: Some("sqlite::memory:".into()),
        ..args
    })
    .unwrap();
    assert_eq!(r.database_url, "sqlite::memory:");
}

#[test]
fn a_missing_world_readable_or_doubled_secret_file_stops_the_start() {
    let bad = |args: &ServerArgs| format!("{:#}", resolve_server(args).unwrap_err());
    let (dir, args) = config("");
    let missing = dir.path().join("no-such-file");
    let e = bad(&ServerArgs {
        database_file: Some(missing.clone()),
        ..args.clone()
    });
    assert!(
        e.contains("database_url") && e.contains("no-such-file"),
        "{e}"
    );
    #[cfg(unix)]
    {
        let open = secret(dir.path(), "open-url", "postgres://u:pw@h/d", 0o644);
        let e = bad(&ServerArgs {
            database_file: Some(open.clone()),
            ..args.clone()
        });
        assert!(
            e.contains("open-url") && e.contains("readable by every user"),
            "{e}"
        );
        let (_d, args) = config(&format!(
            "[database]\nurl_file = {:?}\n",
            open.display().to_string()
        ));
        let e = bad(&args);
        assert!(
            e.contains("open-url") && e.contains("readable by every user"),
            "{e}"
        );
    }
    let (_d, args) =
        config("[database]\nurl = \"postgres://h/d\"\nurl_file = \"/run/secrets/db\"\n");
    let e = bad(&args);
    assert!(e.contains("both"), "{e}");
}

#[test]
fn the_flags_and_environment_name_the_secret_files() {
    use clap::Parser;
    let cli = crate::cli::Cli::try_parse_from([
        "steward",
        "server",
        "--database-file",
        "/run/secrets/db",
    ])
    .unwrap();
    let crate::cli::Command::Server(args) = cli.command else {
        panic!("not the server command");
    };
    assert_eq!(args.database_file, Some(PathBuf::from("/run/secrets/db")));
    let both = crate::cli::Cli::try_parse_from([
        "steward",
        "server",
        "--database-file",
        "/run/secrets/db",
        "--database",
        "sqlite::memory:",
    ]);
    assert!(both.is_err());
}

#[test]
fn metrics_history_retention_comes_from_the_retention_section() {
    const HOUR: i64 = 3_600_000;
    let (_dir, args) = config("");
    let defaults = resolve_server(&args).unwrap().server.metrics_history;
    assert_eq!(defaults, steward_core::history::History::default());
    assert_eq!(defaults.raw_ms, 48 * HOUR);
    let (_dir, args) = config(
        "[retention]\nmetrics_raw_hours = 72\nmetrics_five_minute_days = 14\nmetrics_hourly_days = 730\n",
    );
    let set = resolve_server(&args).unwrap().server.metrics_history;
    assert_eq!(
        (set.raw_ms, set.five_minutes_ms, set.hourly_ms),
        (72 * HOUR, 14 * 24 * HOUR, 730 * 24 * HOUR)
    );
    // Settings that cannot work together are refused, named as the file names them.
    let (_dir, args) = config("[retention]\nmetrics_raw_hours = 1\n");
    let err = format!("{:#}", resolve_server(&args).unwrap_err());
    assert!(err.contains("[retention] metrics_raw_hours"), "{err}");
    let (_dir, args) = config("[retention]\nmetrics_hourly_days = 7\n");
    let err = format!("{:#}", resolve_server(&args).unwrap_err());
    assert!(err.contains("metrics_hourly_days"), "{err}");
}

#[test]
fn metrics_access_comes_from_a_section_flat_keys_a_private_file_or_flags() {
    use steward_server::telemetry::{MetricsAccess, MetricsToken};
    // Nothing said: the server's default (loopback only).
    let (_d, args) = config("");
    assert_eq!(
        resolve_server(&args).unwrap().server.metrics,
        MetricsAccess::default()
    );
    let token = MetricsToken::new("scrape-0123456789abcdef").unwrap();
    for text in [
        "[metrics]\ntoken = \"scrape-0123456789abcdef\"\nallow = [\"10.0.0.5\", \"192.0.2.0/24\"]\n",
        "metrics_token = \"scrape-0123456789abcdef\"\nmetrics_allow = [\"10.0.0.5\", \"192.0.2.0/24\"]\n",
    ] {
        let (_d, args) = config(text);
        let metrics = resolve_server(&args).unwrap().server.metrics;
        assert_eq!(metrics.token, Some(token.clone()), "{text}");
        assert_eq!(
            metrics.allow,
            vec![
                "10.0.0.5/32".parse().unwrap(),
                "192.0.2.0/24".parse().unwrap()
            ]
        );
    }
    // The secret form, in the file or as a flag (or STEWARD_METRICS_TOKEN_FILE).
    let (dir, _) = config("");
    let file = secret(
        dir.path(),
        "metrics-token",
        "scrape-0123456789abcdef\n",
        0o600,
    );
    let (_d, args) = config(&format!(
        "[metrics]\ntoken_file = {:?}\n",
        file.display().to_string()
    ));
    assert_eq!(
        resolve_server(&args).unwrap().server.metrics.token,
        Some(token.clone())
    );
    let from_flag = resolve_server(&ServerArgs {
        metrics_token_file: Some(file),
        metrics_allow: vec!["::1".into()],
        ..ServerArgs::default()
    })
    .unwrap()
    .server
    .metrics;
    assert_eq!(from_flag.token, Some(token));
    assert_eq!(from_flag.allow, vec!["::1/128".parse().unwrap()]);
}

#[test]
fn bad_metrics_settings_stop_the_start_with_the_reason() {
    let bad = |text: &str| {
        let (_d, args) = config(text);
        format!("{:#}", resolve_server(&args).unwrap_err())
    };
    let e = bad("[metrics]\ntoken = \"short\"\n");
    assert!(e.contains("metrics_token") && e.contains("16"), "{e}");
    let e = bad("[metrics]\nallow = [\"prometheus.lan\"]\n");
    assert!(
        e.contains("metrics_allow") && e.contains("prometheus.lan"),
        "{e}"
    );
    let e = bad("metrics_token = \"scrape-0123456789abcdef\"\n[metrics]\ntoken = \"x\"\n");
    assert!(e.contains("[metrics] token"), "{e}");
    let e = bad("[metrics]\ntoken = \"scrape-0123456789abcdef\"\ntoken_file = \"/run/t\"\n");
    assert!(e.contains("both"), "{e}");
    let e = bad("[metrics]\ntokn = \"x\"\n");
    assert!(e.contains("unknown field"), "{e}");
}

#[test]
fn backups_go_to_a_directory_or_a_bucket_with_its_secret_in_a_file() {
    let (dir, args) = config("[backup_storage]\ndir = \"/mnt/backup-disk\"\n");
    let r = resolve_server(&args).unwrap();
    assert_eq!(
        r.server.backups_dir,
        Some(PathBuf::from("/mnt/backup-disk"))
    );
    assert_eq!(r.server.backup_bucket, None);
    drop(dir);

    let (dir, _) = config("");
    let key = secret(dir.path(), "s3-secret", "wJalrXUtnFEMI\n", 0o600);
    let (_keep, args) = config(&format!(
        "[backup_storage]\nkind = \"s3\"\nendpoint = \"https://s3.eu-central-1.amazonaws.com\"\n\
         region = \"eu-central-1\"\nbucket = \"factory-backups\"\nprefix = \"steward\"\n\
         access_key_id = \"AKIAEXAMPLE\"\nsecret_access_key_file = \"{}\"\n",
        key.display()
    ));
    let r = resolve_server(&args).unwrap();
    assert_eq!(
        r.server.backups_dir, None,
        "the bucket replaces the directory"
    );
    let bucket = r.server.backup_bucket.unwrap();
    assert_eq!(
        (
            bucket.bucket.as_str(),
            bucket.region.as_str(),
            bucket.prefix.as_str()
        ),
        ("factory-backups", "eu-central-1", "steward")
    );
    assert_eq!(bucket.secret_access_key, "wJalrXUtnFEMI");
    assert!(
        !format!("{bucket:?}").contains("wJalrXUtnFEMI"),
        "the secret stays out of logs"
    );
    let inline = FileConfig::parse(
        "[backup_storage]\nkind = \"s3\"\nsecret_access_key = \"wJalrXUtnFEMI\"\n",
    )
    .unwrap();
    assert!(!format!("{inline:?}").contains("wJalrXUtnFEMI"));
}

#[test]
fn a_bucket_missing_a_setting_or_mixed_with_a_directory_is_refused() {
    for (text, says) in [
        (
            "[backup_storage]\nkind = \"s3\"\nbucket = \"b\"\naccess_key_id = \"k\"\nsecret_access_key = \"s\"\n",
            "endpoint is needed",
        ),
        (
            "[backup_storage]\nkind = \"s3\"\nendpoint = \"s3.example.com\"\nbucket = \"b\"\naccess_key_id = \"k\"\nsecret_access_key = \"s\"\n",
            "http:// or https://",
        ),
        (
            "[backup_storage]\nkind = \"s3\"\nendpoint = \"https://s3.example.com\"\nbucket = \"b\"\naccess_key_id = \"k\"\n",
            "secret_access_key or secret_access_key_file",
        ),
        (
            "[backup_storage]\nbucket = \"b\"\n",
            "bucket is a setting of a bucket",
        ),
        (
            "[backup_storage]\nkind = \"s3\"\ndir = \"/srv\"\n",
            "dir is a setting of kind = \"local\"",
        ),
        ("[backup_storage]\nkind = \"ftp\"\n", "unknown variant"),
    ] {
        let (_dir, args) = config(text);
        let error = format!("{:#}", resolve_server(&args).unwrap_err());
        assert!(error.contains(says), "{text}: {error}");
    }
}
