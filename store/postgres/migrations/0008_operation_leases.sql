-- Operation leases: an unfinished operation is run by one broker at a time.
-- owner is that broker's identity (random per process), lease_until when its
-- lease ends unless renewed; another broker takes the operation over only
-- once the owner is '' (released) or the lease has ended. The default sorts
-- before every real instant.
ALTER TABLE operations ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE operations ADD COLUMN lease_until TIMESTAMPTZ NOT NULL DEFAULT '0001-01-01 00:00:00+00';
CREATE INDEX operations_owner ON operations(owner);
