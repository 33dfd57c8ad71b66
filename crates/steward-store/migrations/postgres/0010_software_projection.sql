-- The inventory hash that a device's rows in device_software reflect. A large software
-- change is written after the ingest commit, in short steps, so that it never holds the
-- database writer for long; until the last step this differs from inventory_hash, and the
-- next ingest rewrites the list in full. Existing lists are in step.
ALTER TABLE devices ADD COLUMN software_hash TEXT NOT NULL DEFAULT '';
UPDATE devices SET software_hash = inventory_hash;
