-- Expiring jobs (dispatch::spawn_poller, Store::expire_jobs) looks up unfinished jobs by state
-- and age; the jobs table keeps every job's history, so without an index that is a full scan.
CREATE INDEX jobs_state_updated ON jobs(state, updated_at);
