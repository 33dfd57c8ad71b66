-- What decides who is told: maintenance windows, notification routes, and acknowledgements
-- kept in a check's history.
--
-- A maintenance window holds back notices for what it covers (`target`: `all`, `device:ID`,
-- `group:ID`, `tag:NAME` or `check:ID`) while its `schedule` is open (JSON: a one-off range
-- or weekly days and times, UTC).
CREATE TABLE maintenance_windows (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    target TEXT NOT NULL,
    schedule TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT 'console',
    created_by TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

-- A route sends a channel the notices at least as urgent as `min_status` about the devices
-- in `devices` (a target as above, without `check:`). A channel with no routes gets every
-- notice.
CREATE TABLE notification_routes (
    id TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    min_status TEXT NOT NULL,
    devices TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT 'console',
    created_at BIGINT NOT NULL
);
CREATE INDEX notification_routes_channel ON notification_routes (channel_id);

-- History lines are status changes (`change`) or acknowledgements (`acknowledged`, with who
-- and their comment in `summary`).
ALTER TABLE check_history ADD COLUMN event TEXT NOT NULL DEFAULT 'change';
ALTER TABLE check_history ADD COLUMN actor TEXT NOT NULL DEFAULT '';

-- A device's checks are read by subject at every report.
CREATE INDEX check_state_subject ON check_state (subject);
