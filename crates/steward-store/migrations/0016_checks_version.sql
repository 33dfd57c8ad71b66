-- A device's check states change rarely (a steady OK writes nothing), yet every check-in
-- judges them. `checks_version` counts the changes to a device's check states; it is read
-- with the device at every check-in, so a server can keep a device's states in memory and
-- read them again only when the count moved (another server judged it, a sweep marked its
-- heartbeat missed, someone acknowledged a problem).
ALTER TABLE devices ADD COLUMN checks_version BIGINT NOT NULL DEFAULT 0;
