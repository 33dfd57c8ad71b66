-- The append-only, hash-chained audit log. `seq` is assigned by the writer (previous + 1)
-- inside the appending transaction; the primary key makes two appenders that read the same
-- previous entry collide, so the chain stays a line.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    source TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log(at);
