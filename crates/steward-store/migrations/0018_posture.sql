-- Posture: each device's current results of the security checks its agent evaluates, when
-- each device was first and last evaluated, a daily history of scores, the answers to the
-- manual checklist, and accepted-risk exceptions. The server's posture service validates
-- every value; the store interprets none of them.

-- A device's current result of one check (`check_id`: kebab-case, at most 64 characters).
-- `state`: `pass`, `fail`, `not_applicable` or `unknown`. `evidence` is what the agent saw,
-- `reason` why it chose that state. `since`: when this check entered this state on this
-- device (kept while the state stays the same); `evaluated_at`: the evaluation that reported
-- it. A check the device no longer reports is deleted.
CREATE TABLE posture_results (
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    check_id TEXT NOT NULL,
    state TEXT NOT NULL,
    evidence TEXT NOT NULL,
    reason TEXT NOT NULL,
    since BIGINT NOT NULL,
    evaluated_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, check_id)
);
CREATE INDEX posture_results_check ON posture_results (check_id);

-- When a device was first evaluated (the baseline: failures already present then are not
-- regressions) and last evaluated (an evaluation older than this arrived late and is
-- ignored).
CREATE TABLE posture_devices (
    device_id TEXT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    first_evaluated_at BIGINT NOT NULL,
    last_evaluated_at BIGINT NOT NULL
);

-- One day's score of one scope: how many results passed, failed, were excepted (a failure
-- covered by an accepted-risk exception), unknown or not applicable. `day`: the unix day
-- number (days since 1970-01-01, UTC). `scope`: `organisation`, `section:NAME`,
-- `framework:cis-ig1`, `framework:cyber-essentials` or `device:ID` (not a foreign key: the
-- history outlives the device). Rows older than 400 days are deleted.
CREATE TABLE posture_scores (
    day BIGINT NOT NULL,
    scope TEXT NOT NULL,
    pass BIGINT NOT NULL,
    fail BIGINT NOT NULL,
    excepted BIGINT NOT NULL,
    unknown BIGINT NOT NULL,
    not_applicable BIGINT NOT NULL,
    PRIMARY KEY (day, scope)
);
CREATE INDEX posture_scores_scope ON posture_scores (scope, day);

-- The answer to a manual checklist item (`item_id`), one per item, replaced when answered
-- again. `answer`: `yes`, `no`, `partly` or `not_applicable`. `owner`: who is responsible
-- for the item; `review_by`: when the answer is due for review. An answer may carry one
-- attachment (evidence such as a policy document): its file name, media type, size in
-- bytes and the bytes themselves, all NULL when there is none.
CREATE TABLE posture_answers (
    item_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    answer TEXT NOT NULL,
    note TEXT NOT NULL,
    review_by BIGINT NOT NULL,
    answered_at BIGINT NOT NULL,
    answered_by TEXT NOT NULL,
    attachment_name TEXT,
    attachment_type TEXT,
    attachment_size BIGINT,
-- sqlite:
    attachment BLOB
-- postgres:
    attachment BYTEA
-- end
);

-- An accepted risk: failures of `check_id` on `target` (`device:ID`, `group:ID` or `all`)
-- count as excepted, not failed, until `expires_at`, unless revoked earlier (`revoked_at`,
-- `revoked_by`). Kept after expiry and revocation, as the record of who accepted what.
CREATE TABLE posture_exceptions (
    id TEXT PRIMARY KEY,
    check_id TEXT NOT NULL,
    target TEXT NOT NULL,
    reason TEXT NOT NULL,
    owner TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at BIGINT,
    revoked_by TEXT
);
