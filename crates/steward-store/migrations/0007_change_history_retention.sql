-- Change history is pruned by age (retention setting, default one year): find old rows
-- without scanning the table while the writer is held.
CREATE INDEX device_changes_at ON device_changes(at);
