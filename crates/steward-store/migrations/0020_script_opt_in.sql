-- Whether a device's agent said, at its last check-in, that its own configuration allows
-- scripts (`allow_scripts` in the agent.toml on the device). Shown in the console and used
-- to refuse a run no agent would accept; the agent decides again at every run, whatever
-- this says. 0 until an agent says otherwise.
ALTER TABLE devices ADD COLUMN agent_scripts_allowed BIGINT NOT NULL DEFAULT 0;
