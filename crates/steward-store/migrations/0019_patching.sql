-- Patching, scripts and job batches: the updates each device's package manager lists as
-- pending, when each device last listed them, the policies and approvals that decide what
-- is installed, the script library with every version kept, and the batches that group the
-- jobs one request queued on many devices. The server's services validate every value; the
-- store interprets none of them.

-- An update pending on a device: `package` can move from `installed` to `candidate`
-- (versions as the package manager spells them), from `source` (apt's origin and suite, or
-- dnf's repository). `security`: 1 for a security update. `advisories`: a JSON array of
-- advisory and CVE ids (empty on apt). `first_seen`: when the device was first listed as
-- behind on this package and architecture, kept while a newer candidate replaces an older
-- one (the device has been behind since then). A package no longer listed is deleted.
CREATE TABLE pending_updates (
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    package TEXT NOT NULL,
    arch TEXT NOT NULL,
    installed TEXT NOT NULL,
    candidate TEXT NOT NULL,
    source TEXT NOT NULL,
    security BIGINT NOT NULL,
    advisories TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    PRIMARY KEY (device_id, package, arch)
);
-- The fleet's summary: how many devices miss a security update, and since when.
CREATE INDEX pending_updates_security ON pending_updates (security, first_seen);

-- A device's last listing of its updates: its package manager (`apt`, `dnf`; empty until a
-- listing succeeded), when it listed (0: never; a listing older than this arrived late and
-- is ignored), whether it needs a reboot (1) to finish installed updates, and why its last
-- listing failed (NULL when it did not).
CREATE TABLE update_status (
    device_id TEXT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    manager TEXT NOT NULL,
    listed_at BIGINT NOT NULL,
    reboot_required BIGINT NOT NULL,
    error TEXT
);

-- What to install where and when. `target`: `all`, `group:ID` or `tag:NAME`. `policy`: the
-- JSON of a `PatchPolicy` (which updates, approval, reboot). `window`: a recurring window in
-- monitoring's syntax, empty for any time (quoted: WINDOW is a reserved word in PostgreSQL).
-- `enabled`: 1 or 0.
CREATE TABLE patch_policies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    target TEXT NOT NULL,
    policy TEXT NOT NULL,
    "window" TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);

-- A version of a package a person approved for the policies that install only approved
-- updates. Approving again keeps the first approval; revoking deletes the row.
CREATE TABLE patch_approvals (
    package TEXT NOT NULL,
    version TEXT NOT NULL,
    approved_at BIGINT NOT NULL,
    approved_by TEXT NOT NULL,
    PRIMARY KEY (package, version)
);

-- A script of the library, with the fields of its current version (`version`): which
-- `platform` it runs on, its `interpreter`, and `params` (the JSON of its parameters'
-- specifications). `archived_at`: when it was withdrawn (kept, as the record of what ran).
CREATE TABLE scripts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    platform TEXT NOT NULL,
    interpreter TEXT NOT NULL,
    params TEXT NOT NULL,
    version BIGINT NOT NULL,
    archived_at BIGINT,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);

-- Every version of every script, never changed once written: what a job ran is the version
-- it names. `content_sha256`: the hex SHA-256 of `content`.
CREATE TABLE script_versions (
    script_id TEXT NOT NULL REFERENCES scripts (id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    content TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    interpreter TEXT NOT NULL,
    params TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (script_id, version)
);

-- The jobs one request queued on many devices (a script run, a patch rollout). `kind`: what
-- was asked; `target`: what the person chose (`all`, `group:ID`, `device:ID`…); `label`:
-- what to show (e.g. the script's name and version); `total`: how many devices it covers.
CREATE TABLE job_batches (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    label TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    total BIGINT NOT NULL,
    -- The devices the target named that were not sent the job, and why: JSON, a list of
    -- {device_id, device_name, reason}.
    skipped TEXT NOT NULL
);
CREATE INDEX job_batches_created ON job_batches (created_at);

-- Which jobs belong to which batch.
CREATE TABLE batch_jobs (
    batch_id TEXT NOT NULL REFERENCES job_batches (id) ON DELETE CASCADE,
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    PRIMARY KEY (batch_id, job_id)
);
CREATE INDEX batch_jobs_job ON batch_jobs (job_id);
