-- Job lifecycle: every job has a deadline, and devices record what their agent runs.
--
-- The time by which a job must have finished (unix ms); past it the sweeper expires it in
-- any unfinished state. Jobs queued before this migration get a day from their creation,
-- so a queued job left over from long ago expires at the first sweep after the upgrade.
ALTER TABLE jobs ADD COLUMN deadline_at BIGINT NOT NULL DEFAULT 0;
UPDATE jobs SET deadline_at = created_at + 86400000;
-- What the device's agent said at its last check-in, as JSON arrays of names. NULL: it said
-- nothing (an agent from before advertising), and is taken to run the original job kinds.
ALTER TABLE devices ADD COLUMN agent_job_kinds TEXT;
ALTER TABLE devices ADD COLUMN agent_report_sections TEXT;
