-- Access (issue 4): two-factor sign-in, step-up re-authentication, pending sign-ins,
-- security settings, device groups (sites) and the groups a user is limited to.

-- The TOTP secret is sealed (XChaCha20-Poly1305 with the server's key, bound to the user
-- id); `totp_enabled_at` is NULL while an enrolment awaits its first code. `totp_last_step`
-- is the last accepted time step: a code is accepted only for a later step (no replay).
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_enabled_at BIGINT;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;

-- One-time recovery codes, stored as SHA-256 (they are random, 80 bits).
CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- When the session's user last proved who they are (sign-in or step-up).
ALTER TABLE sessions ADD COLUMN reauth_at BIGINT NOT NULL DEFAULT 0;

-- A password accepted, the second factor still to come.
CREATE TABLE pending_sign_ins (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    source TEXT NOT NULL,
    next TEXT NOT NULL,
    failures BIGINT NOT NULL DEFAULT 0
);

-- Installation-wide settings (e.g. which roles must use two-factor sign-in).
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Device groups (sites, or an MSP's clients). A device is in at most one group.
CREATE TABLE device_groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
ALTER TABLE devices ADD COLUMN group_id TEXT REFERENCES device_groups(id) ON DELETE SET NULL;
CREATE INDEX devices_group ON devices(group_id);

-- A user with rows here sees only devices in those groups; without any, every device. A
-- group cannot be deleted while a user is limited to it (no cascade): losing the row would
-- widen that user's view to every device.
CREATE TABLE user_groups (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    group_id TEXT NOT NULL REFERENCES device_groups(id),
    PRIMARY KEY (user_id, group_id)
);

-- Who made an API token (a user id; NULL from the command line): disabling or deleting
-- that user revokes their tokens, so offboarding leaves no key behind.
ALTER TABLE api_tokens ADD COLUMN created_by TEXT;
