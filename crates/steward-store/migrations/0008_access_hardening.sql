-- Hardening (issue 8): usernames unique regardless of case, "every device" an explicit grant,
-- one-time passwords changed at first sign-in, known devices for sign-in throttling.

-- `Admin` and `admin` were two accounts; from now on they are one name. Duplicates made
-- before keep working: the oldest keeps the name, the others get `.` and the start of their
-- id appended (an administrator can then delete or keep them).
UPDATE users SET username = username || '.' || substr(id, 1, 8)
WHERE EXISTS (
    SELECT 1 FROM users o
    WHERE lower(o.username) = lower(users.username)
      AND (o.created_at < users.created_at OR (o.created_at = users.created_at AND o.id < users.id))
);
CREATE UNIQUE INDEX users_username_nocase ON users (lower(username));

-- 1: the user sees every device. 0: only the devices of their groups (none: no device).
-- Until now no groups meant every device; those users keep what they had.
ALTER TABLE users ADD COLUMN all_devices BIGINT NOT NULL DEFAULT 0;
UPDATE users SET all_devices = 1
WHERE NOT EXISTS (SELECT 1 FROM user_groups g WHERE g.user_id = users.id);

-- 1: the password was set by someone else (first administrator, new user, reset) and must be
-- changed before anything else.
ALTER TABLE users ADD COLUMN must_change_password BIGINT NOT NULL DEFAULT 0;

-- Browsers that signed in to an account (the cookie's token, as SHA-256): their attempts are
-- throttled on their own, so strangers' failures cannot lock the owner out.
CREATE TABLE known_devices (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL
);
CREATE INDEX known_devices_user ON known_devices(user_id);
