-- Where the broker is in each agent's event stream, so a restarted broker
-- gets only the events it has not seen.
ALTER TABLE hosts ADD COLUMN event_boot TEXT NOT NULL DEFAULT '';
ALTER TABLE hosts ADD COLUMN event_seq BIGINT NOT NULL DEFAULT 0;
