-- Agent credential rotation: the hash of a credential issued but not yet used. The device's
-- next request with it promotes it to credential_hash; until then the old one still works,
-- so an agent that crashes between receiving and storing the new credential is not locked out.
ALTER TABLE devices ADD COLUMN pending_credential_hash TEXT;
-- The rotation job the last credential was issued for: one credential per job, so a stolen
-- credential cannot mint new ones outside an administrator's rotation.
ALTER TABLE devices ADD COLUMN credential_job_id TEXT;
