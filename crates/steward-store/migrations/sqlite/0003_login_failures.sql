-- Failed sign-ins of the last hour, keyed by account (`user:NAME`) and by source address
-- (`ip:ADDR`), for throttling.
CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX login_failures_key ON login_failures(key, at);
