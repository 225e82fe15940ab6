-- What erasures removed, as keyed hashes (HMAC-SHA256 under keys derived from the service's
-- dead-letter key; never the ids themselves), so that a request about an erased person
-- consumed only after the erasure (a backlog after an outage, a consumer-group reset or a
-- replay of notifications.requests) is not stored again as a delivery naming them:
-- - subject ids (erased_at NULL): a request addressed to one is skipped;
-- - person ids (`person:<id>` under a key of their own, with when the person was (last)
--   erased here): a request addressed to them whose Kafka record was produced at or before
--   that time is queued without its recipient, so it fails at once.
-- A row is deleted once the topic can no longer serve such a request (expires_at; the
-- service's erased-ids expiry deletes it hourly). Nothing here says which ids the erasures
-- concerned without the keys. (kinship_runtime.erased_ids; decision 84.)
CREATE TABLE erased_ids (
    digest bytea PRIMARY KEY,
    expires_at timestamptz NOT NULL,
    erased_at timestamptz
);
CREATE INDEX erased_ids_expires_at ON erased_ids (expires_at);
