-- Resumable operations. params is what an operation was asked to do and what
-- it has built so far (JSON, its shape set by the operation's kind); step is
-- the last point it made durable. A restarted broker reads both, with the
-- nodes' real state, to finish the operation or roll it back.
ALTER TABLE operations ADD COLUMN params TEXT NOT NULL DEFAULT '{}';
ALTER TABLE operations ADD COLUMN step TEXT NOT NULL DEFAULT '';

-- A second password the customer's user accepts while a credential rotation
-- is under way: the new one until the rotation commits, then the old one
-- until every node has dropped it. Empty outside a rotation.
ALTER TABLE addons ADD COLUMN customer_password_alt TEXT NOT NULL DEFAULT '';
