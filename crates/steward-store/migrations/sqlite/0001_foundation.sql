-- Foundation: console users, sessions, API and enrollment tokens, devices, their inventory,
-- metrics, software, change timeline and jobs. Times are unix milliseconds (BIGINT).
-- A released migration is never edited: add a new file.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    disabled_at BIGINT
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    source TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);

CREATE TABLE enroll_tokens (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    uses_left BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    credential_hash TEXT NOT NULL,
    enrolled_at BIGINT NOT NULL,
    enroll_token_id TEXT,
    last_seen_at BIGINT,
    revoked_at BIGINT,
    os_name TEXT NOT NULL DEFAULT '',
    os_version TEXT NOT NULL DEFAULT '',
    last_seq BIGINT NOT NULL DEFAULT 0,
    inventory_hash TEXT NOT NULL DEFAULT '',
    checkin_interval_secs BIGINT NOT NULL DEFAULT 60
);
CREATE INDEX devices_name ON devices(name);

CREATE TABLE device_tags (
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (device_id, tag)
);
CREATE INDEX device_tags_tag ON device_tags(tag);

CREATE TABLE device_inventory (
    device_id TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    doc TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE device_metrics (
    device_id TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
    collected_at BIGINT NOT NULL,
    doc TEXT NOT NULL
);

CREATE TABLE device_software (
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    arch TEXT NOT NULL,
    source TEXT NOT NULL,
    version TEXT NOT NULL,
    PRIMARY KEY (device_id, name, arch, source)
);

CREATE TABLE device_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    from_value TEXT,
    to_value TEXT
);
CREATE INDEX device_changes_device ON device_changes(device_id, id);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    output TEXT NOT NULL DEFAULT '',
    requested_by TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_device ON jobs(device_id, state, created_at);
CREATE INDEX jobs_created ON jobs(created_at);
