-- Detection: what agents (and the server, from facts it already has) detected on devices,
-- the files each detection touched and what the responses did, the detection policies sent
-- to agents, and the ransomware fire drills. The server's services validate every value;
-- the store interprets none of them.

-- Whether the device's last report said its agent was stopping on purpose (its service
-- stopped or uninstalled): a silence after it is "the agent was stopped", not power lost.
ALTER TABLE devices ADD COLUMN agent_stopping BIGINT NOT NULL DEFAULT 0;

-- One detection. `local_id`: the agent's own id for it (unique per device), so a report
-- delivered twice records it once. `kind`: a `DetectionKind`; `status`: a detection
-- `Status` (`open` until a person decides). `process`: the JSON of the offending process
-- (NULL when there is none, as for the server's own detections); `ancestors`, `signals`:
-- JSON arrays. `drill_job_id`: the fire drill it belongs to. `stopped`, `isolated`: 1 while
-- the process tree is stopped, while the device is isolated (as the responses left them).
CREATE TABLE detections (
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    local_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    detected_at BIGINT NOT NULL,
    recorded_at BIGINT NOT NULL,
    summary TEXT NOT NULL,
    process TEXT,
    ancestors TEXT NOT NULL,
    signals TEXT NOT NULL,
    drill_job_id TEXT,
    stopped BIGINT NOT NULL,
    isolated BIGINT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT,
    UNIQUE (device_id, local_id)
);
-- The open detections first, newest first; a device's own.
CREATE INDEX detections_status ON detections (status, detected_at);
CREATE INDEX detections_device ON detections (device_id, detected_at);

-- The files a detection touched, in order (`seq` from 0). `op`: a `FileOp`; `to_path`: a
-- rename's new path; `damaged`: 1 when the detector judged the content destroyed.
CREATE TABLE detection_files (
    detection_id TEXT NOT NULL REFERENCES detections (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    op TEXT NOT NULL,
    path TEXT NOT NULL,
    to_path TEXT,
    damaged BIGINT NOT NULL,
    PRIMARY KEY (detection_id, seq)
);

-- What the responses did, in order (`seq` from 0): a later report of the same detection
-- adds only the steps after those stored. `action`: a `ResponseAction`; `job_id`: the
-- `detection_response` job that asked for it (NULL: automatic, by policy).
CREATE TABLE detection_responses (
    detection_id TEXT NOT NULL REFERENCES detections (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    action TEXT NOT NULL,
    at BIGINT NOT NULL,
    ok BIGINT NOT NULL,
    message TEXT NOT NULL,
    job_id TEXT,
    PRIMARY KEY (detection_id, seq)
);

-- The detection policy per target (`all`, `group:ID`, `tag:NAME`, `device:ID`; one policy a
-- target). `policy`: the JSON of a `DetectionPolicy`.
CREATE TABLE detection_policies (
    target TEXT PRIMARY KEY,
    policy TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);

-- A ransomware fire drill: queued as a `ransomware_drill` job, finished when the agent's
-- measurement (a `DrillRun`) arrives as the job's output. `channels`: JSON, a list of
-- [channel name, delivered]; `failures`: JSON, the reasons it did not pass. The measured
-- fields are NULL until it finishes.
CREATE TABLE drills (
    job_id TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    requested_by TEXT NOT NULL,
    queued_at BIGINT NOT NULL,
    finished_at BIGINT,
    files_total BIGINT,
    files_lost BIGINT,
    time_to_detect_ms BIGINT,
    detection_id TEXT,
    channels TEXT,
    passed BIGINT,
    failures TEXT
);
CREATE INDEX drills_queued ON drills (queued_at);
