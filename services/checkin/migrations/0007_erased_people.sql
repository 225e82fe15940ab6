-- The person ids of erased people, as keyed hashes (HMAC-SHA256 under a key derived from the
-- service's dead-letter key; never the ids themselves), each with when the person was
-- (last) erased, so that a submitted check-in of theirs consumed again after the erasure (a
-- backlog after an outage, a replay of `wellbeing.checkins.submitted`) is skipped instead of
-- being stored again under a new subject id; one produced after the erasure (the Kafka
-- record's timestamp later than erased_at) is a new check-in and recorded. A row is deleted
-- once the topics that could still carry such a record have dropped it (expires_at; the
-- check-in service's erased-ids expiry deletes it hourly). Nothing here says whom the
-- erasures concerned without the key. (kinship_runtime.erased_ids; decision 80.)
CREATE TABLE erased_ids (
    digest bytea PRIMARY KEY,
    erased_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX erased_ids_expires_at ON erased_ids (expires_at);
