-- Whether a device's agent said, at its last check-in, that its own configuration allows
-- scripts (`allow_scripts` in the agent.toml on the device). Shown in the console and used
-- to refuse a run no agent would accept; the agent decides again at every run, whatever
-- this says. 0 until an agent says otherwise.
ALTER TABLE devices ADD COLUMN agent_scripts_allowed BIGINT NOT NULL DEFAULT 0;

-- One update install at a time per device: two would fight over the package manager's lock
-- and the second would fail. A partial unique index, so that two servers (or a person and
-- the policy scheduler) queueing at the same moment cannot both succeed.
CREATE UNIQUE INDEX jobs_one_install_per_device ON jobs (device_id)
    WHERE kind = 'install_updates' AND state IN ('queued', 'dispatched', 'running');
