-- The subject ids of erased people, as keyed hashes (HMAC-SHA256 under a key derived from
-- the service's dead-letter key; never the ids themselves), so that a check-in about an
-- erased person consumed only after their erasure (a backlog after an outage, a replay of
-- wellbeing.checkins.recorded or .urgent) is skipped instead of being observed again under
-- its subject id (and perhaps opening a case about them). A row is deleted once those topics
-- have dropped such check-ins (expires_at; the service's erased-ids expiry deletes it
-- hourly). Nothing here says which subject ids the erasures concerned without the key.
CREATE TABLE erased_ids (
    digest bytea PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX erased_ids_expires_at ON erased_ids (expires_at);
