-- Several servers share the checks and the notification outbox through leases. A lease now
-- names its holder (one id per server process) and when it was taken, so that a server can
-- renew the leases of the work it still has in hand with one statement, and keep the lease
-- itself short: when a server dies, what it held lapses to the others within that lease.
-- `claimed_at` caps the renewals (work held too long — a task that died without releasing
-- it — lapses even while its server lives).
ALTER TABLE check_state ADD COLUMN lease_holder TEXT NOT NULL DEFAULT '';
ALTER TABLE check_state ADD COLUMN claimed_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE notifications ADD COLUMN lease_holder TEXT NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN claimed_at BIGINT NOT NULL DEFAULT 0;
