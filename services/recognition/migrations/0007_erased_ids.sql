-- The subject ids of erased people, as keyed hashes (HMAC-SHA256 under a key derived from
-- the service's dead-letter key; never the ids themselves), so that an event about an erased
-- person consumed only after their erasure (a backlog after an outage, a replay of a topic)
-- is skipped instead of being stored again under its original ids. A row is deleted once
-- the topics that could still carry such an event have dropped it (expires_at; the
-- recognition service's erased-ids expiry deletes it hourly). Nothing here says which
-- subject ids the erasures concerned without the key.
CREATE TABLE erased_ids (
    digest bytea PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX erased_ids_expires_at ON erased_ids (expires_at);
