-- The inventory hash that a device's rows in device_software reflect. A large software
-- change is written after the ingest commit, in short steps, so that it never holds the
-- database writer for long; until the last step this differs from inventory_hash, and the
-- next ingest rewrites the list in full. Existing lists are in step.
ALTER TABLE devices ADD COLUMN software_hash TEXT NOT NULL DEFAULT '';
UPDATE devices SET software_hash = inventory_hash;
-- Bumped by every commit that starts a stepped write: each step checks it, so an older
-- writer for the same device stops as soon as a newer one has begun.
ALTER TABLE devices ADD COLUMN software_gen BIGINT NOT NULL DEFAULT 0;
