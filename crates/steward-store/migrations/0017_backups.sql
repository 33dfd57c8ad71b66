-- Backups: policies (what to back up on which devices, when, and how long to keep it), one
-- restic repository per device, the snapshots the server received, the schedule of policy
-- runs, restore drills, and per-device forget/prune bookkeeping.
--
-- A policy: `target` as a check's (`all`, `device:ID`, `group:ID`, `tag:NAME`), `paths` and
-- `excludes` JSON arrays of strings, `schedule` its text (`daily 01:00`), `keep` the
-- retention rules (JSON of `steward_core::backup::retention::Keep`), `protection_ms` the
-- window within which no snapshot is let go, `bandwidth_kib` the upload limit in KiB/s
-- (NULL: none), `source` `console` or `config` (declared in the configuration file).
CREATE TABLE backup_policies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    target TEXT NOT NULL,
    paths TEXT NOT NULL,
    excludes TEXT NOT NULL,
    schedule TEXT NOT NULL,
    keep TEXT NOT NULL,
    protection_ms BIGINT NOT NULL,
    bandwidth_kib BIGINT,
    source TEXT NOT NULL DEFAULT 'console',
    enabled BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A device's repository: where it is stored (`storage`: `local` or `s3`, and its
-- `location`) and its password, sealed with the server's sealing key. Made once, at the
-- first backup; it never changes, so the password never does.
CREATE TABLE backup_repositories (
    device_id TEXT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    storage TEXT NOT NULL,
    location TEXT NOT NULL,
    password_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- A snapshot stored in a device's repository (`snapshot_id`: restic's id, 64 hex digits).
-- `received_at` is when the server stored the snapshot object: the only time retention
-- trusts. The rest is the snapshot's summary, filled in once known: `written_at` is the time
-- written inside it (shown, never trusted), `added_bytes` the new data after deduplication
-- and `stored_bytes` the same once compressed. `policy_id` is not a foreign key: a snapshot
-- outlives the policy that made it. `forgotten_at`: when retention let it go.
CREATE TABLE backup_snapshots (
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    snapshot_id TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    written_at BIGINT,
    policy_id TEXT,
    job_id TEXT,
    files BIGINT,
    bytes BIGINT,
    added_bytes BIGINT,
    stored_bytes BIGINT,
    duration_ms BIGINT,
    paths TEXT,
    forgotten_at BIGINT,
    PRIMARY KEY (device_id, snapshot_id)
);
CREATE INDEX backup_snapshots_received ON backup_snapshots (device_id, received_at);

-- When each policy next runs on each device it covers, until when a server holds that run
-- (several servers share the schedule; a dead server's claims lapse), and the last job
-- queued for it.
CREATE TABLE backup_schedule (
    policy_id TEXT NOT NULL REFERENCES backup_policies (id) ON DELETE CASCADE,
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    due_at BIGINT NOT NULL,
    lease_until BIGINT NOT NULL DEFAULT 0,
    last_queued_at BIGINT,
    last_job_id TEXT,
    PRIMARY KEY (policy_id, device_id)
);
CREATE INDEX backup_schedule_due ON backup_schedule (due_at);
CREATE INDEX backup_schedule_device ON backup_schedule (device_id);

-- A restore drill of a device's repository: `check` on the server, then a sample restored
-- by `runner_device_id`'s agent and compared. `outcome`: `running`, `passed` or `failed`.
CREATE TABLE backup_drills (
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    runner_device_id TEXT REFERENCES devices (id) ON DELETE SET NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    outcome TEXT NOT NULL,
    files_checked BIGINT NOT NULL DEFAULT 0,
    bytes_checked BIGINT NOT NULL DEFAULT 0,
    duration_ms BIGINT,
    error TEXT
);
CREATE INDEX backup_drills_device ON backup_drills (device_id, started_at);

-- Forget and prune of a device's repository, run by the server: when each last ran, and
-- until when a server holds the repository's maintenance (one at a time).
CREATE TABLE backup_maintenance (
    device_id TEXT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    last_forget_at BIGINT,
    last_prune_at BIGINT,
    lease_until BIGINT NOT NULL DEFAULT 0
);
